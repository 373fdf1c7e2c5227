"""What every sink shares for one run: settings, mapping, one client, one ledger, one report."""

from __future__ import annotations

import logging
import time
from collections import abc
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from target_brevo_tajo.client import BrevoClient, BrevoError

if TYPE_CHECKING:
    from mixpanel_brevo_mapping import Mapping
    from target_brevo_tajo.contact_writer import ContactWriter
    from target_brevo_tajo.ledger import Ledger
    from target_brevo_tajo.list_sync import ListSync
    from target_brevo_tajo.report import SyncReport

ALL_USERS_LIST = "all_users"
DEFAULT_FOLDER_NAME = "Mixpanel"
DEFAULT_LIST_NAME = "Mixpanel users"
PROCESS_DONE = frozenset({"completed"})
PROCESS_FAILED = frozenset({"failed", "cancelled"})


# Brevo's documented caps (reference/brevo-api.md sections 2 and 4): a setting above one would
# fail every call it shapes, so it is refused at start-up instead.
DOCUMENTED_CAPS: dict[str, tuple[int, str]] = {
    "events_batch_size": (200, "events per POST /events/batch call"),
    "events_batch_max_bytes": (524_288, "bytes (512 KB) per POST /events/batch body"),
    "contacts_import_max_bytes": (10_000_000, "bytes (10 MB) per POST /contacts/import body"),
}


class SettingsError(ValueError):
    """A setting value the target cannot run with; the message is one line saying what to do."""


@dataclass(frozen=True)
class Settings:
    """The target settings the sinks read, typed once."""

    dry_run: bool = False
    anonymous_events: Literal["skip", "send"] = "skip"
    events_batch_size: int = 200
    events_batch_max_bytes: int = 524_288
    create_missing_attributes: bool = False
    contacts_import_max_bytes: int = 8_000_000
    deletion_policy: Literal["keep", "unlist", "delete"] = "keep"
    import_poll_seconds: float = 5.0
    import_timeout_seconds: float = 3600.0
    cohort_sync_mode: Literal["mirror", "additive"] = "mirror"
    cohort_list_folder: str = "Mixpanel cohorts"
    list_reconcile_days: float = 7.0

    @classmethod
    def from_config(cls, config: abc.Mapping[str, Any]) -> Settings:
        """The settings of a validated config, each as its field's type.

        The SDK reads JSON numbers from a config file as Decimal: numbers become the int or
        float the field declares. A setting left null keeps the default.
        """
        types = get_type_hints(cls)
        values = {}
        for name in cls.__dataclass_fields__:
            value = config.get(name)
            if value is None:
                continue
            kind = types[name]
            values[name] = kind(value) if kind in (int, float, bool) else value
        for name, (cap, unit) in DOCUMENTED_CAPS.items():
            if values.get(name, 0) > cap:
                msg = (
                    f"{name} is {values[name]}, above Brevo's documented cap of {cap} {unit}; "
                    f"set it to {cap} or less"
                )
                raise SettingsError(msg)
        return cls(**values)


@dataclass
class Services:
    """Built once per run by the target and handed to every sink."""

    settings: Settings
    mapping: Mapping
    client: BrevoClient
    ledger: Ledger
    report: SyncReport
    logger: logging.Logger
    full_refresh_ids: set[str] = field(default_factory=set)
    _list_ids: list[int] | None = None

    @cached_property
    def contacts(self) -> ContactWriter:
        """Writes contacts for the profiles and cohort sinks (attributes read on first use)."""
        from target_brevo_tajo.contact_writer import ContactWriter  # noqa: PLC0415 (cycle)

        return ContactWriter(self)

    @cached_property
    def lists(self) -> ListSync:
        """Cohort memberships into Brevo lists."""
        from target_brevo_tajo.list_sync import ListSync  # noqa: PLC0415 (cycle)

        return ListSync(self)

    def contact_list_ids(self) -> list[int]:
        """The list every synced contact joins: the mapping's ``lists.all_users``.

        Brevo's import needs a list. Without ``all_users`` a "Mixpanel users" list (in a
        "Mixpanel" folder) is found or created once.
        """
        if self._list_ids is None:
            configured = self.mapping.mixpanel.lists.get(ALL_USERS_LIST)
            self._list_ids = (
                [configured]
                if configured
                else [self.find_or_create_list(DEFAULT_LIST_NAME, DEFAULT_FOLDER_NAME)]
            )
        return self._list_ids

    def find_or_create_list(self, name: str, folder_name: str) -> int:
        """The id of the list called ``name`` (created in folder ``folder_name`` if missing)."""
        found = self._find_by_name("/contacts/lists", "lists", name)
        if found is not None:
            return found
        if self.settings.dry_run:
            return 0
        folder = self._find_by_name("/contacts/folders", "folders", folder_name)
        if folder is None:
            folder = int(
                self.client.call("POST", "/contacts/folders", json={"name": folder_name})["id"]
            )
        created = self.client.call(
            "POST", "/contacts/lists", json={"name": name, "folderId": folder}
        )
        self.logger.info("Created Brevo list %r (id %s)", name, created["id"])
        return int(created["id"])

    def _find_by_name(self, path: str, key: str, name: str) -> int | None:
        offset = 0
        while True:
            page = self.client.call("GET", path, params={"limit": 50, "offset": offset})
            items = page.get(key) or []
            for item in items:
                if item.get("name") == name:
                    return int(item["id"])
            if len(items) < 50:
                return None
            offset += 50

    def await_process(self, process_id: int) -> dict[str, Any]:
        """Wait for a Brevo background process (an import) to finish, polling sparingly.

        ``/processes`` sits in Brevo's 100-requests-an-hour bucket: polls start after
        ``import_poll_seconds`` and the wait doubles up to a minute.
        """
        wait = self.settings.import_poll_seconds
        deadline = time.monotonic() + self.settings.import_timeout_seconds
        while True:
            self.client.sleep(wait)
            process = self.client.call("GET", f"/processes/{process_id}")
            status = str(process.get("status", "")).lower()
            if status in PROCESS_DONE:
                return process
            if status in PROCESS_FAILED:
                msg = f"Brevo import process {process_id} ended {status}: {process.get('error')}"
                raise BrevoError(msg)
            if time.monotonic() > deadline:
                msg = (
                    f"Brevo import process {process_id} still {status} after "
                    f"{self.settings.import_timeout_seconds:.0f}s; rerun later (imports are "
                    "upserts, and unconfirmed contacts are sent again)"
                )
                raise BrevoError(msg)
            wait = min(wait * 2, 60.0)

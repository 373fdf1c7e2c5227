"""The Brevo account's contact attributes: read once a run, created when missing and allowed."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.brevo import BrevoClient, BrevoError, CallInDoubt
from target_brevo_tajo.contacts.attributes import AttributeType, infer_type
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings


class MissingAttributes(BrevoError):
    """Mapped attributes the account lacks while ``create_missing_attributes`` is off."""


class AccountAttributes:
    """The account's contact attributes, read before the first contact write of a run.

    Brevo drops unknown attributes without a word, so a mapped attribute the account lacks is
    either created (``create_missing_attributes``) or stops the run before any contact is
    written, naming every missing one.
    """

    def __init__(self, client: BrevoClient, settings: Settings, report: SyncReport) -> None:
        self._client = client
        self._settings = settings
        self._report = report.contacts
        self._types: dict[str, AttributeType] | None = None

    def _load(self) -> dict[str, AttributeType]:
        if self._types is None:
            listed = self._client.call("GET", "/contacts/attributes")
            self._types = {
                str(item["name"]).upper(): AttributeType(
                    name=str(item["name"]).upper(),
                    type=str(item.get("type") or "text"),
                    category=str(item.get("category") or "normal"),
                    enumeration=tuple(
                        (int(option["value"]), str(option["label"]))
                        for option in item.get("enumeration") or []
                    ),
                )
                for item in listed.get("attributes", [])
            }
        return self._types

    def get(self, name: str) -> AttributeType | None:
        """The attribute's type, or None when it does not exist (and will not be created)."""
        return self._load().get(name)

    def ensure(self, samples: dict[str, Any]) -> None:
        """Create the mapped attributes the account lacks, or stop; ``samples`` by name."""
        types = self._load()
        report = self._report
        missing = [name for name in samples if name not in types]
        if missing and not self._settings.create_missing_attributes:
            report.missing_attributes.extend(
                n for n in missing if n not in report.missing_attributes
            )
            msg = (
                f"the Brevo account has no contact attribute {', '.join(missing)}, which the "
                "mapping fills: create them in Brevo (Contacts > Settings > Contact attributes), "
                "or set create_missing_attributes: true"
            )
            raise MissingAttributes(msg)
        for name in missing:
            kind = infer_type(samples[name])
            if self._settings.dry_run:  # typed as it would be, nothing created
                types[name] = AttributeType(name=name, type=kind)
                report.created_attributes.append(f"{name} ({kind}, dry run: not created)")
                continue
            self._create(name, kind)
            types[name] = AttributeType(name=name, type=kind)
            report.created_attributes.append(f"{name} ({kind})")

    def _create(self, name: str, kind: str) -> None:
        """Create an attribute once: after an answer that never came, look before again."""
        path = f"/contacts/attributes/normal/{name}"
        try:
            self._client.call("POST", path, json={"type": kind})
        except CallInDoubt:
            listed = self._client.call("GET", "/contacts/attributes").get("attributes") or []
            if not any(str(item.get("name")).upper() == name for item in listed):
                self._client.call("POST", path, json={"type": kind})

"""Brevo lists, folders and list membership, in Brevo's units.

Membership changes go by ``extIds`` (or ``emails``) in calls of at most 150 ids; member pages hold
at most 500 contacts, list and folder pages 50 (reference/brevo-api.md section 3). Brevo answers
400 "Contact already in list and/or does not exist" when a call changed nothing: for an add, the
caller decides (the contacts path creates those missing); for a remove, the work is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from target_brevo_tajo.brevo.client import BrevoClient, ok_json
from target_brevo_tajo.brevo.paging import offset_pages

LIST_CALL_MAX = 150
MEMBERS_PAGE = 500
NAMES_PAGE = 50

logger = logging.getLogger("target-brevo-tajo")
Done = Callable[[list[str]], None]


def _ignore(_ids: list[str]) -> None:
    """No bookkeeping after a call."""


class BrevoLists:
    """Finds and creates lists, changes and reads their members; a dry run writes nothing."""

    def __init__(self, client: BrevoClient, *, dry_run: bool) -> None:
        self._client = client
        self._dry_run = dry_run
        self._planned: dict[str, int] = {}  # a dry run's lists to create: 0, -1, -2...
        # A dry run's membership changes by list (added, removed): its later reads see them.
        self._changes: dict[int, tuple[set[str], set[str]]] = {}

    def find_or_create(self, name: str, folder_name: str) -> int:
        """The id of the list called ``name``, created in folder ``folder_name`` if missing.

        A dry run creates nothing and answers 0 for the first list that does not exist yet, then
        -1, -2...: each list it would create keeps its own members.
        """
        found = self._find_by_name("/contacts/lists", "lists", name)
        if found is not None:
            return found
        if self._dry_run:
            return self._planned.setdefault(name, -len(self._planned))
        folder = self._find_by_name("/contacts/folders", "folders", folder_name)
        if folder is None:
            folder = int(
                self._client.call("POST", "/contacts/folders", json={"name": folder_name})["id"]
            )
        created = self._client.call(
            "POST", "/contacts/lists", json={"name": name, "folderId": folder}
        )
        logger.info("Created Brevo list %r (id %s)", name, created["id"])
        return int(created["id"])

    def _find_by_name(self, path: str, key: str, name: str) -> int | None:
        for page in offset_pages(self._client, path, key, limit=NAMES_PAGE):
            for item in page:
                if item.get("name") == name:
                    return int(item["id"])
        return None

    def add(self, list_id: int, ext_ids: list[str], on_added: Done = _ignore) -> list[str]:
        """Add existing contacts by ext_id; returns those Brevo could not add.

        ``on_added`` gets each call's added ids as soon as Brevo confirmed them.
        """
        failed: list[str] = []
        if self._dry_run:  # taken as added: the dry run's ledger is a private copy
            self.plan_joined([list_id], ext_ids)
            on_added(ext_ids)
            return failed
        for chunk in _chunks(ext_ids):
            response = self._client.request(
                "POST", f"/contacts/lists/{list_id}/contacts/add", json={"extIds": chunk}
            )
            if response.status_code == 400:
                failed += chunk  # none added: not contacts yet, or already in the list
                continue
            refused = {
                str(x) for x in (ok_json(response).get("contacts") or {}).get("failure") or []
            }
            failed += [d for d in chunk if d in refused]
            on_added([d for d in chunk if d not in refused])
        return failed

    def remove(
        self, list_id: int, ids: list[str], on_removed: Done = _ignore, *, by: str = "extIds"
    ) -> None:
        """Remove contacts by ext_id (or ``by="emails"``); ``on_removed`` gets each call's ids."""
        if self._dry_run:  # taken as removed
            added, removed = self._changes.setdefault(list_id, (set(), set()))
            added.difference_update(ids)
            removed.update(ids)
            on_removed(ids)
            return
        for chunk in _chunks(ids):
            response = self._client.request(
                "POST", f"/contacts/lists/{list_id}/contacts/remove", json={by: chunk}
            )
            if response.status_code != 400:  # 400: none of them was in the list any more
                ok_json(response)
            on_removed(chunk)

    def plan_joined(self, list_ids: list[int], ext_ids: list[str]) -> None:
        """A dry run's contacts that would join these lists (by a list call or an import)."""
        for list_id in list_ids:
            added, removed = self._changes.setdefault(list_id, (set(), set()))
            added.update(ext_ids)
            removed.difference_update(ext_ids)

    def members(self, list_id: int) -> tuple[set[str], list[str]]:
        """The list's members: their ext_ids, and the emails of members without one.

        A dry run reads them as Brevo would hold them after its own changes.
        """
        ext_ids, emails = self._read_members(list_id)
        if not self._dry_run:
            return ext_ids, emails
        added, removed = self._changes.get(list_id, (set(), set()))
        return (ext_ids | added) - removed, [e for e in emails if e not in removed]

    def _read_members(self, list_id: int) -> tuple[set[str], list[str]]:
        ext_ids: set[str] = set()
        emails: list[str] = []
        if list_id in self._planned.values():
            return ext_ids, emails  # a list a dry run would create: Brevo has none yet
        path = f"/contacts/lists/{list_id}/contacts"
        for page in offset_pages(self._client, path, "contacts", limit=MEMBERS_PAGE):
            for contact in page:
                ext_id = (contact.get("attributes") or {}).get("EXT_ID")
                if ext_id:
                    ext_ids.add(str(ext_id))
                elif contact.get("email"):
                    emails.append(str(contact["email"]))
        return ext_ids, emails


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[start : start + LIST_CALL_MAX] for start in range(0, len(ids), LIST_CALL_MAX)]

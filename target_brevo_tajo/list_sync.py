"""Mixpanel cohorts -> Brevo lists: only membership changes travel.

Members are added as they arrive (a member who is not a Brevo contact yet is created through
the contacts path, joining the list in the same import); members of a cohort whose record has
not arrived yet wait for it (the tap syncs ``cohort_members`` before ``cohorts``: streams go in
name order). Removals wait for the end of the run and happen only in ``mirror`` mode, and only
for cohorts whose snapshot a ``sync_checkpoints`` record confirms complete: a cohort cut short
by a failure never empties a list. Every
``list_reconcile_days`` the list is read back from Brevo and drift made by hand is repaired.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mixpanel_brevo_mapping import CohortRef, CohortSelection, list_id_of, sync_mode_of
from target_brevo_tajo.client import ok_json

if TYPE_CHECKING:
    from target_brevo_tajo.services import Services

LIST_CALL_MAX = 150  # Brevo's cap on ids per add/remove call
LIST_PAGE = 500  # Brevo's cap on contacts per list page


@dataclass
class CohortSync:
    """One cohort's sync in this run, and its line in the report."""

    cohort_id: int
    name: str
    mode: str
    configured_list_id: int | None
    list_id: int | None = None
    members: set[str] = field(default_factory=set)
    snapshot_id: str | None = None
    added: int = 0
    removed: int = 0
    created_contacts: int = 0
    reconciled: bool = False
    repaired: int = 0
    complete: bool = False

    def to_dict(self, synced: int) -> dict[str, Any]:
        """The seed's shape (cohortName, membersCount, syncedToBrevo, listId) plus the changes."""
        return {
            "cohortId": self.cohort_id,
            "cohortName": self.name,
            "membersCount": len(self.members),
            "syncedToBrevo": synced,
            "listId": self.list_id,
            "syncMode": self.mode,
            "added": self.added,
            "removed": self.removed,
            "createdContacts": self.created_contacts,
            "snapshotComplete": self.complete,
            "reconciled": self.reconciled,
            "repaired": self.repaired,
        }


class ListSync:
    """Keeps each synced cohort's Brevo list equal to (mirror) or a superset of the cohort."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.cohorts: dict[int, CohortSync] = {}
        self.snapshot_ids: set[str] = set()  # carried by this run's member records
        self.waiting: dict[int, list[dict[str, Any]]] = {}  # members of undescribed cohorts

    # Cohorts ------------------------------------------------------------------------------

    def register(self, record: dict[str, Any]) -> None:
        """A cohort to sync, as the tap's ``cohorts`` stream describes it.

        Its list and sync mode come from the mapping, through the key that selected the cohort.
        """
        cohort_id = int(record["id"])
        name = str(record.get("name") or cohort_id)
        selection = CohortSelection(CohortRef(cohort_id, name), record.get("mapping_key"))
        mapping = self.services.mapping
        self.cohorts[cohort_id] = CohortSync(
            cohort_id=cohort_id,
            name=name,
            mode=sync_mode_of(mapping, selection) or self.services.settings.cohort_sync_mode,
            configured_list_id=list_id_of(mapping, selection),
        )

    def _list_of(self, cohort: CohortSync) -> int:
        """The cohort's list: from the mapping, else the one created for it earlier, else new."""
        if cohort.list_id is not None:
            return cohort.list_id
        ledger = self.services.ledger
        known = ledger.cohort_list(cohort.cohort_id)
        if cohort.configured_list_id is not None:
            cohort.list_id = int(cohort.configured_list_id)
        elif known is not None:
            cohort.list_id = known[0]
        else:
            cohort.list_id = self.services.find_or_create_list(
                cohort.name, self.services.settings.cohort_list_folder
            )
        if known is None or known[0] != cohort.list_id:
            ledger.save_cohort_list(cohort.cohort_id, cohort.list_id, cohort.name)
        return cohort.list_id

    # Members ------------------------------------------------------------------------------

    def add_members(self, cohort_id: int, records: list[dict[str, Any]]) -> None:
        """Add the batch's members that the list lacks; create those not yet contacts.

        Members of a cohort not described yet wait for its record (:meth:`add_waiting`).
        """
        cohort = self.cohorts.get(cohort_id)
        if cohort is None:
            self.waiting.setdefault(cohort_id, []).extend(records)
            return
        cohort.members.update(str(r["distinct_id"]) for r in records)
        self.snapshot_ids.update(str(r["snapshot_id"]) for r in records if r.get("snapshot_id"))
        list_id = self._list_of(cohort)
        ledger = self.services.ledger
        in_list = ledger.list_members(list_id, among=(str(r["distinct_id"]) for r in records))
        missing = [r for r in records if str(r["distinct_id"]) not in in_list]
        if not missing:
            return
        contacts = ledger.contacts_by_id(str(r["distinct_id"]) for r in missing)
        to_create = [r for r in missing if str(r["distinct_id"]) not in contacts]
        existing = [str(r["distinct_id"]) for r in missing if str(r["distinct_id"]) in contacts]
        not_added = set(self._add(list_id, existing))
        to_create += [r for r in missing if str(r["distinct_id"]) in not_added]
        if to_create:
            self._create_in_list(cohort, list_id, to_create)
        cohort.added += len(missing)

    def _create_in_list(self, cohort: CohortSync, list_id: int, records: list[dict]) -> None:
        """Members Brevo does not know as contacts: created through the contacts path."""
        self.services.contacts.write(records, extra_list_ids=(list_id,))
        cohort.created_contacts += len(records)
        self.services.ledger.add_list_members(list_id, (str(r["distinct_id"]) for r in records))

    def _add(self, list_id: int, ids: list[str]) -> list[str]:
        """Add existing contacts by ext_id; returns those Brevo could not add."""
        failed: list[str] = []
        if self.services.settings.dry_run:
            return failed
        for start in range(0, len(ids), LIST_CALL_MAX):
            chunk = ids[start : start + LIST_CALL_MAX]
            response = self.services.client.request(
                "POST", f"/contacts/lists/{list_id}/contacts/add", json={"extIds": chunk}
            )
            if response.status_code == 400:
                # "Contact already in list and/or does not exist": the contacts path settles it.
                failed += chunk
                continue
            body = ok_json(response)
            refused = {str(x) for x in (body.get("contacts") or {}).get("failure") or []}
            failed += [d for d in chunk if d in refused]
            self.services.ledger.add_list_members(list_id, [d for d in chunk if d not in refused])
        return failed

    def _remove(self, list_id: int, ids: list[str]) -> None:
        if self.services.settings.dry_run:
            return
        for start in range(0, len(ids), LIST_CALL_MAX):
            chunk = ids[start : start + LIST_CALL_MAX]
            response = self.services.client.request(
                "POST", f"/contacts/lists/{list_id}/contacts/remove", json={"extIds": chunk}
            )
            if response.status_code != 400:  # 400: none of them was in the list any more
                ok_json(response)
            self.services.ledger.remove_list_members(list_id, chunk)

    def add_waiting(self) -> None:
        """Add the waiting members of the cohorts described since they arrived."""
        for cohort_id in [c for c in self.waiting if c in self.cohorts]:
            self.add_members(cohort_id, self.waiting.pop(cohort_id))

    # End of run ---------------------------------------------------------------------------

    def finish(self, confirmed: Mapping[int, str]) -> None:
        """Mirror removals and reconciliation, for cohorts whose snapshot is confirmed.

        ``confirmed`` maps cohort ids to the snapshot ids that ``sync_checkpoints`` records
        confirm complete; a cohort is complete when this run's member records carried that id
        (a checkpoint of another run proves nothing).
        """
        self.add_waiting()
        for cohort_id, records in self.waiting.items():
            for record in records:
                self.services.report.reject(
                    "cohort_members",
                    f"cohort {cohort_id} was not described by the cohorts stream",
                    record,
                )
        self.waiting.clear()
        for cohort in self.cohorts.values():
            cohort.snapshot_id = confirmed.get(cohort.cohort_id)
            cohort.complete = cohort.snapshot_id in self.snapshot_ids
            if not cohort.complete:
                continue
            list_id = self._list_of(cohort)
            if self._reconcile_due(cohort):
                self._reconcile(cohort, list_id)
            elif cohort.mode == "mirror":
                gone = sorted(self.services.ledger.list_members(list_id) - cohort.members)
                self._remove(list_id, gone)
                cohort.removed += len(gone)

    def _reconcile_due(self, cohort: CohortSync) -> bool:
        known = self.services.ledger.cohort_list(cohort.cohort_id)
        if known is None or known[1] is None:
            return True
        days = self.services.settings.list_reconcile_days
        return known[1] <= dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)

    def _reconcile(self, cohort: CohortSync, list_id: int) -> None:
        """Read the list back from Brevo and repair what was changed there by hand."""
        by_ext_id, by_email_only = self._read_list(list_id)
        ledger = self.services.ledger
        missing = sorted(cohort.members - by_ext_id)
        extra = sorted(by_ext_id - cohort.members) if cohort.mode == "mirror" else []
        strangers = by_email_only if cohort.mode == "mirror" else []
        ledger.remove_list_members(list_id, ledger.list_members(list_id) - by_ext_id)
        ledger.add_list_members(list_id, by_ext_id & cohort.members)
        not_added = self._add(list_id, missing)
        if not_added:
            records = [{"distinct_id": d, "properties": {}} for d in not_added]
            self._create_in_list(cohort, list_id, records)
        self._remove(list_id, extra)
        if strangers and not self.services.settings.dry_run:
            for start in range(0, len(strangers), LIST_CALL_MAX):
                self.services.client.request(
                    "POST",
                    f"/contacts/lists/{list_id}/contacts/remove",
                    json={"emails": strangers[start : start + LIST_CALL_MAX]},
                )
        cohort.repaired += len(missing) + len(extra) + len(strangers)
        cohort.removed += len(extra) + len(strangers)
        cohort.reconciled = True
        ledger.mark_reconciled(cohort.cohort_id)

    def _read_list(self, list_id: int) -> tuple[set[str], list[str]]:
        """The list's members: ext_ids, and emails of members that have no ext_id."""
        ext_ids: set[str] = set()
        emails: list[str] = []
        offset = 0
        while True:
            page = (
                self.services.client.call(
                    "GET",
                    f"/contacts/lists/{list_id}/contacts",
                    params={"limit": LIST_PAGE, "offset": offset},
                ).get("contacts")
                or []
            )
            for contact in page:
                ext_id = (contact.get("attributes") or {}).get("EXT_ID")
                if ext_id:
                    ext_ids.add(str(ext_id))
                elif contact.get("email"):
                    emails.append(str(contact["email"]))
            if len(page) < LIST_PAGE:
                return ext_ids, emails
            offset += LIST_PAGE

    def report(self) -> list[dict[str, Any]]:
        """One line per cohort, in the seed's shape plus the changes made."""
        ledger = self.services.ledger
        return [
            cohort.to_dict(len(ledger.list_members(cohort.list_id)) if cohort.list_id else 0)
            for cohort in self.cohorts.values()
        ]

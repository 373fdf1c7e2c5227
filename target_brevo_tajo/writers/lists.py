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
from typing import Any

from mixpanel_brevo_mapping import CohortRef, CohortSelection, list_id_of, sync_mode_of
from mixpanel_brevo_mapping import Mapping as MappingFile
from target_brevo_tajo.brevo import BrevoLists
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings
from target_brevo_tajo.writers.contacts import ContactWriter


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


class ListWriter:
    """Keeps each synced cohort's Brevo list equal to (mirror) or a superset of the cohort."""

    def __init__(
        self,
        *,
        lists: BrevoLists,
        contacts: ContactWriter,
        ledger: Ledger,
        mapping: MappingFile,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._lists = lists
        self._contacts = contacts
        self._ledger = ledger
        self._mapping = mapping
        self._settings = settings
        self._report = report
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
        mapping = self._mapping
        self.cohorts[cohort_id] = CohortSync(
            cohort_id=cohort_id,
            name=name,
            mode=sync_mode_of(mapping, selection) or self._settings.cohort_sync_mode,
            configured_list_id=list_id_of(mapping, selection),
        )

    def _list_of(self, cohort: CohortSync) -> int:
        """The cohort's list: from the mapping, else the one created for it earlier, else new."""
        if cohort.list_id is not None:
            return cohort.list_id
        ledger = self._ledger
        known = ledger.cohort_list(cohort.cohort_id)
        if cohort.configured_list_id is not None:
            cohort.list_id = int(cohort.configured_list_id)
        elif known is not None:
            cohort.list_id = known[0]
        else:
            cohort.list_id = self._lists.find_or_create(
                cohort.name, self._settings.cohort_list_folder
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
        ledger = self._ledger
        in_list = ledger.list_members(list_id, among=(str(r["distinct_id"]) for r in records))
        missing = [r for r in records if str(r["distinct_id"]) not in in_list]
        self._report.cohort_members.already_in_list += len(records) - len(missing)
        self._report.cohort_members.added += len(missing)
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
        self._contacts.write(records, extra_list_ids=(list_id,))
        cohort.created_contacts += len(records)
        self._ledger.add_list_members(list_id, (str(r["distinct_id"]) for r in records))

    def _add(self, list_id: int, ids: list[str]) -> list[str]:
        """Add existing contacts; returns those Brevo could not add (the contacts path will)."""
        return self._lists.add(
            list_id, ids, on_added=lambda added: self._ledger.add_list_members(list_id, added)
        )

    def _remove(self, list_id: int, ids: list[str]) -> None:
        self._lists.remove(
            list_id, ids, on_removed=lambda gone: self._ledger.remove_list_members(list_id, gone)
        )

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
                self._report.cohort_members.rejected += 1
                self._report.reject(
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
                gone = sorted(self._ledger.list_members(list_id) - cohort.members)
                self._remove(list_id, gone)
                cohort.removed += len(gone)

    def _reconcile_due(self, cohort: CohortSync) -> bool:
        known = self._ledger.cohort_list(cohort.cohort_id)
        if known is None or known[1] is None:
            return True
        days = self._settings.list_reconcile_days
        return known[1] <= dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)

    def _reconcile(self, cohort: CohortSync, list_id: int) -> None:
        """Read the list back from Brevo and repair what was changed there by hand."""
        by_ext_id, by_email_only = self._lists.members(list_id)
        ledger = self._ledger
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
        self._lists.remove(list_id, strangers, by="emails")
        cohort.repaired += len(missing) + len(extra) + len(strangers)
        cohort.removed += len(extra) + len(strangers)
        cohort.reconciled = True
        ledger.mark_reconciled(cohort.cohort_id)

    def report(self) -> list[dict[str, Any]]:
        """One line per cohort, in the seed's shape plus the changes made."""
        ledger = self._ledger
        return [
            cohort.to_dict(len(ledger.list_members(cohort.list_id)) if cohort.list_id else 0)
            for cohort in self.cohorts.values()
        ]

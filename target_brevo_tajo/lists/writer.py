"""Mixpanel cohorts -> Brevo lists: only membership changes travel.

Members are added as they arrive (a member who is not a Brevo contact yet is created through
the contacts path, joining the list in the same import). The tap sends each cohort's record
before its members, so nothing waits in memory: a member of a cohort not described before it is
rejected (:meth:`ListWriter.undescribed`). Removals wait for the end of the run and happen only
in ``mirror`` mode, and only for cohorts whose snapshot a ``sync_checkpoints`` record confirms
complete: a cohort cut short by a failure never empties a list. Every ``list_reconcile_days``
the list is read back from Brevo and drift made by hand is repaired. A list this run created is
not read back at its end: it was empty when Brevo answered its creation, and every change since
is one Brevo confirmed, so the ledger holds it exactly (its reconciliation is due in
``list_reconcile_days``); reading 100,000 members back would take 200 calls more than the 667
that added them.

Brevo's answers decide: an add's failure ids (already in the list, or not a contact) go through
the contacts path, whose import puts them in the list either way. A list read back is matched by
``EXT_ID``, else by Brevo contact id through the ledger; a member neither identifies is never
removed, only counted.

Memory does not grow with a cohort: the run's members and the lists it reads back are rows of
the ledger (:class:`ListLedger`), and removals and repairs are read from it a page at a time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from mixpanel_brevo_mapping import CohortRef, CohortSelection, list_id_of, sync_mode_of
from mixpanel_brevo_mapping import Mapping as MappingFile
from target_brevo_tajo.contacts.ledger import ContactLedger
from target_brevo_tajo.contacts.writer import ContactWriter
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.lists.api import BrevoLists, ListedMember
from target_brevo_tajo.lists.ledger import Listed, ListLedger
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings


@dataclass
class CohortSync:
    """One cohort's sync in this run, and its line in the report."""

    cohort_id: int
    name: str
    mode: str
    configured_list_id: int | None
    list_id: int | None = None
    members: int = 0  # distinct members the run received
    snapshot_id: str | None = None
    added: int = 0
    removed: int = 0
    created_contacts: int = 0
    reconciled: bool = False
    repaired: int = 0
    complete: bool = False
    not_identified: int = 0  # members of the list read back that the run could not identify
    route: str | None = None  # the stream of a routed list (its rows of one run: the snapshot)
    list_created: bool = False  # this run created the list: the ledger knows it exactly

    def to_dict(self, synced: int) -> dict[str, Any]:
        """The seed's shape (cohortName, membersCount, syncedToBrevo, listId) plus the changes."""
        return {
            "cohortId": self.cohort_id,
            "cohortName": self.name,
            "membersCount": self.members,
            "syncedToBrevo": synced,
            "listId": self.list_id,
            "syncMode": self.mode,
            "added": self.added,
            "removed": self.removed,
            "createdContacts": self.created_contacts,
            "snapshotComplete": self.complete,
            "reconciled": self.reconciled,
            "repaired": self.repaired,
            "membersNotIdentified": self.not_identified,
        }


@dataclass
class _Adding:
    """A batch's add calls on their way, and what the contacts path needs of a refused member.

    Only records that carry values are kept (a member's record is rebuilt from its id
    otherwise): two batches wait at once, and memory stays flat.
    """

    cohort: CohortSync
    list_id: int
    refused: Future[list[str]]
    with_values: dict[str, dict[str, Any]]

    def records(self, distinct_ids: set[str]) -> list[dict[str, Any]]:
        """The records of these members, as the contacts path takes them."""
        return [
            self.with_values.get(d) or {"distinct_id": d, "properties": {}}
            for d in sorted(distinct_ids)
        ]


class ListWriter:
    """Keeps each synced cohort's Brevo list equal to (mirror) or a superset of the cohort.

    A batch's add calls go out while the next batch is read and prepared (at most one batch
    waits behind the calls in flight); :meth:`wait_for_calls` returns once Brevo answered them
    all, and the target waits there before each STATE and at the end.
    """

    def __init__(
        self,
        *,
        lists: BrevoLists,
        contacts: ContactWriter,
        ledger: Ledger,
        contact_ledger: ContactLedger,
        mapping: MappingFile,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._lists = lists
        self._contacts = contacts
        self._ledger = ledger
        self._contact_ledger = contact_ledger
        self._mapping = mapping
        self._settings = settings
        self._report = report
        self._store = ListLedger(ledger)
        self.cohorts: dict[int, CohortSync] = {}
        self.snapshot_ids: set[str] = set()  # carried by this run's member records
        # Routed streams with rows since the last STATE, and those whose rows a STATE followed.
        self._routes_open: set[str] = set()
        self._routes_closed: set[str] = set()
        self.run_id = run_id(dt.datetime.now(dt.timezone.utc))
        self._adding: deque[_Adding] = deque()

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

    def register_route(self, stream: str, list_id: int, mode: str | None) -> int:
        """A routed stream's list, synced like a cohort's (its key: the list id, negated).

        A stream whose SCHEMA comes again (a wider one) keeps what its list did so far.
        """
        key = -list_id
        self.cohorts.setdefault(
            key,
            CohortSync(
                cohort_id=key,
                name=f"route {stream}",
                mode=mode or self._settings.cohort_sync_mode,
                configured_list_id=list_id,
                route=stream,
            ),
        )
        return key

    def route_rows_read(self, stream: str) -> None:
        """Rows of a routed stream came: its snapshot is open until a STATE follows them."""
        self._routes_open.add(stream)
        self._routes_closed.discard(stream)

    def state_read(self) -> None:
        """A STATE came: the routed rows before it were read to it (a cut-short tap sends none)."""
        self._routes_closed |= self._routes_open
        self._routes_open.clear()

    def undescribed(self, cohort_id: int) -> str | None:
        """Why a member of ``cohort_id`` cannot be synced: no ``cohorts`` record came before it.

        The list (and its sync mode) is known only from that record.
        """
        if cohort_id in self.cohorts:
            return None
        return f"cohort {cohort_id} was not described by the cohorts stream before its members"

    def _list_of(self, cohort: CohortSync) -> int:
        """The cohort's list: from the mapping, else the one created for it earlier, else new."""
        if cohort.list_id is not None:
            return cohort.list_id
        store = self._store
        known = store.cohort_list(cohort.cohort_id)
        if cohort.configured_list_id is not None:
            cohort.list_id = int(cohort.configured_list_id)
        elif known is not None:
            cohort.list_id = known[0]
        else:
            cohort.list_id = self._lists.find_or_create(
                cohort.name, self._settings.cohort_list_folder
            )
            cohort.list_created = self._lists.created_here(cohort.list_id)
        if known is None or known[0] != cohort.list_id:
            store.save_cohort_list(cohort.cohort_id, cohort.list_id, cohort.name)
        return cohort.list_id

    # Members ------------------------------------------------------------------------------

    def add_members(self, cohort_id: int, records: list[dict[str, Any]]) -> None:
        """Add the batch's members that the list lacks; create those not yet contacts.

        The cohort was described (the sink rejects members :meth:`undescribed` names). The add
        calls are queued: they go out while the next batch is read.
        """
        self._settle_adds(keep=1)
        cohort = self.cohorts[cohort_id]
        ids = [str(r["distinct_id"]) for r in records]
        cohort.members += self._store.record_run_members(self.run_id, cohort_id, ids)
        self.snapshot_ids.update(str(r["snapshot_id"]) for r in records if r.get("snapshot_id"))
        list_id = self._list_of(cohort)
        in_list = self._store.list_members(list_id, among=ids)
        missing = [r for r in records if str(r["distinct_id"]) not in in_list]
        self._report.cohort_members.already_in_list += len(records) - len(missing)
        self._report.cohort_members.added += len(missing)
        if not missing:
            return
        contacts = self._contact_ledger.contacts_by_id(str(r["distinct_id"]) for r in missing)
        to_create = [r for r in missing if str(r["distinct_id"]) not in contacts]
        existing = [r for r in missing if str(r["distinct_id"]) in contacts]
        if existing:
            refused = self._lists.start_adding(
                list_id,
                [str(r["distinct_id"]) for r in existing],
                on_added=lambda added: self._store.add_list_members(list_id, added),
            )
            with_values = {
                str(r["distinct_id"]): r
                for r in existing
                if r.get("properties") or r.get("full_refresh_id")
            }
            self._adding.append(_Adding(cohort, list_id, refused, with_values))
        if to_create:
            self._create_in_list(cohort, list_id, to_create)
        cohort.added += len(missing)

    def wait_for_calls(self) -> None:
        """Return once every queued add call is answered; raise the first failure."""
        self._settle_adds(keep=0)

    def stop(self) -> None:
        """At the end of a run, failed or not: no further call starts; those in flight settle."""
        self._adding.clear()
        self._lists.close()

    def _settle_adds(self, keep: int) -> None:
        """Settle batches whose calls are answered, waiting until at most ``keep`` remain.

        Members Brevo refused (not a contact, after all) go through the contacts path, whose
        import puts them in the list either way.
        """
        while self._adding and (len(self._adding) > keep or self._adding[0].refused.done()):
            adding = self._adding.popleft()
            refused = set(adding.refused.result())
            if refused:
                self._create_in_list(adding.cohort, adding.list_id, adding.records(refused))

    def _create_in_list(self, cohort: CohortSync, list_id: int, records: list[dict]) -> None:
        """Members Brevo does not know as contacts: created through the contacts path."""
        self._contacts.write(records, extra_list_ids=(list_id,))
        cohort.created_contacts += len(records)
        self._store.add_list_members(list_id, (str(r["distinct_id"]) for r in records))

    def _add(self, list_id: int, ids: list[str]) -> list[str]:
        """Add existing contacts; returns Brevo's failures (the contacts path imports them)."""
        return self._lists.add(
            list_id, ids, on_added=lambda added: self._store.add_list_members(list_id, added)
        )

    def _remove(self, list_id: int, ids: list[str]) -> int:
        """Remove members by distinct id; returns how many Brevo removed."""
        return self._lists.remove(
            list_id, ids, on_removed=lambda gone: self._store.remove_list_members(list_id, gone)
        )

    def _remove_by_brevo_id(self, list_id: int, members: dict[int, str]) -> int:
        """Remove members by their Brevo contact id (``members``: Brevo id -> distinct id)."""
        return self._lists.remove(
            list_id,
            sorted(members),
            on_removed=lambda gone: self._store.remove_list_members(
                list_id, (members[i] for i in gone)
            ),
            by="ids",
        )

    # End of run ---------------------------------------------------------------------------

    def finish(self, confirmed: Mapping[int, str]) -> None:
        """Mirror removals and reconciliation, for cohorts whose snapshot is confirmed.

        ``confirmed`` maps cohort ids to the snapshot ids that ``sync_checkpoints`` records
        confirm complete; a cohort is complete when this run's member records carried that id
        (a checkpoint of another run proves nothing).
        """
        self.wait_for_calls()
        for cohort in self.cohorts.values():
            if cohort.route is not None:
                cohort.complete = cohort.route in self._routes_closed
            else:
                cohort.snapshot_id = confirmed.get(cohort.cohort_id)
                cohort.complete = cohort.snapshot_id in self.snapshot_ids
            if not cohort.complete:
                continue
            list_id = self._list_of(cohort)
            if cohort.list_created:
                self._store.mark_reconciled(cohort.cohort_id)  # known since it was empty
            elif self._reconcile_due(cohort):
                self._reconcile(cohort, list_id)
            elif cohort.mode == "mirror":
                for gone in self._store.departed(self.run_id, cohort.cohort_id, list_id):
                    cohort.removed += self._remove(list_id, gone)
        self._store.forget_run(self.run_id, run_id(dt.datetime.now(dt.timezone.utc) - STALE_RUN))

    def _reconcile_due(self, cohort: CohortSync) -> bool:
        known = self._store.cohort_list(cohort.cohort_id)
        if known is None or known[1] is None:
            return True
        days = self._settings.list_reconcile_days
        return known[1] <= dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)

    def _reconcile(self, cohort: CohortSync, list_id: int) -> None:
        """Read the list back from Brevo and repair what was changed there by hand.

        While some members cannot be identified, the ledger's members are not proven absent
        (they may be among them): they are neither forgotten nor added again.
        """
        store, run = self._store, self.run_id
        cohort.not_identified = self._read_back(list_id)
        if not cohort.not_identified:
            store.forget_unlisted(run, list_id)
        for missing in store.not_in_list(run, cohort.cohort_id, list_id):
            not_added = self._add(list_id, missing)
            if not_added:
                records = [{"distinct_id": d, "properties": {}} for d in not_added]
                self._create_in_list(cohort, list_id, records)
            cohort.repaired += len(missing)
        if cohort.mode == "mirror":
            removed = 0
            for extra in store.listed_not_received(run, list_id, cohort.cohort_id):
                by_id = {brevo_id: d for d, brevo_id in extra if brevo_id is not None}
                removed += self._remove_by_brevo_id(list_id, by_id)
                removed += self._remove(list_id, [d for d, brevo_id in extra if brevo_id is None])
            for strangers in store.strangers(run, list_id):
                removed += self._lists.remove(list_id, strangers, by="ids")
            cohort.repaired += removed
            cohort.removed += removed
        cohort.reconciled = True
        store.mark_reconciled(cohort.cohort_id)

    def _read_back(self, list_id: int) -> int:
        """Record the list as Brevo lists it, page by page; returns how many were not identified.

        The members identified are in the ledger's list from now on.
        """
        position = not_identified = 0
        for page in self._lists.member_pages(list_id):
            listed, unknown = self._identify(page)
            self._store.record_readback(self.run_id, list_id, position, listed)
            self._store.add_list_members(list_id, (d for d, _ in listed if d is not None))
            position += len(page)
            not_identified += unknown
        return not_identified

    def _identify(self, page: list[ListedMember]) -> tuple[list[Listed], int]:
        """The page's members identified or strangers, and the count of the others.

        A member is identified by its ``EXT_ID``, else by its Brevo id through the ledger. A
        stranger (no distinct id) is a contact whose listed attributes carry no ``EXT_ID``: not
        synced from Mixpanel. Any other member (a listing without attributes, a contact the
        ledger never saw) cannot be identified.
        """
        store = self._store
        by_brevo_id = store.distinct_ids_of(m.brevo_id for m in page if m.brevo_id is not None)
        listed: list[Listed] = []
        not_identified = 0
        for member in page:
            distinct_id = member.ext_id or by_brevo_id.get(member.brevo_id or -1)
            if distinct_id:
                listed.append((distinct_id, member.brevo_id))
            elif member.attributes_listed and member.brevo_id is not None:
                listed.append((None, member.brevo_id))
            else:
                not_identified += 1
        store.learn_brevo_ids(
            {
                member.ext_id: member.brevo_id
                for member in page
                if member.ext_id
                and member.brevo_id is not None
                and by_brevo_id.get(member.brevo_id) != member.ext_id
            }
        )
        return listed, not_identified

    def report(self) -> list[dict[str, Any]]:
        """One line per cohort, in the seed's shape plus the changes made."""
        store = self._store
        return [
            cohort.to_dict(store.count_list_members(cohort.list_id) if cohort.list_id else 0)
            for cohort in self.cohorts.values()
        ]


#: Rows of a run older than this are a killed run's: the next run to finish drops them.
STALE_RUN = dt.timedelta(days=7)


def run_id(started: dt.datetime) -> str:
    """A run's id: its UTC start time first, so ids compare in time order, then a random part."""
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"

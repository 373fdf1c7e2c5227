"""A cohort's members and a list read back live in the ledger: the target's memory stays flat.

The writer once kept a set of every member of each cohort for the whole run, and reconciliation
read a whole list into memory; a 1,000,000-member cohort cost a million strings twice over. These
tests measure what Python allocates while cohorts of two sizes go through the writer, and check
the set differences the ledger computes in its place, page by page.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from mixpanel_brevo_mapping import Mapping
from target_brevo_tajo.contacts.ledger import ContactLedger
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.lists import ledger as lists_ledger
from target_brevo_tajo.lists.api import ListedMember
from target_brevo_tajo.lists.writer import ListWriter
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings
from tests.target.list_ledger_checks import exercise_set_differences

BATCH = 2000


class CountingLists:
    """Brevo lists that hold members ``m0``..``m{n-1}`` of a cohort of ``n``: nothing stored.

    The list reads back as exactly the cohort, so the ledger's set differences are the only
    thing a run could keep in memory.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.removed = 0

    def find_or_create(self, name: str, folder_name: str) -> int:
        return 16

    def created_here(self, list_id: int) -> bool:
        """List 16 was found: the run reads it back, the work whose memory is measured."""
        return False

    def add(self, list_id: int, ext_ids: list[str], on_added: Any) -> list[str]:
        on_added(ext_ids)
        return []

    def remove(self, list_id: int, ids: list[Any], on_removed: Any = None, **_: Any) -> int:
        self.removed += len(ids)
        return len(ids)

    def member_pages(self, list_id: int) -> Iterator[list[ListedMember]]:
        for start in range(0, self.size, 500):
            stop = min(start + 500, self.size)
            yield [ListedMember(i, f"m{i}", True) for i in range(start, stop)]


class NoContacts:
    """The contacts path: members not yet contacts would be imported into the list."""

    def write(self, records: list[dict], extra_list_ids: tuple[int, ...]) -> None:
        """Brevo's import would put them in the list; the writer records them."""


def python_peak(size: int, tmp_path) -> tuple[int, dict[str, Any]]:
    """Python's peak allocation while a cohort of ``size`` mirrors into a new list, and its line."""
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger-{size}.sqlite")
    report = SyncReport()
    writer = ListWriter(
        lists=CountingLists(size),  # type: ignore[arg-type]
        contacts=NoContacts(),  # type: ignore[arg-type]
        ledger=ledger,
        contact_ledger=ContactLedger(ledger),
        mapping=Mapping(),
        settings=Settings.from_config({"api_key": "k", "cohort_sync_mode": "mirror"}),
        report=report,
    )
    writer.register({"id": 1, "name": "Big"})
    tracemalloc.start()
    try:
        for start in range(0, size, BATCH):
            records = [
                {"distinct_id": f"m{i}", "snapshot_id": "S1", "properties": {}}
                for i in range(start, min(start + BATCH, size))
            ]
            writer.add_members(1, records)
            del records
        writer.finish({1: "S1"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (line,) = writer.report()
    ledger.close()
    return peak, line


def test_the_writers_memory_does_not_grow_with_the_cohort(tmp_path):
    small, small_line = python_peak(2_000, tmp_path)
    large, large_line = python_peak(20_000, tmp_path)

    assert (small_line["membersCount"], small_line["syncedToBrevo"]) == (2_000, 2_000)
    assert (large_line["membersCount"], large_line["syncedToBrevo"]) == (20_000, 20_000)
    assert large_line["reconciled"]
    assert large_line["removed"] == 0
    # 18,000 more members held as a set (or a list read back) cost well over 1 MB.
    assert large - small < 400_000, f"peak grew by {large - small} bytes for 18,000 members"


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of two ids, so that every difference above takes several pages."""
    monkeypatch.setattr(lists_ledger, "PAGE", 2)


def test_the_ledgers_set_differences_come_in_pages_and_stay_exact(tmp_path, small_pages):
    exercise_set_differences(f"sqlite:///{tmp_path}/ledger.sqlite")

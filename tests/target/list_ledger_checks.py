"""The lists store's paged set differences, exercised the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from itertools import chain

from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.lists.ledger import ListLedger


def exercise_set_differences(url: str) -> None:
    """The ledger's set differences, read in pages, as the writer uses them."""
    store = ListLedger(Ledger(url))
    store.add_list_members(16, ["a", "b", "c", "gone-1", "gone-2"])
    assert store.record_run_members("run-2", 1, ["a", "b", "new-1"]) == 3
    assert store.record_run_members("run-2", 1, ["b", "c", "new-2"]) == 2  # b came before
    store.record_run_members("run-2", 2, ["gone-1"])  # another cohort of the run

    assert [page for page in store.departed("run-2", 1, 16)] == [["gone-1", "gone-2"]]
    assert list(chain.from_iterable(store.not_in_list("run-2", 1, 16))) == ["new-1", "new-2"]

    store.record_readback("run-2", 16, 0, [("a", 11), ("b", None), ("x", 12)])
    store.record_readback("run-2", 16, 3, [(None, 13), (None, 14)])  # strangers
    assert list(chain.from_iterable(store.listed_not_received("run-2", 16, 1))) == [("x", 12)]
    assert list(chain.from_iterable(store.strangers("run-2", 16))) == [13, 14]
    store.forget_unlisted("run-2", 16)
    assert store.list_members(16) == {"a", "b"}
    assert store.count_list_members(16) == 2

    store.record_run_members("20000101T000000Z-killed", 1, ["a"])
    store.forget_run("run-2", stale_before="20200101")
    assert store.record_run_members("run-2", 1, ["a"]) == 1  # the run's rows are gone
    assert store.record_run_members("20000101T000000Z-killed", 1, ["a"]) == 1  # stale: gone

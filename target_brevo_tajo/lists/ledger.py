"""The ledger's view of Brevo lists: their members, each cohort's list, and one run's cohorts.

A run's cohort members and the lists it reads back are rows here, not sets in memory, so a
1,000,000-member cohort costs the target no more memory than a small one: removals and repairs
are set differences the database computes, read in pages of :data:`PAGE` ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlalchemy as sa

from target_brevo_tajo.ledger.in_lists import in_chunks
from target_brevo_tajo.ledger.retry import retried, retry_transactions
from target_brevo_tajo.ledger.schema import (
    cohort_lists,
    cohort_run_members,
    contact_brevo_ids,
    list_members,
    list_readback,
)
from target_brevo_tajo.ledger.upserts import insert_new, upsert

PAGE = 5000  # ids per page of a set difference: bounded memory, few queries
#: A listed member: its distinct id (None for a stranger) and its Brevo id (None if unlisted).
Listed = tuple[str | None, int | None]


class _Ledger(Protocol):
    """What :class:`ListLedger` uses of the ledger: its engine and write transactions."""

    engine: sa.Engine

    def writing(self) -> AbstractContextManager[sa.Connection]: ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@retry_transactions
class ListLedger:
    """Reads and writes the list tables of one ledger (its engine and write transactions)."""

    def __init__(self, ledger: _Ledger) -> None:
        self._ledger = ledger

    # Members of Brevo lists ---------------------------------------------------------------

    def list_members(self, list_id: int, among: Iterable[str] | None = None) -> set[str]:
        """The distinct ids the ledger knows to be in a Brevo list (only ``among`` these, if given).

        ``among`` keeps a batch's lookup to its own ids instead of reading a whole large list.
        """
        query = sa.select(list_members.c.distinct_id).where(list_members.c.list_id == list_id)
        with self._ledger.engine.connect() as conn:
            if among is None:
                return {row[0] for row in conn.execute(query)}
            found: set[str] = set()
            for chunk in in_chunks(among):
                found.update(
                    row[0]
                    for row in conn.execute(query.where(list_members.c.distinct_id.in_(chunk)))
                )
            return found

    def count_list_members(self, list_id: int) -> int:
        """How many members the ledger knows to be in a Brevo list."""
        query = sa.select(sa.func.count()).where(list_members.c.list_id == list_id)
        with self._ledger.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def add_list_members(self, list_id: int, distinct_ids: Iterable[str]) -> None:
        """Record members Brevo accepted into a list."""
        now = _now()
        rows = [
            {"list_id": list_id, "distinct_id": d, "added_at": now}
            for d in sorted(set(distinct_ids))
        ]
        with self._ledger.writing() as conn:
            insert_new(conn, list_members, rows)

    def remove_list_members(self, list_id: int, distinct_ids: Iterable[str]) -> None:
        """Record members Brevo removed from a list."""
        with self._ledger.writing() as conn:
            for chunk in in_chunks(distinct_ids):
                conn.execute(
                    sa.delete(list_members).where(
                        list_members.c.list_id == list_id, list_members.c.distinct_id.in_(chunk)
                    )
                )

    # Each cohort's list -------------------------------------------------------------------

    def cohort_list(self, cohort_id: int) -> tuple[int, dt.datetime | None] | None:
        """The Brevo list a cohort syncs to, and when it was last reconciled."""
        with self._ledger.engine.connect() as conn:
            row = conn.execute(
                sa.select(cohort_lists.c.list_id, cohort_lists.c.reconciled_at).where(
                    cohort_lists.c.cohort_id == cohort_id
                )
            ).first()
        if row is None:
            return None
        reconciled = row[1]
        if reconciled is not None and reconciled.tzinfo is None:
            reconciled = reconciled.replace(tzinfo=dt.timezone.utc)  # SQLite drops the zone
        return int(row[0]), reconciled

    def save_cohort_list(self, cohort_id: int, list_id: int, cohort_name: str) -> None:
        """Remember which list a cohort syncs to (a changed mapping moves it)."""
        row = {"cohort_id": cohort_id, "list_id": list_id, "cohort_name": cohort_name}
        with self._ledger.writing() as conn:
            upsert(conn, cohort_lists, [row], key=["cohort_id"])

    def mark_reconciled(self, cohort_id: int) -> None:
        """A cohort's list was just read back from Brevo and repaired."""
        with self._ledger.writing() as conn:
            conn.execute(
                sa.update(cohort_lists)
                .where(cohort_lists.c.cohort_id == cohort_id)
                .values(reconciled_at=_now())
            )

    # One run's cohort members -------------------------------------------------------------

    def record_run_members(self, run_id: str, cohort_id: int, distinct_ids: Sequence[str]) -> int:
        """Remember members the run received for a cohort; returns how many were new to it."""
        members = cohort_run_members
        mine = sa.and_(members.c.run_id == run_id, members.c.cohort_id == cohort_id)
        with self._ledger.writing() as conn:
            known: set[str] = set()
            for chunk in in_chunks(distinct_ids):
                query = sa.select(members.c.distinct_id).where(
                    mine, members.c.distinct_id.in_(chunk)
                )
                known.update(conn.execute(query).scalars())
            rows = [
                {"run_id": run_id, "cohort_id": cohort_id, "distinct_id": d}
                for d in set(distinct_ids) - known
            ]
            insert_new(conn, members, rows)
        return len(rows)

    def departed(self, run_id: str, cohort_id: int, list_id: int) -> Iterator[list[str]]:
        """Pages of the list's members (as the ledger knows them) the run did not receive."""
        run = cohort_run_members
        received = sa.exists().where(
            run.c.run_id == run_id,
            run.c.cohort_id == cohort_id,
            run.c.distinct_id == list_members.c.distinct_id,
        )
        query = sa.select(list_members.c.distinct_id).where(
            list_members.c.list_id == list_id, ~received
        )
        return self._pages(query)

    def not_in_list(self, run_id: str, cohort_id: int, list_id: int) -> Iterator[list[str]]:
        """Pages of the run's members of a cohort that the ledger does not know in its list."""
        run = cohort_run_members
        in_list = sa.exists().where(
            list_members.c.list_id == list_id,
            list_members.c.distinct_id == run.c.distinct_id,
        )
        query = sa.select(run.c.distinct_id).where(
            run.c.run_id == run_id, run.c.cohort_id == cohort_id, ~in_list
        )
        return self._pages(query)

    def forget_run(self, run_id: str, stale_before: str) -> None:
        """Drop the run's rows, and those of runs started before ``stale_before`` (killed ones)."""
        with self._ledger.writing() as conn:
            for table in (cohort_run_members, list_readback):
                conn.execute(
                    sa.delete(table).where(
                        sa.or_(table.c.run_id == run_id, table.c.run_id < stale_before)
                    )
                )

    # A list read back from Brevo ----------------------------------------------------------

    def record_readback(
        self, run_id: str, list_id: int, first_position: int, listed: Sequence[Listed]
    ) -> None:
        """Remember a page of the listing: identified members and strangers, by position.

        The first page replaces what an earlier reading of the list in this run recorded.
        """
        rows = [
            {"run_id": run_id, "list_id": list_id, "position": first_position + offset,
             "distinct_id": distinct_id, "brevo_id": brevo_id}
            for offset, (distinct_id, brevo_id) in enumerate(listed)
        ]  # fmt: skip
        back = list_readback
        with self._ledger.writing() as conn:
            if first_position == 0:
                conn.execute(
                    sa.delete(back).where(back.c.run_id == run_id, back.c.list_id == list_id)
                )
            insert_new(conn, back, rows)

    def distinct_ids_of(self, brevo_ids: Iterable[int]) -> dict[int, str]:
        """The distinct id of each of these Brevo contact ids that the ledger knows."""
        ids = contact_brevo_ids
        found: dict[int, str] = {}
        with self._ledger.engine.connect() as conn:
            for chunk in in_chunks(brevo_ids):  # type: ignore[arg-type]  # ints sort as well
                rows = conn.execute(
                    sa.select(ids.c.brevo_id, ids.c.distinct_id).where(ids.c.brevo_id.in_(chunk))
                )
                found.update((int(row[0]), row[1]) for row in rows)
        return found

    def learn_brevo_ids(self, ids: dict[str, int]) -> None:
        """Remember contacts' numeric Brevo ids as a listing showed them, by distinct id."""
        rows = [{"distinct_id": d, "brevo_id": i} for d, i in ids.items()]
        with self._ledger.writing() as conn:
            upsert(conn, contact_brevo_ids, rows, key=["distinct_id"])

    def forget_unlisted(self, run_id: str, list_id: int) -> None:
        """The listing identified every member: the ledger's members it did not show are gone."""
        listed = sa.exists().where(
            list_readback.c.run_id == run_id,
            list_readback.c.list_id == list_id,
            list_readback.c.distinct_id == list_members.c.distinct_id,
        )
        with self._ledger.writing() as conn:
            conn.execute(sa.delete(list_members).where(list_members.c.list_id == list_id, ~listed))

    def listed_not_received(
        self, run_id: str, list_id: int, cohort_id: int
    ) -> Iterator[list[tuple[str, int | None]]]:
        """Pages of identified members listed that the run did not receive, with Brevo ids."""
        back, run = list_readback, cohort_run_members
        received = sa.exists().where(
            run.c.run_id == run_id,
            run.c.cohort_id == cohort_id,
            run.c.distinct_id == back.c.distinct_id,
        )
        query = (
            sa.select(back.c.distinct_id, sa.func.max(back.c.brevo_id))
            .where(back.c.run_id == run_id, back.c.list_id == list_id)
            .where(back.c.distinct_id.is_not(None), ~received)
            .group_by(back.c.distinct_id)
        )
        return self._pages(query)

    def strangers(self, run_id: str, list_id: int) -> Iterator[list[int]]:
        """Pages of the Brevo ids of listed contacts not synced from Mixpanel (no ``EXT_ID``)."""
        back = list_readback
        query = sa.select(back.c.position, back.c.brevo_id).where(
            back.c.run_id == run_id, back.c.list_id == list_id, back.c.distinct_id.is_(None)
        )
        for page in self._pages(query):
            yield [int(row[1]) for row in page]

    def _pages(self, query: sa.Select) -> Iterator[list[Any]]:
        """``query``'s rows (its first column alone if it has one) in pages of :data:`PAGE`.

        Rows come in the order of the first column; each page is a new query after the last
        page's key, so the caller may change the tables between pages (a removal deletes what
        the page named).
        """
        key = query.selected_columns[0]
        single = len(query.selected_columns) == 1
        last: Any = None
        while True:
            rows = self._page(query if last is None else query.where(key > last), key)
            if not rows:
                return
            last = rows[-1][0]
            yield [row[0] for row in rows] if single else [tuple(row) for row in rows]
            if len(rows) < PAGE:
                return

    @retried
    def _page(self, query: sa.Select, key: sa.ColumnElement) -> list[sa.Row]:
        with self._ledger.engine.connect() as conn:
            return list(conn.execute(query.order_by(key).limit(PAGE)).all())

"""The call slots of Brevo's rate budgets, shared in the ledger by every worker of one account.

Brevo counts calls per account, not per worker: two workers each pacing to 10 calls a second
send 20. Each worker takes its slots here, one transaction per call: the bucket's row in
``rate_buckets`` is written first (an upsert), which locks it until the transaction ends (a row
lock on PostgreSQL, the database's write lock on SQLite), so the slots of one bucket are taken
one at a time across processes and machines, each seeing every slot taken before it.

Time is the ledger's: PostgreSQL's ``clock_timestamp()`` (one clock for workers on several
machines), the system's clock for SQLite (its workers share one machine). Slots are seconds since
the epoch on that clock; a slot older than its bucket's window is deleted by the next taker.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import rate_buckets, rate_slots

_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_PG_NOW = sa.text("SELECT extract(epoch FROM clock_timestamp())")


class _Ledger(Protocol):
    """What :class:`RateSlotLedger` uses of the ledger: its engine and write transactions."""

    engine: sa.Engine

    def writing(self) -> AbstractContextManager[sa.Connection]: ...


@dataclass(frozen=True)
class Taken:
    """A slot taken: when (``start``), the ledger's time then (``now``), the bucket's pace.

    ``recent`` are the bucket's latest slots before it, by every worker, newest first.
    """

    now: float
    start: float
    limit: int
    window_seconds: float
    recent: tuple[float, ...]


@retry_transactions
class RateSlotLedger:
    """Takes call slots of one account's buckets and shares what Brevo's headers taught."""

    def __init__(self, ledger: _Ledger, account: str) -> None:
        self._ledger = ledger
        self.account = account
        self._postgres = ledger.engine.dialect.name == "postgresql"

    def take(
        self, bucket: str, limit: int, window_seconds: float, margin: float, not_before: float
    ) -> Taken:
        """The next slot of ``bucket``, at least ``not_before`` seconds from now.

        ``limit`` and ``window_seconds`` are the worker's (its tier's) until a worker learns the
        bucket's own from Brevo's headers (:meth:`learn`); ``margin`` widens each window.
        """
        with self._ledger.writing() as conn:
            known = self._lock_bucket(conn, bucket)
            now = self._now(conn)
            limit = known.call_limit or limit
            window_seconds = known.window_seconds or window_seconds
            span = window_seconds + margin
            start = max(now + not_before, known.blocked_until or 0.0)
            where = self._where(bucket)
            recent = tuple(
                conn.execute(
                    sa.select(rate_slots.c.slot_at)
                    .where(where)
                    .order_by(rate_slots.c.slot_at.desc())
                    .limit(limit)
                ).scalars()
            )
            if len(recent) >= limit:
                start = max(start, recent[-1] + span)
            conn.execute(sa.insert(rate_slots).values(**self._key(bucket), slot_at=start))
            conn.execute(sa.delete(rate_slots).where(where, rate_slots.c.slot_at < now - span))
        return Taken(now, start, limit, window_seconds, recent)

    def learn(self, bucket: str, limit: int, window_seconds: float, blocked_for: float) -> None:
        """Share a bucket's limit and window from Brevo's headers, and a wait for its reset."""
        with self._ledger.writing() as conn:
            until = self._now(conn) + blocked_for if blocked_for > 0 else None
            statement = _INSERTS[conn.dialect.name](rate_buckets).values(
                **self._key(bucket),
                slots_taken=0,
                call_limit=limit,
                window_seconds=window_seconds,
                blocked_until=until,
            )
            later = statement.excluded.blocked_until > sa.func.coalesce(
                rate_buckets.c.blocked_until, 0.0
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["account", "bucket"],
                    set_={
                        "call_limit": statement.excluded.call_limit,
                        "window_seconds": statement.excluded.window_seconds,
                        "blocked_until": sa.case(
                            (later, statement.excluded.blocked_until),
                            else_=rate_buckets.c.blocked_until,
                        ),
                    },
                )
            )

    def move(self, bucket: str, slot: float, left: float) -> None:
        """Move a slot to when its call left (later): the takers after it count from then."""
        with self._ledger.writing() as conn:
            conn.execute(
                sa.update(rate_slots)
                .where(self._where(bucket), rate_slots.c.slot_at == slot)
                .values(slot_at=left)
            )

    def _lock_bucket(self, conn: sa.Connection, bucket: str) -> sa.Row[Any]:
        """Count a slot on the bucket's row (created if new): the write locks it until commit."""
        statement = _INSERTS[conn.dialect.name](rate_buckets).values(
            **self._key(bucket), slots_taken=1
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["account", "bucket"],
            set_={"slots_taken": rate_buckets.c.slots_taken + 1},
        ).returning(
            rate_buckets.c.call_limit, rate_buckets.c.window_seconds, rate_buckets.c.blocked_until
        )
        return conn.execute(upsert).one()

    def _now(self, conn: sa.Connection) -> float:
        """Seconds since the epoch on the one clock every worker of this ledger reads."""
        return float(conn.execute(_PG_NOW).scalar_one()) if self._postgres else time.time()

    def _key(self, bucket: str) -> dict[str, str]:
        return {"account": self.account, "bucket": bucket}

    def _where(self, bucket: str) -> sa.ColumnElement[bool]:
        return sa.and_(rate_slots.c.account == self.account, rate_slots.c.bucket == bucket)

"""The ledger's view of events: what Brevo accepted, and the batch calls still in doubt.

Brevo has no idempotency keys for events, so the ledger remembers every event Brevo accepted
(by a key derived from its name, ``$insert_id`` and time). Each ``POST /events/batch`` call is
recorded *before* it is sent, as a call in doubt with its events, under a lease of the worker
that sent it; Brevo's answer settles it (accepted events become sent events), and a call whose
answer never came is taken over and settled later by looking its events up in Brevo.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from target_brevo_tajo.ledger.in_lists import in_chunks
from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import event_calls, events_in_doubt, events_timing, sent_events
from target_brevo_tajo.ledger.upserts import insert_new


def event_key(event_name: str, insert_id: str, event_time: dt.datetime) -> str:
    """The ledger key of one Mixpanel event: its name, ``$insert_id`` and time.

    Mixpanel deduplicates on ``(event, time, distinct_id, $insert_id)``; ``distinct_id`` is left
    out because identity merges change it, while the time of an event never changes.
    """
    moment = (
        event_time.replace(tzinfo=dt.timezone.utc)
        if event_time.tzinfo is None
        else event_time.astimezone(dt.timezone.utc)
    )
    text = f"{event_name}\x1f{insert_id}\x1f{moment.isoformat(timespec='microseconds')}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class LedgerEvent:
    """One event as the ledger keeps it: its key, Mixpanel facts and the Brevo payload sent."""

    key: str
    insert_id: str
    event_name: str  # the Mixpanel name
    event_time: dt.datetime
    payload: bytes  # the Brevo event's JSON, as it goes into a batch call

    def sent_row(self, now: dt.datetime) -> dict[str, Any]:
        """The ``sent_events`` row of this event, accepted at ``now``."""
        return {
            "event_key": self.key,
            "insert_id": self.insert_id,
            "event_name": self.event_name,
            "event_time": self.event_time,
            "sent_at": now,
        }

    def doubt_row(self, call_id: str) -> dict[str, Any]:
        """The ``events_in_doubt`` row of this event, part of call ``call_id``."""
        return {
            "call_id": call_id,
            "event_key": self.key,
            "insert_id": self.insert_id,
            "event_name": self.event_name,
            "event_time": self.event_time,
            "payload": self.payload.decode("utf-8"),
        }


@dataclass(frozen=True)
class CallInDoubt:
    """A batch call recorded before it was sent and not settled since."""

    call_id: str
    opened_at: dt.datetime
    events: list[LedgerEvent]


_VISIBILITY = "visibility_delay"  # the events_timing row of Brevo's events queue


def _database_now(conn: sa.Connection) -> dt.datetime:
    """The database's clock, in UTC: every worker's leases are timed by this one clock.

    A host whose own clock runs ahead would otherwise see live workers' leases as run out, take
    their calls over and send them again.
    """
    if conn.dialect.name == "sqlite":
        text = conn.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
    moment = conn.execute(sa.select(sa.func.current_timestamp())).scalar_one()
    return _aware(moment).astimezone(dt.timezone.utc)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; the ledger only ever writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class ClaimLost(RuntimeError):
    """Another worker took over a call whose lease had run out: settling it is theirs now."""


class _Ledger(Protocol):
    """What :class:`EventLedger` uses of the ledger: its engine, write transactions and owner."""

    engine: sa.Engine
    owner: str  # names this worker on the calls it claims

    def writing(self) -> AbstractContextManager[sa.Connection]: ...


@retry_transactions
class EventLedger:
    """Reads and writes the event tables of one ledger, as the worker that owns it."""

    def __init__(self, ledger: _Ledger) -> None:
        self._ledger = ledger

    def sent_event_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` Brevo has already accepted."""
        found: set[str] = set()
        with self._ledger.engine.connect() as conn:
            for chunk in in_chunks(keys):
                rows = conn.execute(
                    sa.select(sent_events.c.event_key).where(sent_events.c.event_key.in_(chunk))
                )
                found.update(row[0] for row in rows)
        return found

    def record_sent_events(self, events: Iterable[LedgerEvent]) -> None:
        """Remember events Brevo accepted."""
        with self._ledger.writing() as conn:
            self._insert_sent(conn, list(events))

    @staticmethod
    def _insert_sent(conn: sa.Connection, events: list[LedgerEvent]) -> None:
        # A key already there was sent by this run or another worker: it stays as it is.
        now = dt.datetime.now(dt.timezone.utc)
        insert_new(conn, sent_events, list({e.key: e.sent_row(now) for e in events}.values()))

    def open_call(
        self, call_id: str, events: list[LedgerEvent], lease_seconds: float
    ) -> list[LedgerEvent]:
        """Claim a batch call's events before it is sent; returns those this worker may send.

        An event already sent, or claimed by a call of another worker, is left out: one claim
        per event (a unique key) makes two workers on the same input never both send it. The
        claim is committed before the call leaves and lasts ``lease_seconds``.
        """
        with self._ledger.writing() as conn:
            claimed = self._open(conn, call_id, events, lease_seconds)
        return [event for event in events if event.key in claimed]

    def _open(
        self,
        conn: sa.Connection,
        call_id: str,
        events: list[LedgerEvent],
        lease_seconds: float,
    ) -> set[str]:
        now = _database_now(conn)
        lease_until = now + dt.timedelta(seconds=lease_seconds)
        conn.execute(
            sa.insert(event_calls).values(
                call_id=call_id, opened_at=now, owner=self._ledger.owner, lease_until=lease_until
            )
        )
        insert_new(conn, events_in_doubt, [event.doubt_row(call_id) for event in events])
        # Correlated, so each of the call's claims probes sent_events' key: ``event_key IN
        # (SELECT event_key FROM sent_events)`` made SQLite walk every sent key on every call,
        # and a ledger of 1M sent events halved the target's speed.
        sent_already = sa.exists().where(sent_events.c.event_key == events_in_doubt.c.event_key)
        conn.execute(
            sa.delete(events_in_doubt).where(events_in_doubt.c.call_id == call_id, sent_already)
        )
        claimed = set(
            conn.execute(
                sa.select(events_in_doubt.c.event_key).where(events_in_doubt.c.call_id == call_id)
            ).scalars()
        )
        if not claimed:
            conn.execute(sa.delete(event_calls).where(event_calls.c.call_id == call_id))
        return claimed

    def settle_call(
        self,
        call_id: str,
        accepted: Iterable[LedgerEvent],
        reissue: tuple[str, list[LedgerEvent], float] | None = None,
    ) -> list[LedgerEvent]:
        """Settle this worker's call in one transaction: its accepted events become sent events.

        ``reissue`` (call id, events, lease) opens the call that resends what the settled call
        did not deliver, in the same transaction, so a kill at any instant leaves those events
        claimed, never lost; the events it claimed are returned. Raises :class:`ClaimLost` when
        another worker took the call over (its lease ran out): settling is theirs then.
        """
        with self._ledger.writing() as conn:
            mine = conn.execute(
                sa.delete(event_calls).where(
                    event_calls.c.call_id == call_id, event_calls.c.owner == self._ledger.owner
                )
            )
            if not mine.rowcount:
                raise ClaimLost(call_id)
            conn.execute(sa.delete(events_in_doubt).where(events_in_doubt.c.call_id == call_id))
            self._insert_sent(conn, list(accepted))
            if reissue is None:
                return []
            new_id, events, lease_seconds = reissue
            claimed = self._open(conn, new_id, events, lease_seconds)
        return [event for event in events if event.key in claimed]

    def now(self) -> dt.datetime:
        """The database's clock, which times every lease and call in doubt."""
        with self._ledger.engine.connect() as conn:
            return _database_now(conn)

    def renew(self, call_id: str, lease_seconds: float) -> bool:
        """Extend this worker's lease on a call; False when another worker has taken it over."""
        with self._ledger.writing() as conn:
            lease_until = _database_now(conn) + dt.timedelta(seconds=lease_seconds)
            renewed = conn.execute(
                sa.update(event_calls)
                .where(event_calls.c.call_id == call_id, event_calls.c.owner == self._ledger.owner)
                .values(lease_until=lease_until)
            )
        return bool(renewed.rowcount)

    def renew_all(self, lease_seconds: float) -> None:
        """The heartbeat of a live worker: extend the lease of every call it holds.

        A call may wait far longer than its lease (a 429 whose reset outlasts it, a slow
        settle); while its owner lives, no other worker may take it over.
        """
        with self._ledger.writing() as conn:
            lease_until = _database_now(conn) + dt.timedelta(seconds=lease_seconds)
            conn.execute(
                sa.update(event_calls)
                .where(event_calls.c.owner == self._ledger.owner)
                .values(lease_until=lease_until)
            )

    def release_claims(self) -> None:
        """End this worker's leases: a run that stops lets the next one settle its calls at once.

        Only a killed worker keeps its claims until their leases run out.
        """
        with self._ledger.writing() as conn:
            ended = _database_now(conn) - dt.timedelta(seconds=1)
            conn.execute(
                sa.update(event_calls)
                .where(event_calls.c.owner == self._ledger.owner)
                .values(lease_until=ended)
            )

    def take_over_expired_calls(self, lease_seconds: float) -> list[CallInDoubt]:
        """Claim the calls whose owner's lease ran out (a killed worker), oldest first.

        Each is taken by a conditional update, so two workers never take the same call; a call
        whose owner is still within its lease is left to that owner.
        """
        with self._ledger.engine.connect() as conn:
            now = _database_now(conn)
            expired = (
                conn.execute(
                    sa.select(event_calls.c.call_id)
                    .where(
                        sa.or_(event_calls.c.lease_until.is_(None), event_calls.c.lease_until < now)
                    )
                    .order_by(event_calls.c.opened_at)
                )
                .scalars()
                .all()
            )
        taken = []
        for call_id in expired:
            with self._ledger.writing() as conn:
                now = _database_now(conn)
                won = conn.execute(
                    sa.update(event_calls)
                    .where(
                        event_calls.c.call_id == call_id,
                        sa.or_(
                            event_calls.c.lease_until.is_(None), event_calls.c.lease_until < now
                        ),
                    )
                    .values(
                        owner=self._ledger.owner,
                        lease_until=now + dt.timedelta(seconds=lease_seconds),
                    )
                )
            if won.rowcount:
                taken.append(call_id)
        return [call for call in self.calls_in_doubt() if call.call_id in taken]

    def claimed_by_others(self, keys: Iterable[str] | None = None) -> set[str]:
        """The event keys (of ``keys``, or all) that another worker's calls hold in doubt."""
        query = (
            sa.select(events_in_doubt.c.event_key)
            .join(event_calls, event_calls.c.call_id == events_in_doubt.c.call_id)
            .where(sa.or_(event_calls.c.owner.is_(None), event_calls.c.owner != self._ledger.owner))
        )
        with self._ledger.engine.connect() as conn:
            if keys is None:
                return set(conn.execute(query).scalars())
            found: set[str] = set()
            for chunk in in_chunks(keys):
                found.update(
                    conn.execute(query.where(events_in_doubt.c.event_key.in_(chunk))).scalars()
                )
        return found

    def calls_in_doubt(self) -> list[CallInDoubt]:
        """Calls no answer has settled (a kill mid-call, an ambiguous answer), oldest first."""
        with self._ledger.engine.connect() as conn:
            calls = conn.execute(
                sa.select(event_calls.c.call_id, event_calls.c.opened_at).order_by(
                    event_calls.c.opened_at
                )
            ).all()
            found = []
            for call_id, opened_at in calls:
                rows = conn.execute(
                    sa.select(
                        events_in_doubt.c.event_key,
                        events_in_doubt.c.insert_id,
                        events_in_doubt.c.event_name,
                        events_in_doubt.c.event_time,
                        events_in_doubt.c.payload,
                    ).where(events_in_doubt.c.call_id == call_id)
                ).all()
                events = [
                    LedgerEvent(key, insert_id, name, _aware(time), payload.encode("utf-8"))
                    for key, insert_id, name, time, payload in rows
                ]
                found.append(CallInDoubt(call_id, _aware(opened_at), events))
        return found

    def events_visibility_delay(self) -> float:
        """The longest delay observed before an accepted event showed in ``GET /events``."""
        with self._ledger.engine.connect() as conn:
            seconds = conn.execute(
                sa.select(events_timing.c.seconds).where(events_timing.c.name == _VISIBILITY)
            ).scalar()
        return float(seconds or 0.0)

    def note_events_visibility_delay(self, seconds: float) -> None:
        """Keep ``seconds`` if it is longer than every delay observed so far."""
        with self._ledger.writing() as conn:
            now = _database_now(conn)
            row = {"name": _VISIBILITY, "seconds": seconds, "observed_at": now}
            insert_new(conn, events_timing, [row])
            conn.execute(
                sa.update(events_timing)
                .where(events_timing.c.name == _VISIBILITY, events_timing.c.seconds < seconds)
                .values(seconds=seconds, observed_at=now)
            )

    def prune_sent_events(self, older_than: dt.datetime) -> int:
        """Forget events whose time is before ``older_than``; returns how many rows went."""
        with self._ledger.writing() as conn:
            result = conn.execute(
                sa.delete(sent_events).where(sent_events.c.event_time < older_than)
            )
        return result.rowcount or 0

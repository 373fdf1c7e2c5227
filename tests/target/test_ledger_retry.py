"""A ledger transaction aborted for a deadlock runs again; an error that remains is one line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg.errors
import pytest
import sqlalchemy as sa

from target_brevo_tajo.events.ledger import EventLedger, LedgerEvent, event_key
from target_brevo_tajo.ledger import Ledger, LedgerError, retry
from target_brevo_tajo.ledger.schema import identities

WHEN = dt.datetime(2026, 11, 20, 10, tzinfo=dt.timezone.utc)


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The pauses between attempts, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    return slept


def deadlocks(ledger: Ledger, times: int, table: str) -> list[str]:
    """The database aborts the next ``times`` writes to ``table`` for a deadlock, as Postgres does.

    Returns the statements attempted on ``table``, aborted or not.
    """
    attempted: list[str] = []

    @sa.event.listens_for(ledger.engine, "before_cursor_execute")
    def abort(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if statement.startswith(("INSERT INTO " + table, "UPDATE " + table)):
            attempted.append(statement)
            if len(attempted) <= times:
                raise sa.exc.OperationalError(
                    statement,
                    parameters,
                    psycopg.errors.DeadlockDetected(
                        "deadlock detected\nDETAIL:  Process 1 waits for ShareLock on transaction 2"
                    ),
                )

    return attempted


def entry(insert_id: str) -> LedgerEvent:
    return LedgerEvent(event_key("Purchase", insert_id, WHEN), insert_id, "Purchase", WHEN, b"{}")


def test_a_write_aborted_for_a_deadlock_runs_again_after_a_short_random_pause(tmp_path, pauses):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    attempted = deadlocks(ledger, times=2, table="identities")

    ledger.learn_aliases({"$device:d1": "user-1", "$device:d2": "user-2"})

    assert len(attempted) == 3
    assert ledger.canonical_ids(["$device:d1", "$device:d2"]) == {
        "$device:d1": "user-1",
        "$device:d2": "user-2",
    }
    assert len(pauses) == 2
    assert 0 <= pauses[0] <= retry.FIRST_PAUSE
    assert 0 <= pauses[1] <= 2 * retry.FIRST_PAUSE


def test_a_write_that_deadlocks_every_time_gives_up_after_a_few_attempts_in_one_line(
    tmp_path, pauses
):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    attempted = deadlocks(ledger, times=1000, table="identities")

    with pytest.raises(LedgerError) as raised:
        ledger.learn_aliases({"$device:d1": "user-1"})

    assert len(attempted) == retry.ATTEMPTS
    assert len(pauses) == retry.ATTEMPTS - 1
    message = str(raised.value)
    assert "\n" not in message
    assert f"aborted a transaction {retry.ATTEMPTS} times for a deadlock" in message
    assert "40P01" in message
    assert "run again" in message
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(identities)).scalar() == 0


def test_events_given_as_a_generator_are_all_recorded_by_the_attempt_that_commits(tmp_path, pauses):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    deadlocks(ledger, times=1, table="sent_events")
    events = [entry(f"r-{i}") for i in range(5)]

    def one_by_one() -> Iterator[LedgerEvent]:
        yield from events

    EventLedger(ledger).record_sent_events(one_by_one())

    assert EventLedger(ledger).sent_event_keys(e.key for e in events) == {e.key for e in events}


def test_a_ledger_error_that_is_no_contention_is_not_retried_and_is_one_line(tmp_path, pauses):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE identities"))

    with pytest.raises(LedgerError) as raised:
        ledger.learn_aliases({"$device:d1": "user-1"})

    assert pauses == []
    assert str(raised.value) == (
        "the sync ledger failed: no such table: identities; check that its database is "
        "reachable and writable, then run again"
    )

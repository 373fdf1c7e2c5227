"""The ledger at the size of a long-lived project: millions of sent events.

- Its ``IN (...)`` queries come in a few fixed sizes, so a long run's memory stays flat. Each
  distinct SQL text is a statement Python's sqlite3 keeps prepared (128 per connection), and a
  prepared ``IN`` of hundreds of keys holds about 100 KB: lists of every length once grew the
  target by tens of megabytes over a 2M-event run.
- What an events call costs does not grow with the ledger: each statement it runs searches by
  key. A claim that walked every sent key once halved the target's speed at 1M sent events.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from target_brevo_tajo.events.ledger import EventLedger, LedgerEvent
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.ledger.in_lists import CHUNK, in_chunks

WHEN = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


def purchase(key: str) -> LedgerEvent:
    return LedgerEvent(key, f"insert-{key}", "Purchase", WHEN, b"{}")


@given(st.lists(st.text(max_size=6), max_size=3 * CHUNK))
def test_chunks_hold_each_key_in_order_padded_to_a_power_of_two(keys: list[str]) -> None:
    chunks = list(in_chunks(keys))
    assert [key for chunk in chunks for key in dict.fromkeys(chunk)] == sorted(set(keys))
    for chunk in chunks:
        assert len(chunk) <= CHUNK
        assert len(chunk) & (len(chunk) - 1) == 0  # a power of two
        padding = chunk[len(dict.fromkeys(chunk)) :]
        assert set(padding) <= {chunk[-1]}


def test_no_keys_no_chunk() -> None:
    assert list(in_chunks([])) == []


def test_lookups_of_every_length_use_ten_sql_texts(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    EventLedger(ledger).record_sent_events(purchase(f"key-{n}") for n in range(0, 1200, 2))
    texts: set[str] = set()
    sa.event.listen(ledger.engine, "before_cursor_execute", lambda *a: texts.add(a[2]))

    for length in range(1, 1200):
        keys = [f"key-{n}" for n in range(length)]
        assert EventLedger(ledger).sent_event_keys(keys) == {k for k in keys if int(k[4:]) % 2 == 0}

    assert len(texts) <= 10  # 1, 2, 4, ... 512 keys


def _plans(ledger: Ledger, statements: list[tuple[str, tuple]]) -> list[str]:
    with ledger.engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        return [
            f"{detail}  <-  {' '.join(sql.split())[:70]}"
            for sql, params in statements
            for *_ids, detail in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        ]


def test_an_events_call_searches_by_key_and_never_walks_a_table(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    EventLedger(ledger).record_sent_events(purchase(f"sent-{n}") for n in range(1000))
    batch = [purchase(f"key-{n}") for n in range(200)]
    statements: list[tuple[str, tuple]] = []

    def keep(_conn, _cursor, sql: str, params, _context, executemany: bool) -> None:
        if not executemany and not sql.startswith("PRAGMA"):
            statements.append((sql, tuple(params)))

    sa.event.listen(ledger.engine, "before_cursor_execute", keep)
    EventLedger(ledger).sent_event_keys(event.key for event in batch)
    claimed = EventLedger(ledger).open_call("call-1", batch, lease_seconds=60)
    EventLedger(ledger).settle_call("call-1", claimed)
    sa.event.remove(ledger.engine, "before_cursor_execute", keep)

    plans = _plans(ledger, statements)
    assert plans, "the call ran no statement"
    # "SCAN CONSTANT ROW" reads no table: it is the database's clock, which times the leases.
    walks = [
        plan
        for plan in plans
        if (plan.startswith("SCAN") and not plan.startswith("SCAN CONSTANT ROW"))
        or "IN-OPERATOR" in plan
    ]
    assert walks == []

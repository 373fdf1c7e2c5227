"""The ledger's ``IN (...)`` queries come in a few fixed sizes, so a long run's memory stays flat.

Each distinct SQL text is a statement Python's sqlite3 keeps prepared (128 per connection), and
a prepared ``IN`` of hundreds of keys holds about 100 KB. Lists of every length once grew the
target by tens of megabytes over a 2M-event run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from target_brevo_tajo.ledger import Ledger, LedgerEvent
from target_brevo_tajo.ledger.in_lists import CHUNK, in_chunks

WHEN = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


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
    ledger.record_sent_events(
        LedgerEvent(f"key-{n}", f"insert-{n}", "Purchase", WHEN, b"{}") for n in range(0, 1200, 2)
    )
    texts: set[str] = set()
    sa.event.listen(ledger.engine, "before_cursor_execute", lambda *a: texts.add(a[2]))

    for length in range(1, 1200):
        keys = [f"key-{n}" for n in range(length)]
        assert ledger.sent_event_keys(keys) == {k for k in keys if int(k[4:]) % 2 == 0}

    assert len(texts) <= 10  # 1, 2, 4, ... 512 keys

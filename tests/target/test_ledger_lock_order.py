"""Every worker writes the rows of a multi-row write in the order of their keys.

Each row written locks its key until the transaction ends: two workers writing the same keys in
different orders each waited for the other, and PostgreSQL aborted one for a deadlock.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from target_brevo_tajo.companies.ledger import CompanyLedger, SyncedCompany
from target_brevo_tajo.events.ledger import EventLedger, LedgerEvent, event_key
from target_brevo_tajo.ledger import Ledger

WHEN = dt.datetime(2026, 11, 20, 10, tzinfo=dt.timezone.utc)


def written(ledger: Ledger, table: str, column: int) -> list[list]:
    """The rows each statement writes to ``table``, as the ``column``-th of their parameters."""
    statements: list[list] = []

    @sa.event.listens_for(ledger.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if statement.startswith(f"INSERT INTO {table} "):
            rows = parameters if executemany else [parameters]
            statements.append([row[column] for row in rows])

    return statements


def test_identity_links_are_written_in_the_order_of_their_aliases(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    statements = written(ledger, "identities", 0)

    ledger.learn_aliases({"$device:c": "user-3", "$device:a": "user-1", "$device:b": "user-2"})

    assert statements == [["$device:a", "$device:b", "$device:c"]]


def test_a_call_claims_its_events_in_the_order_of_their_keys(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    statements = written(ledger, "events_in_doubt", 1)
    events = [
        LedgerEvent(event_key("Purchase", f"r-{i}", WHEN), f"r-{i}", "Purchase", WHEN, b"{}")
        for i in range(20)
    ]

    EventLedger(ledger).open_call("call-1", events, lease_seconds=60)

    assert statements == [sorted(e.key for e in events)]


def test_companies_are_written_in_the_order_of_their_groups(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    statements = written(ledger, "companies", 1)

    CompanyLedger(ledger).record_companies(
        "company", {g: SyncedCompany(f"id-{g}", "h") for g in ["g3", "g1", "g2"]}
    )

    assert statements == [["g1", "g2", "g3"]]

"""The ledger's copy of Mixpanel lookup tables: the last rows read of each table.

A run whose input carries no rows of a table (an hourly events-only run, a download Mixpanel
refused) still enriches its profiles and events with the rows kept here. Each row carries the id
of the run that last read it; a run that read a table to the end removes the rows it did not see.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from target_brevo_tajo.ledger.in_lists import in_chunks
from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import lookup_rows
from target_brevo_tajo.ledger.upserts import upsert


class _Ledger(Protocol):
    """What :class:`LookupLedger` uses of the ledger: its engine and write transactions."""

    engine: sa.Engine

    def writing(self) -> AbstractContextManager[sa.Connection]: ...


@dataclass(frozen=True)
class LookupRow:
    """One row of a Mixpanel lookup table: its table, its key, its other columns."""

    table_id: str
    table_name: str
    key: str
    values: dict[str, Any]


@retry_transactions
class LookupLedger:
    """Reads and writes the ``lookup_rows`` table of one ledger."""

    def __init__(self, ledger: _Ledger) -> None:
        self._ledger = ledger

    def rows(self) -> list[LookupRow]:
        """Every row kept, of every table."""
        columns = lookup_rows.c
        query = sa.select(columns.table_id, columns.table_name, columns.row_key, columns.row_values)
        with self._ledger.engine.connect() as conn:
            return [
                LookupRow(table_id, table_name, key, json.loads(values))
                for table_id, table_name, key, values in conn.execute(query)
            ]

    def record(self, rows: Iterable[LookupRow], run_id: str) -> None:
        """Keep these rows (a row already kept is replaced), as read by run ``run_id``."""
        now = dt.datetime.now(dt.timezone.utc)
        values = [
            {
                "table_id": row.table_id,
                "row_key": row.key,
                "table_name": row.table_name,
                "row_values": json.dumps(row.values, sort_keys=True),
                "run_id": run_id,
                "updated_at": now,
            }
            for row in {(row.table_id, row.key): row for row in rows}.values()
        ]
        with self._ledger.writing() as conn:
            upsert(conn, lookup_rows, values, key=["table_id", "row_key"])

    def forget_unread(self, table_ids: Iterable[str], run_id: str) -> None:
        """Remove the rows of these tables that run ``run_id`` did not read: gone from Mixpanel."""
        with self._ledger.writing() as conn:
            for ids in in_chunks(table_ids):
                conn.execute(
                    sa.delete(lookup_rows).where(
                        lookup_rows.c.table_id.in_(ids), lookup_rows.c.run_id != run_id
                    )
                )

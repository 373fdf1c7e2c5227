"""Mixpanel lookup tables: rows held for the joins, kept in the ledger for later runs.

Nothing goes to Brevo: the rows reach it through the profiles and events they enrich
(:mod:`target_brevo_tajo.lookups.tables` says when each row applies).
"""

from __future__ import annotations

from target_brevo_tajo.lookups.ledger import LookupLedger, LookupRow
from target_brevo_tajo.lookups.tables import LookupTables
from target_brevo_tajo.report import SyncReport


class LookupWriter:
    """Holds each row as it arrives; keeps each batch in the ledger; prunes after a whole run."""

    def __init__(self, *, tables: LookupTables, ledger: LookupLedger, report: SyncReport) -> None:
        self.tables = tables
        self._ledger = ledger
        self._report = report

    def take(self, record: dict) -> LookupRow | None:
        """Hold the row for the joins at once; returns it when the ledger should keep it."""
        outcome = self.tables.add(record)
        if isinstance(outcome, str):
            self._report.lookups.rows_rejected += 1
            self._report.reject("lookup_tables", outcome, record)
            return None
        return outcome

    def keep(self, rows: list[LookupRow]) -> None:
        """Keep a batch's rows for runs whose input carries none (before STATE moves on)."""
        if rows:
            self._ledger.record(rows, self._report.run_id)

    def finish(self, *, complete: bool) -> None:
        """After a whole run, drop the kept rows its tables no longer have; then report.

        A failed run may have read part of a table: it removes nothing.
        """
        if complete:
            self._ledger.forget_unread(self.tables.read_this_run, self._report.run_id)
        self._report.lookups.tables = self.tables.summary()

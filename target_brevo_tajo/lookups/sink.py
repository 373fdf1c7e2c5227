"""Mixpanel lookup table rows -> joined onto profiles and events (the work is LookupWriter's)."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.sinks.base import BrevoSink


class LookupTablesSink(BrevoSink):
    """Holds each row for the joins as soon as it arrives; each batch is kept in the ledger."""

    MAX_SIZE_DEFAULT = 5000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookups = self.writers.lookups

    def start_batch(self, context: dict) -> None:
        """Each batch collects the rows the ledger keeps."""
        context["rows"] = []

    def count_rejected(self) -> None:
        """A row rejected whole: received, not held."""
        self.writers.report.lookups.rows_received += 1
        self.writers.report.lookups.rows_rejected += 1

    def take(self, record: dict, context: dict) -> None:
        """Profiles and events drained after this record are joined with it: hold it now."""
        row = self.lookups.take(record)
        if row is not None:
            context["rows"].append(row)

    def process_batch(self, context: dict) -> None:
        """Keep the batch's rows in the ledger."""
        self.lookups.keep(context["rows"])

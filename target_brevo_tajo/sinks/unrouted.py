"""Streams the mapping does not route to a Brevo resource: counted and reported, never sent."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.sinks.base import BrevoSink


class UnroutedSink(BrevoSink):
    """Counts the records of a stream with no Brevo destination so the report can name it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._report = self.writers.report
        self.logger.warning(
            "Stream %r is not routed to a Brevo resource; its records will be counted and "
            "ignored (route it with `routes:` in the mapping file)",
            self.stream_name,
        )

    def preprocess_record(self, record: dict, context: dict) -> dict:  # noqa: ARG002
        """Records never written keep the Singer protocol's strictness on key properties.

        Poison tolerance guards what reaches Brevo; for a stream that goes nowhere, the SDK's
        standard behaviour (and its standard tests) stand.
        """
        return record

    def take(self, record: dict, context: dict) -> None:  # noqa: ARG002
        """Count the record; nothing is kept."""
        self._report.unrouted_streams[self.stream_name] += 1

    def process_batch(self, context: dict) -> None:
        """Nothing to write."""

"""Mixpanel events -> Brevo custom events (the work is :class:`EventWriter`'s)."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.events.admission import EventBatch
from target_brevo_tajo.sinks.base import BrevoSink


class EventsSink(BrevoSink):
    """Routes Mixpanel event records to Brevo's ``POST /events/batch``."""

    # 5 full calls: they go out while the next batch is read (about a fifth of the time they
    # take at Brevo's 10 calls/s), and the first call leaves after 1,000 events, not 2,000.
    MAX_SIZE_DEFAULT = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events = self.writers.events

    def start_batch(self, context: dict) -> None:
        """Each batch collects its events apart."""
        context["batch"] = EventBatch()

    def count_rejected(self) -> None:
        """Its reject counts under its reason; it was received all the same."""
        self.writers.report.events.received += 1

    def take(self, record: dict, context: dict) -> None:
        """Keep a mapped event for the batch; every other outcome is counted."""
        self.events.admit(record, context["batch"])

    def process_batch(self, context: dict) -> None:
        """Queue the batch's calls; the target waits for their answers before each STATE."""
        self.events.send(context["batch"])

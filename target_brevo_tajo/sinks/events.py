"""Mixpanel events -> Brevo custom events (the work is :class:`EventWriter`'s)."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.sinks.base import BrevoSink
from target_brevo_tajo.writers.events import EventBatch


class EventsSink(BrevoSink):
    """Routes Mixpanel event records to Brevo's ``POST /events/batch``."""

    MAX_SIZE_DEFAULT = 10000  # 50 full calls: the calls in flight rarely wait for the next batch

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events = self.writers.events

    def start_batch(self, context: dict) -> None:
        """Each batch collects its events apart."""
        context["batch"] = EventBatch()

    def take(self, record: dict, context: dict) -> None:
        """Keep a mapped event for the batch; every other outcome is counted."""
        self.events.admit(record, context["batch"])

    def process_batch(self, context: dict) -> None:
        """Send the batch; returns only once Brevo's answers are in the ledger."""
        self.events.send(context["batch"])

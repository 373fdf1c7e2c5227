"""Mixpanel profiles -> Brevo contacts (the work is :class:`ContactWriter`'s)."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.ledger.ids import id_problem
from target_brevo_tajo.sinks.base import BrevoSink


class ContactsSink(BrevoSink):
    """Routes Mixpanel profile records to Brevo contacts through bulk imports."""

    MAX_SIZE_DEFAULT = 10000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contacts = self.writers.contacts
        self._report = self.writers.report.contacts

    def start_batch(self, context: dict) -> None:
        """Each batch holds the latest record of each profile."""
        context["profiles"] = {}

    def take(self, record: dict, context: dict) -> None:
        """Keep the profile for the batch (a later record of the same profile wins)."""
        self._report.received += 1
        distinct_id = record.get("distinct_id")
        if not distinct_id:
            self._report.rejected += 1
            self.writers.report.reject("profiles", "no distinct_id", record)
            return
        unstorable = id_problem("distinct_id", distinct_id)
        if unstorable:
            self._report.rejected += 1
            self.writers.report.reject("profiles", unstorable, record)
            return
        if str(distinct_id) in context["profiles"]:
            self._report.deduplicated += 1
        context["profiles"][str(distinct_id)] = record

    def count_rejected(self) -> None:
        """A profile rejected whole: received, not synced."""
        self._report.received += 1
        self._report.rejected += 1

    def process_batch(self, context: dict) -> None:
        """Import the batch's new and changed contacts; returns once Brevo has them."""
        profiles = list(context["profiles"].values())
        self.contacts.write(profiles)
        self.writers.companies.observe_members(profiles)

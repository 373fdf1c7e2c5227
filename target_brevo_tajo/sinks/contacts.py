"""Mixpanel profiles -> Brevo contacts (the work is :class:`ContactWriter`'s)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

if TYPE_CHECKING:
    from target_brevo_tajo.target import TargetBrevoTajo


class ContactsSink(BatchSink):
    """Routes Mixpanel profile records to Brevo contacts through bulk imports."""

    MAX_SIZE_DEFAULT = 10000

    def __init__(self, target: TargetBrevoTajo, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.services = target.services
        self._report = self.services.report.contacts

    def start_batch(self, context: dict) -> None:
        """Each batch holds the latest record of each profile."""
        context["profiles"] = {}

    def process_record(self, record: dict, context: dict) -> None:
        """Keep the profile for the batch (a later record of the same profile wins)."""
        self._report.received += 1
        distinct_id = record.get("distinct_id")
        if not distinct_id:
            self._report.values_rejected["profile without distinct_id"] += 1
            self.services.report.reject("profiles", "no distinct_id", record)
            return
        context["profiles"][str(distinct_id)] = record
        refresh_id = record.get("full_refresh_id")
        if refresh_id:
            self.services.full_refresh_ids.add(str(refresh_id))

    def process_batch(self, context: dict) -> None:
        """Import the batch's new and changed contacts; returns once Brevo has them."""
        self.services.contacts.write(list(context["profiles"].values()))

"""Mixpanel group profiles -> Brevo companies (the work is :class:`CompanyWriter`'s)."""

from __future__ import annotations

from target_brevo_tajo.ledger.ids import first_id_problem
from target_brevo_tajo.sinks.base import BrevoSink


class CompaniesSink(BrevoSink):
    """Routes group profile records to Brevo companies through bulk imports."""

    MAX_SIZE_DEFAULT = 1000

    def start_batch(self, context: dict) -> None:
        """Each batch holds the latest record of each group."""
        context["groups"] = {}

    def take(self, record: dict, context: dict) -> None:
        """Keep the group for the batch (a later record of the same group wins)."""
        report = self.writers.report.companies
        report.received += 1
        if not record.get("group_key") or not record.get("group_id"):
            report.rejected += 1
            self.writers.report.reject(self.stream_name, "no group_key or group_id", record)
            return
        unstorable = first_id_problem(
            [("group_key", record["group_key"]), ("group_id", record["group_id"])]
        )
        if unstorable:
            report.rejected += 1
            self.writers.report.reject(self.stream_name, unstorable, record)
            return
        group = (str(record["group_key"]), str(record["group_id"]))
        if group in context["groups"]:
            report.deduplicated += 1
        context["groups"][group] = record
        self.writers.companies.note_group_key(group[0])

    def count_rejected(self) -> None:
        """A group rejected whole: received, not written."""
        self.writers.report.companies.received += 1
        self.writers.report.companies.rejected += 1

    def process_batch(self, context: dict) -> None:
        """Import the batch's new and changed companies; returns once Brevo has them."""
        self.writers.companies.write(list(context["groups"].values()))

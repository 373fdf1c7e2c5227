"""Mixpanel cohorts and their members -> Brevo lists (the work is :class:`ListWriter`'s)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from target_brevo_tajo.ledger.ids import id_problem
from target_brevo_tajo.lists.api import LIST_CALL_MAX
from target_brevo_tajo.sinks.base import BrevoSink


class CohortsSink(BrevoSink):
    """Registers each cohort to sync (name, list, mode) as soon as its record arrives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists = self.writers.lists

    def take(self, record: dict, context: dict) -> None:  # noqa: ARG002
        """Members of this cohort follow its record: register it now, not at the drain."""
        self.lists.register(record)

    def process_batch(self, context: dict) -> None:
        """Nothing is written for the cohort itself (its members find it registered)."""


class CohortMembersSink(BrevoSink):
    """Adds each batch's cohort members to the cohort's list."""

    # Whole membership calls: 10,000 made each batch's last call one of 100 (670 for 667).
    MAX_SIZE_DEFAULT = 66 * LIST_CALL_MAX
    # The first batch is a second of calls: they start while the rest of the cohort is read.
    FIRST_BATCH = 10 * LIST_CALL_MAX

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists = self.writers.lists
        self._drained = False

    @property
    def is_full(self) -> bool:
        """Full at :data:`FIRST_BATCH` members the first time, at the batch size after."""
        limit = self.max_size if self._drained else min(self.FIRST_BATCH, self.max_size)
        return self.current_size >= limit

    def start_batch(self, context: dict) -> None:
        """Members by cohort."""
        context["members"] = defaultdict(dict)

    def take(self, record: dict, context: dict) -> None:
        """Keep the member under its cohort (a repeated member counts once)."""
        report = self.writers.report.cohort_members
        report.received += 1
        if not record.get("distinct_id") or record.get("cohort_id") is None:
            report.rejected += 1
            self.writers.report.reject("cohort_members", "no cohort_id or distinct_id", record)
            return
        if unstorable := id_problem("distinct_id", record["distinct_id"]):
            report.rejected += 1
            self.writers.report.reject("cohort_members", unstorable, record)
            return
        if undescribed := self.lists.undescribed(int(record["cohort_id"])):
            report.rejected += 1
            self.writers.report.reject("cohort_members", undescribed, record)
            return
        members = context["members"][int(record["cohort_id"])]
        if str(record["distinct_id"]) in members:
            report.deduplicated += 1
        members[str(record["distinct_id"])] = record

    def count_rejected(self) -> None:
        """A member rejected whole: received, not added."""
        self.writers.report.cohort_members.received += 1
        self.writers.report.cohort_members.rejected += 1

    def process_batch(self, context: dict) -> None:
        """Queue the batch's add calls (:meth:`ListWriter.add_members`)."""
        self._drained = True
        for cohort_id, members in context["members"].items():
            self.lists.add_members(cohort_id, list(members.values()))

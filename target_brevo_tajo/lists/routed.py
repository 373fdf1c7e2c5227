"""A stream routed to a Brevo list: its rows of one run are the list's members (a snapshot).

The list is synced as a cohort's is (:class:`ListWriter`): members the list lacks are added as
they come, a member who is not a contact yet is created, and in ``mirror`` mode the members
who left are removed at the end of the run, with the periodic read-back that repairs drift.
Members are matched by ``EXT_ID``, as cohort lists are. The snapshot is complete only when the
run ended without failure and a STATE followed the stream's last row: a tap cut short sends no
STATE after its last rows, and a run that read no row of the stream removes no one.
"""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.ledger.ids import id_problem
from target_brevo_tajo.lists.sink import CohortMembersSink
from target_brevo_tajo.sinks.routed import RoutedSink


class RoutedListSink(RoutedSink, CohortMembersSink):
    """A stream's rows as members of one Brevo list, through the list writer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cohort_key = self.lists.register_route(
            self.stream_name, int(self.route.list_id or 0), self.route.mode
        )

    def take(self, record: dict, context: dict) -> None:
        """Keep the row's member (a repeated member counts once); reject a row without one."""
        report = self.writers.report.cohort_members
        report.received += 1
        field = self.route.id_field
        value = self.field_value(record, field)
        _, member = self.route.identifier(value) if value is not None else ("", "")
        problem = (
            f"no {field}: a route to list needs it" if value is None else id_problem(field, member)
        )
        if problem:
            report.rejected += 1
            self.writers.report.reject(self.stream_name, problem, record)
            return
        self.lists.route_rows_read(self.stream_name)
        members = context["members"][self.cohort_key]
        if member in members:
            report.deduplicated += 1
        members[member] = {"distinct_id": member}

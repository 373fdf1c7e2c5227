"""A stream routed to Brevo companies: each row a company, sent only when it changed.

A row's ``id_field`` value identifies its company; the companies writer keeps it in its ledger
under the group key ``route:<stream>`` (the company's "Mixpanel group" attribute holds
``route:<stream>:<id>``, which finds it again), with the hash of what was sent. ``name_field``
names the company (default: the id); ``fields`` become company attributes, typed like
``group_mapping``'s. These companies have no Mixpanel members: no contact is linked to them.
"""

from __future__ import annotations

from typing import Any

from mixpanel_brevo_mapping import Route
from target_brevo_tajo.companies.rows import CompanyRow
from target_brevo_tajo.companies.sink import CompaniesSink
from target_brevo_tajo.companies.writer import ROUTED
from target_brevo_tajo.ledger.ids import id_problem
from target_brevo_tajo.sinks.routed import RoutedSink


def routed_company(
    route: Route, group_key: str, company_id: str, row: dict[str, Any]
) -> CompanyRow:
    """The company a row asks for: its name (else its id) and its mapped values."""
    name = row.get(route.name_field) if route.name_field else None
    values = {
        label: row[field]
        for field, label in route.fields.items()
        if row.get(field) not in (None, "")
    }
    return CompanyRow(
        group_key=group_key,
        group_id=company_id,
        name=str(name) if name not in (None, "") else company_id,
        values=values,
        full_refresh_id=None,
    )


class RoutedCompaniesSink(RoutedSink, CompaniesSink):
    """A stream's rows as Brevo companies, through the companies writer (ledger, imports)."""

    def take(self, record: dict, context: dict) -> None:
        """Keep the row under its company (a later row of the same company wins)."""
        report = self.writers.report.companies
        report.received += 1
        field = self.route.id_field
        value = self.field_value(record, field)
        company_id = str(value).strip() if value is not None else ""
        problem = (
            f"no {field}: a route to companies needs it"
            if value is None
            else id_problem(field, company_id)
        )
        if problem:
            report.rejected += 1
            self.writers.report.reject(self.stream_name, problem, record)
            return
        if company_id in context["groups"]:
            report.deduplicated += 1
        context["groups"][company_id] = record

    def process_batch(self, context: dict) -> None:
        """Import the batch's new and changed companies; returns once Brevo has them."""
        group_key = f"{ROUTED}{self.stream_name}"
        rows = [
            routed_company(self.route, group_key, company_id, record)
            for company_id, record in context["groups"].items()
        ]
        self.writers.companies.write_rows(group_key, rows)

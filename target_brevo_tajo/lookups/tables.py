"""Mixpanel lookup tables held in memory and joined onto profiles and events (no I/O).

Order. The tap sends the ``lookup_tables`` stream first. Its rows are held here as each record
is read (the sink's ``take``), not when its batch drains, and profiles and events are joined
when their own batches drain, after the records they hold were read. So every row that arrived
before a profile or an event is applied to it, whatever the SDK's batching and drain order; a row
that arrives after a batch drained is not applied to that batch.

Durability. A run whose input carries no rows of a table (an hourly events-only run, a table
whose download Mixpanel refused) joins the rows the ledger kept from the last run that read it
(:class:`~target_brevo_tajo.lookups.ledger.LookupLedger`). The first row of a table in a run
replaces the kept rows of that table in memory, so rows deleted from Mixpanel stop enriching.
A table named by ``lookup_enrichment`` with no rows anywhere is reported, and enriches nothing.

Matching. A property value is a key as text (``5`` and ``5.0`` are ``"5"``); lists, objects
and booleans are not keys. A key the table lacks enriches nothing and is counted by table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from mixpanel_brevo_mapping import LookupEnrichment, LookupTarget
from target_brevo_tajo.json_body import encode_json
from target_brevo_tajo.lookups.ledger import LookupRow
from target_brevo_tajo.report import LookupReport

logger = logging.getLogger("target-brevo-tajo")


@dataclass
class _Table:
    """One lookup table's rows by key, and where they came from."""

    table_id: str
    name: str
    source: str  # "this run" or "ledger"
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


def key_text(value: Any) -> str | None:
    """A property value as a lookup key, or None when it cannot be one."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    if isinstance(value, (int, float, Decimal)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


class LookupTables:
    """The rows of the lookup tables ``lookup_enrichment`` names, and the joins onto records."""

    def __init__(
        self, enrichments: list[LookupEnrichment], stored: Iterable[LookupRow], report: LookupReport
    ) -> None:
        self._enrichments = enrichments
        self._report = report
        self._referenced = {entry.table for entry in enrichments}
        self._tables: dict[str, _Table] = {}
        self.read_this_run: set[str] = set()  # table ids whose rows this run's input carried
        self._warned: set[str] = set()
        for row in stored:
            if self._names(row):
                self._table(row, "ledger").rows[row.key] = row.values

    def _names(self, row: LookupRow) -> bool:
        return row.table_id in self._referenced or row.table_name in self._referenced

    def _table(self, row: LookupRow, source: str) -> _Table:
        table = self._tables.get(row.table_id)
        if table is None:
            table = self._tables[row.table_id] = _Table(row.table_id, row.table_name, source)
        return table

    def add(self, record: dict[str, Any]) -> LookupRow | str | None:
        """Hold one ``lookup_tables`` record: the row to keep, a problem, or None (not named).

        The first row of a table in this run replaces the rows kept from an earlier run.
        """
        self._report.rows_received += 1
        table_id, key, values = record.get("table_id"), record.get("key"), record.get("values")
        if table_id in (None, "") or key_text(key) is None:
            return "no table_id or key"
        if not isinstance(values, dict):
            return "values is not an object"
        # As the ledger hands them back (numbers as JSON numbers): a run reading the table and
        # a run reading the ledger then fill the same attribute values.
        plain = msgspec.json.decode(encode_json(values))
        row = LookupRow(
            str(table_id), str(record.get("table_name") or table_id), key_text(key) or "", plain
        )
        if not self._names(row):
            self._report.rows_ignored += 1
            return None
        if row.table_id not in self.read_this_run:
            self.read_this_run.add(row.table_id)
            self._tables.pop(row.table_id, None)
        self._table(row, "this run").rows[row.key] = row.values
        self._report.rows_held += 1
        return row

    def _resolve(self, reference: str) -> _Table | None:
        """The table an enrichment names, by id first, then by name."""
        table = self._tables.get(reference)
        if table is not None:
            return table
        for candidate in sorted(self._tables.values(), key=lambda t: t.table_id):
            if candidate.name == reference:
                return candidate
        if reference not in self._warned:
            self._warned.add(reference)
            self._report.tables_missing.append(reference)
            logger.warning(
                "Lookup table %r has no rows (not in this run's input nor kept from an earlier "
                "run): its enrichment is skipped; check the tap's lookup_tables stream",
                reference,
            )
        return None

    def enrich(self, properties: dict[str, Any], target: LookupTarget) -> dict[str, Any]:
        """The attributes the lookup tables give a profile's or an event's ``properties``."""
        found: dict[str, Any] = {}
        for entry in self._enrichments:
            if not entry.applies_to(target):
                continue
            key = key_text(properties.get(entry.source_property))
            if key is None:
                continue
            table = self._resolve(entry.table)
            if table is None:
                continue
            row = table.rows.get(key)
            if row is None:
                self._report.keys_not_found[table.name] += 1
                continue
            for column, attribute in entry.attributes.items():
                value = row.get(column)
                if value is not None and value != "":
                    found[attribute] = value
        if found:
            if target == "profiles":
                self._report.profiles_enriched += 1
            else:
                self._report.events_enriched += 1
        return found

    def samples(self) -> dict[str, Any]:
        """A value of each attribute that profiles get, from its table: it types the attribute.

        A table's column types its attribute whichever profiles of a batch match its rows.
        """
        samples: dict[str, Any] = {}
        for entry in self._enrichments:
            table = self._resolve(entry.table) if entry.applies_to("profiles") else None
            if table is None:
                continue
            for column, attribute in entry.attributes.items():
                for row in table.rows.values():
                    value = row.get(column)
                    if value is not None and value != "":
                        samples.setdefault(attribute, value)
                        break
        return samples

    def summary(self) -> dict[str, dict[str, Any]]:
        """The tables held, by name, for the report; and the columns named that no row has."""
        columns_missing = self._report.columns_missing
        for entry in self._enrichments:
            table = self._tables.get(entry.table) or next(
                (t for t in self._tables.values() if t.name == entry.table), None
            )
            if table is None:
                continue
            for column in entry.attributes:
                where = f"{table.name}.{column}"
                if where not in columns_missing and not any(
                    column in row for row in table.rows.values()
                ):
                    columns_missing.append(where)
        return {
            table.name: {
                "table_id": table.table_id,
                "rows": len(table.rows),
                "source": table.source,
            }
            for table in self._tables.values()
        }

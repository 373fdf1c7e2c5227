"""The ``lookup_tables`` stream: the rows of Mixpanel lookup tables, one record per row.

Which tables exist comes from the documented list (``GET /lookup-tables``: id and name). Their
rows can only come from the undocumented App API: its own list gives each table's
data-group-id, its download the CSV. Where Mixpanel refuses either (403/404, an account
without the App API), or ``lookup_tables_app_api`` is false, a table is read from its source
CSV in ``lookup_table_sources`` (the file users upload to Mixpanel). Without one, the table ends
with one line saying what to set, and the run goes on: no other stream depends on it.

Every run is a full snapshot, read as a stream (never a whole CSV in memory). The tap emits this
stream first (``TapMixpanelTajo.streams``): the target holds the rows and joins them onto the
profiles and events that come after.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.http_errors import MixpanelError
from tap_mixpanel_tajo.lookup_csv import CsvRows, LookupCsvError, describe, source_lines, text_lines
from tap_mixpanel_tajo.streams.base import MixpanelStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

WHAT_TO_SET = (
    "set lookup_table_sources: {{{name}: <path or https URL of the CSV uploaded to Mixpanel>}} "
    "to read it from its source file"
)


@dataclass(frozen=True)
class LookupTable:
    """One table of the documented list: ``id`` is the uuid Lexicon shows."""

    id: str
    name: str

    @property
    def label(self) -> str:
        """How log lines name the table."""
        return f"lookup table {self.name!r} ({self.id})"


def listed_table(raw: dict[str, Any]) -> LookupTable | None:
    """One entry of the documented list (None without an id)."""
    table_id = raw.get("id")
    if table_id in (None, ""):
        return None
    return LookupTable(str(table_id), str(raw.get("name") or table_id))


class LookupTablesStream(MixpanelStream):
    """Lookup table rows (full table); ``values`` holds a row's columns, typed as Mixpanel does."""

    name = "lookup_tables"
    primary_keys = ("table_id", "key")
    replication_key = None

    schema = th.PropertiesList(
        th.Property(
            "table_id",
            th.StringType,
            required=True,
            description="The lookup table's id (the uuid Lexicon shows and the replace API takes).",
        ),
        th.Property("table_name", th.StringType, description="The lookup table's name."),
        th.Property(
            "key",
            th.StringType,
            required=True,
            description="The row key: the CSV's first column, matched by event and profile values.",
        ),
        th.Property(
            "values",
            th.ObjectType(),
            description=(
                "The row's other columns by header name, typed as Mixpanel parses them: numbers, "
                "booleans, lists of strings, text (RFC 3339 times stay text); empty cells left out."
            ),
        ),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:  # noqa: ARG002
        """Each row of each table to read, from the App API download or the table's source."""
        skip = self.mixpanel_tap.selection.skip_reason(self.name)
        if skip:
            self.logger.info("Skipping the lookup_tables stream: %s", skip)
            return
        tables = self._tables_to_read()
        if not tables:
            return
        data_groups, why_not_listed = self._data_groups()
        for table in tables:
            group_id = data_groups.get(table.name)
            yield from self._table_records(table, group_id, why_not_listed)

    @property
    def _sources(self) -> dict[str, str]:
        return self.mixpanel_tap.settings.lookup_table_sources

    def _tables_to_read(self) -> list[LookupTable]:
        """The listed tables the mapping joins on (all without a mapping); [] if the list fails."""
        tap = self.mixpanel_tap
        refs = tap.selection.lookup_table_refs()
        if refs is not None and not refs:
            self.logger.info("lookup_tables: the mapping joins on no lookup table, nothing to read")
            return []
        try:
            raw_tables = tap.client.list_lookup_tables()
        except MixpanelError as exc:
            self.logger.warning("lookup_tables: not read (%s); the other streams carry on", exc)
            return []
        listed = [table for table in map(listed_table, raw_tables) if table is not None]
        known = {name for table in listed for name in (table.id, table.name)}
        names = ", ".join(repr(table.name) for table in listed) or "none"
        for ref in sorted((refs or set()) - known):
            self.logger.warning(
                "lookup_tables: the mapping's lookup_enrichment names table %r, which Mixpanel "
                "does not list (tables: %s)",
                ref,
                names,
            )
        for ref in sorted(set(self._sources) - known):
            self.logger.warning(
                "lookup_tables: lookup_table_sources names table %r, which Mixpanel does not "
                "list (tables: %s)",
                ref,
                names,
            )
        wanted = [t for t in listed if refs is None or t.id in refs or t.name in refs]
        self.logger.info(
            "lookup_tables: %d listed by Mixpanel, %d to read%s",
            len(listed),
            len(wanted),
            f": {', '.join(repr(t.name) for t in wanted)}" if wanted else "",
        )
        return wanted

    def _data_groups(self) -> tuple[dict[str, str], str]:
        """Each table's data-group-id by name, and why a table may have none."""
        if not self.mixpanel_tap.settings.lookup_tables_app_api:
            return {}, "lookup_tables_app_api is false"
        try:
            entries = self.mixpanel_tap.client.list_lookup_table_groups()
        except MixpanelError as exc:
            return {}, str(exc)
        groups = {
            str(entry["name"]): str(entry["id"])
            for entry in entries
            if entry.get("name") and entry.get("id") not in (None, "")
        }
        return groups, "the App API lists no lookup table of that name"

    def _table_records(
        self, table: LookupTable, group_id: str | None, why_not: str
    ) -> Iterator[dict[str, Any]]:
        """One table's rows: downloaded, else from its source, else one line and none."""
        if group_id is not None:
            download = CsvRows(text_lines(self.mixpanel_tap.client.iter_lookup_table(group_id)))
            try:
                yield from self._records(table, download, "the App API download")
            except (MixpanelError, LookupCsvError) as exc:
                why_not = f"{exc}, after {download.rows} rows" if download.rows else str(exc)
            else:
                return
        source = self._sources.get(table.id) or self._sources.get(table.name)
        if source is None:
            self.logger.warning(
                "%s: rows not read (%s); %s",
                table.label,
                why_not,
                WHAT_TO_SET.format(name=table.name),
            )
            return
        self.logger.info("%s: reading its source %s (%s)", table.label, describe(source), why_not)
        timeout = self.mixpanel_tap.settings.request_timeout_seconds
        try:
            with source_lines(source, timeout_seconds=timeout) as lines:
                yield from self._records(table, CsvRows(lines), f"its source {describe(source)}")
        except LookupCsvError as exc:
            self.logger.warning(
                "%s: rows not read from its source %s (%s); the other streams carry on",
                table.label,
                describe(source),
                exc,
            )

    def _records(self, table: LookupTable, rows: CsvRows, origin: str) -> Iterator[dict[str, Any]]:
        for key, values in rows:
            yield {"table_id": table.id, "table_name": table.name, "key": key, "values": values}
        if rows.skipped:
            self.logger.warning(
                "%s: skipped %d row(s) with an empty key or a field count other than the "
                "header's (the first at line %d)",
                table.label,
                rows.skipped,
                rows.first_skipped_line,
            )
        self.logger.info("%s: %d rows from %s", table.label, rows.rows, origin)

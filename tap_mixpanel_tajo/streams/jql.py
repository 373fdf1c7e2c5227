"""The ``jql_<name>`` streams: one per query of ``jql_queries``, built from the config.

Each stream ``POST``s its script to ``/api/query/jql`` (a Query API call, within the run's
budget) and emits one record per row of the JSON array Mixpanel answers: an object row as it is,
any other row (a number, a list) as ``{"value": row}``. Records are keyed by the query's
``primary_keys``, so a re-read replaces rather than duplicates. A query whose ``params`` hold
``{{start_date}}``/``{{end_date}}`` reads windows of days from its bookmark (or ``start_date``),
filling them in; any other query is read whole each run. The schema is declared, or learned
from the rows as they come (:mod:`~tap_mixpanel_tajo.streams.jql_schema`).

JQL is in maintenance mode: the stream's description says so, and one INFO line when it runs.
When Mixpanel answers that JQL is unavailable to the project, or the script throws, the stream
ends with one ERROR line and the others carry on; the tap then ends the run with a non-zero
exit naming it (:meth:`~tap_mixpanel_tajo.tap.TapMixpanelTajo.sync_all`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tap_mixpanel_tajo.http_errors import JqlFailure, MixpanelError
from tap_mixpanel_tajo.jql_settings import JqlQuery
from tap_mixpanel_tajo.streams.jql_schema import JQL_MAINTENANCE, InferredSchema, jql_schema
from tap_mixpanel_tajo.streams.reports import ReportStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_mixpanel_tajo.tap import TapMixpanelTajo


class JqlStream(ReportStream):
    """One configured JQL query's rows (``jql_<name>``)."""

    maintenance_notice = JQL_MAINTENANCE

    def __init__(self, tap: TapMixpanelTajo, query: JqlQuery) -> None:
        self.jql = query
        super().__init__(tap, schema=jql_schema(query), name=query.stream_name)
        self.primary_keys = query.primary_keys
        self.replication_key = query.replication_key
        self._inferred = None if query.schema else InferredSchema(self.schema, query.primary_keys)

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read the query (window by window when incremental); a JQL failure ends the stream."""
        self.notice_use()
        try:
            if self.jql.incremental:
                yield from self.read_windows(context, self.name, self.read)
            else:
                yield from self.read(None, None)
        except JqlFailure as exc:
            self.logger.error("%s: %s; this stream ends here, the others carry on", self.name, exc)
            self.mixpanel_tap.jql_failures[self.name] = str(exc)

    def announce(self, rows: list[dict[str, Any]]) -> None:
        """Send a wider SCHEMA before ``rows`` when they show new fields or types.

        Only without a declared schema. The stream's maps are rebuilt from the wider schema,
        as the SDK builds them from a cataloged one, so stream maps and flattening apply.
        """
        widened = self._inferred.widen(rows) if self._inferred else None
        if widened is None:
            return
        self._schema = widened
        self._tap.mapper.register_raw_stream_schema(self.name, widened, self.primary_keys)
        self._stream_maps = None
        self._write_schema_message()

    def read(self, from_date: str | None, to_date: str | None) -> Iterator[dict[str, Any]]:
        """Run the script once (with one window's days) and yield a record per row."""
        form = {"script": self.jql.script}
        params = self.jql.params
        if from_date and to_date:
            params = self.jql.params_for(from_date, to_date)
        if params:
            form["params"] = json.dumps(params)
        days = f" {from_date}..{to_date}" if from_date else ""
        what = f"JQL query {self.jql.name}{days}"
        client = self.mixpanel_tap.client
        body = client.request_json("POST", client.query_url("jql"), data=form, what=what)
        if not isinstance(body, list):
            msg = f"{what}: Mixpanel answered with something other than a JSON array of rows"
            raise MixpanelError(msg)
        rows = [row if isinstance(row, dict) else {"value": row} for row in body]
        for index, record in enumerate(rows):
            missing = [key for key in self.jql.primary_keys if record.get(key) is None]
            if missing:
                msg = (
                    f"{what}: row {index} has no {', '.join(missing)} (primary_keys); make the "
                    "script return it in every row"
                )
                raise JqlFailure(msg)
        self.announce(rows)
        yield from rows
        if not self.jql.incremental:
            self.logger.info("%s: %d records", what, len(body))

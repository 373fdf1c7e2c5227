"""The ``segmentation`` and ``retention`` streams: the queries their settings declare.

Each query is one state partition, keyed by its ``query`` value (its ``name``, or a short hash
of its canonical JSON: see :func:`~tap_mixpanel_tajo.report_settings.query_key`), incremental on
``date``. Records are one per query, segment and date. Retention re-reads
``report_lookback_days`` before the bookmark (a cohort's later intervals keep filling in);
segmentation counts are final once their day is over, so it re-reads only the bookmark's day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.streams.reports import ReportStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

SEGMENTATION_MAINTENANCE = (
    "Mixpanel's Segmentation Query API is in maintenance mode since 2026-07-01 (Mixpanel "
    "advises against new use): prefer a saved report read through the insights stream "
    "(bookmark_ids)"
)


def _key_properties(segment_text: str) -> list[th.Property]:
    return [
        th.Property("query", th.StringType, required=True, description="The query's name or hash."),
        th.Property("segment", th.StringType, required=True, description=segment_text),
        th.Property(
            "date",
            th.StringType,
            required=True,
            description="The bucket as Mixpanel names it (a day, YYYY-MM-DD, with unit day).",
        ),
    ]


class QueryReportStream(ReportStream):
    """A report read once per configured query (one partition each)."""

    state_partitioning_keys = ("query",)
    replication_key = "date"
    #: The endpoint, and the setting holding its queries (TapSettings' attribute of that name).
    endpoint = ""
    setting = ""

    def queries(self) -> dict[str, dict[str, Any]]:
        """The configured queries, ``{query key: query}``."""
        queries: dict[str, dict[str, Any]] = getattr(self.mixpanel_tap.settings, self.setting)
        return queries

    @property
    def partitions(self) -> list[dict] | None:
        """One partition per configured query."""
        return [{"query": key} for key in self.queries()]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one query, window by window."""
        if not context:  # no query configured: the SDK syncs one empty context
            self.logger.info("%s: no %s configured, nothing to read", self.name, self.setting)
            return
        self.notice_use()
        key = str(context["query"])
        query = self.queries()[key]
        params = {name: value for name, value in query.items() if name != "name"}

        def read(from_date: str, to_date: str) -> Iterator[dict[str, Any]]:
            what = f"{self.name} query {key} {from_date}..{to_date}"
            window = {**params, "from_date": from_date, "to_date": to_date}
            yield from self.records(key, query, self.query(self.endpoint, window, what), what)

        yield from self.read_windows(context, f"{self.name} query {key}", read)

    def records(
        self, key: str, query: dict[str, Any], body: Any, what: str
    ) -> Iterator[dict[str, Any]]:
        """The records of one answer."""
        raise NotImplementedError


class SegmentationStream(QueryReportStream):
    """Event counts by segment and day, from the Segmentation Query API (maintenance mode)."""

    name = "segmentation"
    primary_keys = ("query", "segment", "date")
    maintenance_notice = SEGMENTATION_MAINTENANCE
    endpoint = "segmentation"
    setting = "segmentation_queries"

    # The catalog carries the schema's description: where the maintenance mode is said.
    schema = th.PropertiesList(
        *_key_properties("The on property's value, or the event's name without on."),
        th.Property("event", th.StringType, description="The query's event."),
        th.Property("value", th.NumberType, description="The count (or average) of that date."),
    ).to_dict() | {"description": f"Segmentation by day. {SEGMENTATION_MAINTENANCE}."}

    def records(
        self, key: str, query: dict[str, Any], body: Any, what: str
    ) -> Iterator[dict[str, Any]]:
        """``data.values{segment:{date:n}}`` flattened."""
        data = body.get("data") if isinstance(body, dict) else None
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            msg = f"{what}: Mixpanel answered without data.values of counts per segment"
            raise MixpanelError(msg)
        for segment, per_date in values.items():
            for date in sorted(per_date):
                yield {
                    "query": key,
                    "segment": str(segment),
                    "date": str(date),
                    "event": query.get("event"),
                    "value": per_date[date],
                }


class RetentionStream(QueryReportStream):
    """Cohort retention by birth day (and segment), from the Retention Query API."""

    name = "retention"
    primary_keys = ("query", "segment", "date")
    looks_back = True
    endpoint = "retention"
    setting = "retention_queries"

    schema = th.PropertiesList(
        *_key_properties("The on property's value; empty without on."),
        th.Property("first", th.IntegerType, description="Users born that date (the cohort)."),
        th.Property(
            "counts",
            th.ArrayType(th.IntegerType),
            description="Users of the cohort retained in each interval (the 0th first).",
        ),
    ).to_dict()

    def records(
        self, key: str, query: dict[str, Any], body: Any, what: str
    ) -> Iterator[dict[str, Any]]:
        """``{date:{first, counts}}``, or ``{segment:{date:{first, counts}}}`` with ``on``."""
        if not isinstance(body, dict):
            msg = f"{what}: Mixpanel answered without an object of dates"
            raise MixpanelError(msg)
        segments = {"": body} if "on" not in query else body
        for segment, per_date in segments.items():
            if not isinstance(per_date, dict):
                msg = f"{what}: Mixpanel answered a segment that is not an object of dates"
                raise MixpanelError(msg)
            for date in sorted(per_date):
                cohort = per_date[date] if isinstance(per_date[date], dict) else {}
                yield {
                    "query": key,
                    "segment": str(segment),
                    "date": str(date),
                    "first": cohort.get("first"),
                    "counts": cohort.get("counts") or [],
                }

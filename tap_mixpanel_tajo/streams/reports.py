"""What the report streams share, and the ``insights`` stream (saved Insights reports).

Each report stream reads Mixpanel's Query API (so every call takes from the run's
:class:`~tap_mixpanel_tajo.query_budget.QueryBudget`) and flattens an answer into one record per
report, segment and date: its primary key, so a re-read replaces a record rather than adding a
second one. The dated reports (funnels, segmentation, retention) are incremental on ``date``, one
state partition per report: windows of days from the bookmark (less the lookback of reports
whose numbers keep changing) or ``start_date``, to today or ``end_date``. The bookmark moves to a
window's last day once the window is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.dates import day_windows, local_date
from tap_mixpanel_tajo.streams.base import MixpanelStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Days read on a first run without ``start_date``.
DEFAULT_REPORT_DAYS = 30
#: Days per report request (Funnels answer at most 90 days a request; peers read 30).
REPORT_WINDOW_DAYS = 30


class ReportStream(MixpanelStream):
    """A Query API report stream: its calls, its windows of days, its bookmark per report."""

    # Chosen by name (Meltano's select, or a catalog), never by a run that selects everything:
    # each report spends Query API budget.
    selected_by_default = False

    #: Said once, when the stream is used, for reports on a maintenance-mode API.
    maintenance_notice: str | None = None
    #: Whether each run reads ``report_lookback_days`` before the bookmark again.
    looks_back = False
    _noticed = False

    def notice_use(self) -> None:
        """Log the stream's maintenance-mode notice, once per run."""
        if self.maintenance_notice and not self._noticed:
            self._noticed = True
            self.logger.info("%s: %s", self.name, self.maintenance_notice)

    def query(self, endpoint: str, params: dict[str, Any], what: str) -> Any:
        """``GET`` one Query API endpoint (within the run's budget) and return its JSON."""
        client = self.mixpanel_tap.client
        return client.request_json("GET", client.query_url(endpoint), params=params, what=what)

    def windows(self, context: Context | None) -> list[tuple[dt.date, dt.date]]:
        """The windows of days to read for this report: from the bookmark or ``start_date``."""
        settings = self.mixpanel_tap.settings
        zone = settings.zone
        today = dt.datetime.now(zone).date()
        last = today
        if settings.end_date:
            last = min(today, local_date(settings.end_date, zone))
        floor = local_date(settings.start_date, zone) if settings.start_date else None
        bookmark = self.bookmark_day(context)
        if bookmark is not None:
            lookback = settings.report_lookback_days if self.looks_back else 0
            first = bookmark - dt.timedelta(days=lookback)
        else:
            first = floor or today - dt.timedelta(days=DEFAULT_REPORT_DAYS)
        if floor is not None:
            first = max(first, floor)
        return day_windows(first, last, REPORT_WINDOW_DAYS)

    def bookmark_day(self, context: Context | None) -> dt.date | None:
        """The last day a previous run read completely (read again: today's was partial)."""
        value = self.get_context_state(context).get("replication_key_value")
        return dt.date.fromisoformat(str(value)[:10]) if value else None

    def advance_day(self, context: Context | None, day: dt.date) -> None:
        """Move the bookmark to ``day`` (never back) and write the state after the records."""
        state = self.get_context_state(context)
        current = self.bookmark_day(context)
        if current is None or day > current:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = day.isoformat()
        self.emit_state()

    def read_windows(
        self, context: Context | None, label: str, read: Callable[[str, str], Iterable[dict]]
    ) -> Iterator[dict[str, Any]]:
        """Read each window with ``read(from_date, to_date)``, moving the bookmark after each."""
        total = 0
        for first, last in self.windows(context):
            count = 0
            for record in read(first.isoformat(), last.isoformat()):
                count += 1
                yield record
            total += count
            self.advance_day(context, last)
            self.logger.info("%s %s..%s: %d records", label, first, last, count)
        self.logger.info("%s: %d records", label, total)


def flatten_series(series: Any) -> Iterator[tuple[str, str, str, Any]]:
    """``(series, segment, date, value)`` of each value of an Insights ``series`` object.

    ``{name: {date: value}}``, or one more level per breakdown (``{name: {segment: {date:
    value}}}``); the segments of several breakdowns are joined with `` / ``.
    """
    if not isinstance(series, dict):
        return
    stack: list[tuple[list[str], Any]] = [([str(name)], values) for name, values in series.items()]
    while stack:
        path, node = stack.pop(0)
        for key, value in node.items() if isinstance(node, dict) else ():
            if isinstance(value, dict):
                stack.append(([*path, str(key)], value))
            else:
                yield path[0], " / ".join(path[1:]), str(key), value


class InsightsStream(ReportStream):
    """Saved Insights reports (``bookmark_ids``), each read whole: one record per value."""

    name = "insights"
    primary_keys = ("bookmark_id", "series", "segment", "date")
    replication_key = None

    schema = th.PropertiesList(
        th.Property("bookmark_id", th.IntegerType, required=True, description="The report."),
        th.Property("series", th.StringType, required=True, description="The metric's name."),
        th.Property(
            "segment",
            th.StringType,
            required=True,
            description="The breakdown's segment(s), joined with ' / '; empty without breakdown.",
        ),
        th.Property(
            "date",
            th.StringType,
            required=True,
            description="The bucket's date as Mixpanel writes it (ISO 8601, project time).",
        ),
        th.Property("value", th.NumberType, description="The metric's value on that date."),
        th.Property("computed_at", th.StringType, description="When Mixpanel computed it."),
        th.Property("from_date", th.StringType, description="The report's first date."),
        th.Property("to_date", th.StringType, description="The report's last date."),
    ).to_dict()

    @property
    def partitions(self) -> list[dict] | None:
        """One partition per saved report."""
        return [{"bookmark_id": b} for b in self.mixpanel_tap.settings.bookmark_ids]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one saved report and flatten its series."""
        if not context:  # no bookmark_ids: the SDK syncs one empty context
            self.logger.info("insights: no bookmark_ids configured, nothing to read")
            return
        bookmark_id = int(context["bookmark_id"])
        what = f"insights report {bookmark_id}"
        body = self.query("insights", {"bookmark_id": bookmark_id}, what)
        if not isinstance(body, dict) or not isinstance(body.get("series"), dict):
            msg = f"{what}: Mixpanel answered without a series object"
            raise MixpanelError(msg)
        date_range = body.get("date_range")
        date_range = date_range if isinstance(date_range, dict) else {}
        count = 0
        for series, segment, date, value in flatten_series(body["series"]):
            count += 1
            yield {
                "bookmark_id": bookmark_id,
                "series": series,
                "segment": segment,
                "date": date,
                "value": value,
                "computed_at": body.get("computed_at"),
                "from_date": date_range.get("from_date"),
                "to_date": date_range.get("to_date"),
            }
        self.logger.info("%s: %d records", what, count)

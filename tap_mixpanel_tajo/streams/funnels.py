"""The ``funnels`` stream: each funnel's daily steps, keyed ``[funnel_id, date]`` as peers key it.

``funnel_ids`` names the funnels, or ``all`` reads every funnel of ``/funnels/list`` (one call).
Incremental on ``date``, one state partition per funnel; each run reads ``report_lookback_days``
before the bookmark again, as conversions keep arriving for days (the attribution window). The
request leaves ``length`` to the funnel's saved conversion window (Mixpanel caps it at 90 days)
and covers at most 30 days.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.report_settings import ALL_FUNNELS
from tap_mixpanel_tajo.streams.reports import ReportStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

MAINTENANCE = (
    "Mixpanel's Funnels Query API is in maintenance mode since 2026-07-01 (Mixpanel advises "
    "against new use): prefer a saved report read through the insights stream (bookmark_ids)"
)


class FunnelsStream(ReportStream):
    """Funnels by day, from the Funnels Query API (maintenance mode)."""

    name = "funnels"
    primary_keys = ("funnel_id", "date")
    replication_key = "date"
    state_partitioning_keys = ("funnel_id",)
    maintenance_notice = MAINTENANCE
    looks_back = True
    _funnels: dict[int, str | None] | None = None

    # The catalog carries the schema's description: where the maintenance mode is said.
    schema = th.PropertiesList(
        th.Property("funnel_id", th.IntegerType, required=True, description="The funnel."),
        th.Property("date", th.DateType, required=True, description="The day (project time)."),
        th.Property("name", th.StringType, description="The funnel's name (with funnel_ids all)."),
        th.Property(
            "steps",
            th.ArrayType(th.ObjectType()),
            description="Each step of the day: count, step_conv_ratio, overall_conv_ratio, ...",
        ),
        th.Property(
            "analysis",
            th.ObjectType(),
            description="The day's summary: completion, starting_amount, steps, worst.",
        ),
    ).to_dict() | {"description": f"Funnels by day. {MAINTENANCE}."}

    @property
    def partitions(self) -> list[dict] | None:
        """One partition per funnel (``all``: listed once per run)."""
        return [{"funnel_id": funnel_id} for funnel_id in self.funnels()]

    def funnels(self) -> dict[int, str | None]:
        """The funnels to read, ``{funnel_id: name}``; ``all`` lists them (once per run)."""
        if self._funnels is None:
            wanted = self.mixpanel_tap.settings.funnel_ids
            if wanted == ALL_FUNNELS:
                self.notice_use()
                self._funnels = self.list_funnels()
                self.logger.info("funnels: %d funnel(s) listed", len(self._funnels))
            else:
                self._funnels = dict.fromkeys(int(funnel_id) for funnel_id in wanted)
        return self._funnels

    def list_funnels(self) -> dict[int, str | None]:
        """Every funnel of the project (``GET /funnels/list``)."""
        what = "funnels list"
        body = self.query("funnels/list", {}, what)
        if not isinstance(body, list) or not all(
            isinstance(item, dict) and item.get("funnel_id") is not None for item in body
        ):
            msg = f"{what}: Mixpanel answered with something other than a list of funnels"
            raise MixpanelError(msg)
        return {int(item["funnel_id"]): item.get("name") for item in body}

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one funnel, window by window."""
        if not context:  # no funnel: the SDK syncs one empty context
            self.logger.info("funnels: no funnel_ids configured (or none listed), nothing to read")
            return
        self.notice_use()
        funnel_id = int(context["funnel_id"])
        name = self.funnels().get(funnel_id)

        def read(from_date: str, to_date: str) -> Iterator[dict[str, Any]]:
            what = f"funnel {funnel_id} {from_date}..{to_date}"
            params = {"funnel_id": funnel_id, "from_date": from_date, "to_date": to_date}
            yield from funnel_records(funnel_id, name, self.query("funnels", params, what), what)

        yield from self.read_windows(context, f"funnel {funnel_id}", read)


def funnel_records(
    funnel_id: int, name: str | None, body: Any, what: str
) -> Iterator[dict[str, Any]]:
    """One record per day of a Funnels answer (``{meta{dates}, data{date:{steps, analysis}}}``)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        msg = f"{what}: Mixpanel answered without a data object of days"
        raise MixpanelError(msg)
    for day in sorted(data):
        entry = data[day] if isinstance(data[day], dict) else {}
        yield {
            "funnel_id": funnel_id,
            "date": day,
            "name": name,
            "steps": entry.get("steps") or [],
            "analysis": entry.get("analysis") or {},
        }

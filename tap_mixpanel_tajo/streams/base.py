"""What the tap's streams share: their tap, raw pass-through, a bookmark that never goes back."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_mixpanel_tajo.tap import TapMixpanelTajo

UTC = dt.timezone.utc


def utc_iso(moment: dt.datetime) -> str:
    """The one text form of a UTC timestamp in records and state (so strings compare in order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class MixpanelStream(Stream):
    """A Mixpanel stream: unsorted, incremental on a UTC date-time, ``properties`` untouched.

    The SDK tracks an unsorted stream's bookmark in progress markers that start empty on each
    run and are promoted when the sync completes. A run that re-reads older data (the events
    lookback, a profiles full refresh) would then move the bookmark backwards. Each run sets a
    floor (:meth:`set_bookmark_floor`); only records newer than it advance the bookmark.
    """

    is_sorted = False
    # ``properties`` passes through untouched (it is Mixpanel's own object, not re-typed).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY
    _bookmark_floor: str | None = None

    @property
    def mixpanel_tap(self) -> TapMixpanelTajo:
        """The tap that owns this stream (and its client and resolved settings)."""
        return self._tap  # type: ignore[return-value]

    def set_bookmark_floor(self, start: dt.datetime | None) -> None:
        """Records at or before ``start`` (this run's starting bookmark) never move the bookmark."""
        self._bookmark_floor = utc_iso(start) if start else None

    def _increment_stream_state(
        self,
        latest_record: dict[str, Any],
        *,
        context: Context | None = None,
    ) -> None:
        """Advance the bookmark only with records newer than the run's floor."""
        value = latest_record.get(self.replication_key or "")
        if self._bookmark_floor and (value is None or value <= self._bookmark_floor):
            return
        super()._increment_stream_state(latest_record, context=context)

"""Export completeness: each export window against Mixpanel's own daily counts.

A 200 export body cut cleanly at a line boundary (no error, no ``terminated early`` line) reads
as a complete window with fewer events. With ``verify_export_counts`` on, the events stream asks
the Query API how many of the exported event names Mixpanel counts on each day of the window
(``GET /api/query/events``, one call per window), and reads a window that came up short once
more.

What is compared: ``/events`` counts events as Mixpanel's reports do, after its deduplication of
re-ingested copies (same event, distinct_id and ``$insert_id``), while the raw export returns
every copy. The tap drops those exact duplicates within a window before it emits, so the check
counts the records the tap emitted, per project-local day: like with like. Counting the export's
lines before that deduplication would compare copies with events, and a cut no larger than the
window's duplicates would pass unseen. Two differences remain, both rare and both read as a
shortfall that costs one re-read and ends in a warning: a key repeated on two days of a
multi-day window (emitted once, counted by Mixpanel on each day), and lines skipped because
they are not UTF-8.

Only days that ended at least ``STABLE_AFTER`` ago are compared. Recent days still receive
events (SDKs send up to ~5 days late; ``/import`` backfills any time), and an event that lands
between the export and the count would read as a cut; a day that ended a full day ago rarely
moves in the seconds between the two calls. Mixpanel documents no time after which its counts
settle, so the 24 hours are the tap's choice, not a setting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tap_mixpanel_tajo.http_errors import MixpanelError

if TYPE_CHECKING:
    from tap_mixpanel_tajo.client import MixpanelClient
    from tap_mixpanel_tajo.streams.export_windows import ExportWindow

#: How long after its end a day's counts are compared (the newest days are left to later runs).
STABLE_AFTER = dt.timedelta(hours=24)


def last_stable_day(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The last project-local day that ended at least ``STABLE_AFTER`` before ``now``."""
    return (now - STABLE_AFTER).astimezone(zone).date() - dt.timedelta(days=1)


@dataclass(frozen=True)
class CountCheck:
    """One run's check: the event names exported, and the last day stable enough to compare."""

    client: MixpanelClient
    event_names: list[str]
    last_stable: dt.date

    def mixpanel_counts(self, first: dt.date, last: dt.date) -> Mapping[dt.date, int] | None:
        """Mixpanel's count of each stable day of a window; None when no day is stable yet."""
        through = min(last, self.last_stable)
        if through < first:
            return None
        counted = self.client.daily_event_counts(
            first.isoformat(), through.isoformat(), self.event_names
        )
        days = (first + dt.timedelta(days=n) for n in range((through - first).days + 1))
        return {day: counted.get(day.isoformat(), 0) for day in days}

    def checked_read(
        self,
        window: ExportWindow,
        read: Callable[[], Iterator[dict[str, Any]]],
        logger: logging.Logger,
    ) -> Iterator[dict[str, Any]]:
        """Export the window with ``read``, then once more if it is short of Mixpanel's counts."""
        days = window.days
        assert days is not None  # a checked window counts its events by day
        yield from read()
        try:
            counted = self.mixpanel_counts(window.first, window.last)
        except MixpanelError as exc:
            logger.warning(
                "%s: not checked, Mixpanel's counts are unreadable: %s", window.label, exc
            )
            window.verdict = ", not checked"
            return
        if counted is None:
            window.verdict = ", too recent to check against Mixpanel's counts"
            return
        short = shortfalls(days, counted)
        if short:
            logger.warning(
                "%s: fewer events than Mixpanel counts (%s); reading the window again",
                window.label,
                ", ".join(short),
            )
            window.dedup.restart()
            yield from read()
            short = shortfalls(days, counted)
        if short:
            logger.warning(
                "%s: still fewer events than Mixpanel counts after a second read (%s); carrying on",
                window.label,
                ", ".join(short),
            )
            window.verdict = ", short of Mixpanel's counts"
        else:
            window.verdict = ", complete by Mixpanel's counts"


def shortfalls(emitted: Mapping[dt.date, int], counted: Mapping[dt.date, int]) -> list[str]:
    """Each day whose emitted records are fewer than Mixpanel counts, as ``day: got of count``."""
    return [
        f"{day}: {emitted.get(day, 0)} of {count}"
        for day, count in counted.items()
        if emitted.get(day, 0) < count
    ]

"""One export window of the ``events`` stream while it is read: dedup, counts, summary line."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from tap_mixpanel_tajo.dates import local_date
from tap_mixpanel_tajo.streams.dedup import WindowDedup


class ExportWindow:
    """One export window: its dedup, the records it emitted, and (when checked) how many per day."""

    def __init__(self, first: dt.date, last: dt.date, zone: ZoneInfo, *, by_day: bool) -> None:
        self.first = first
        self.last = last
        self.label = f"events {first}..{last}"
        self.zone = zone
        # Pre-2023 projects export local wall-clock times (see ``epoch_to_utc``).
        self.tz = None if zone.key == "UTC" else zone
        self.dedup = WindowDedup()
        self.emitted = 0
        self.days: Counter[dt.date] | None = Counter() if by_day else None
        self.verdict = ""
        self.started = time.monotonic()

    def summary(self) -> str:
        """What the window read: records, duplicates, refetches, verdict, speed."""
        dedup = self.dedup
        elapsed = max(time.monotonic() - self.started, 1e-6)
        refetches = (
            f", {dedup.restarts} refetch(es) ({dedup.replayed} replayed records skipped)"
            if dedup.restarts
            else ""
        )
        return (
            f"{self.label}: {self.emitted} records, {dedup.duplicates} duplicates dropped"
            f"{refetches}{self.verdict}, {self.emitted / elapsed:.0f} records/s"
        )

    def admitted(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records to emit (counted), in order: not duplicates, nor replays."""
        kept = self.dedup.fresh(records)
        self.emitted += len(kept)
        days = self.days
        if days is not None:
            for record in kept:
                if record["time"] is not None:
                    days[local_date(record["time"], self.zone)] += 1
        return kept

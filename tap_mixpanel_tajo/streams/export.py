"""The ``events`` stream: Mixpanel's Raw Export API, streamed in day windows.

Which windows a run reads, its bookmark and resume point are here; how a line becomes a record
is :mod:`.export_records`, a window's dedup and counts :mod:`.export_windows`, and the check
against Mixpanel's daily counts :mod:`.completeness`.
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from collections.abc import Iterable, Iterator
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import msgspec
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_mixpanel_tajo.dates import UTC, day_windows, local_date
from tap_mixpanel_tajo.output import BufferedMsgSpecWriter
from tap_mixpanel_tajo.streams.base import MixpanelStream
from tap_mixpanel_tajo.streams.completeness import CountCheck, last_stable_day
from tap_mixpanel_tajo.streams.export_records import ExportLine, line_records
from tap_mixpanel_tajo.streams.export_windows import ExportWindow

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_mixpanel_tajo.client import MixpanelClient

DEFAULT_BACKFILL_DAYS = 30
#: Stream-state key of an interrupted run: the first day (project timezone) of its first
#: window not yet exported. Present only until a run exports its last window.
RESUME_FROM = "resume_from"


class EventsStream(MixpanelStream):
    """Raw events from Mixpanel's export API, incremental on ``time``, resumable per window.

    Export lines are not in time order, but the windows are complete and read in order. After
    each window the bookmark moves to the window's end (its exclusive upper bound, capped at the
    run's start) and a STATE message is written; until the last window, the state also names
    the next window (``resume_from``). A rerun after a failure starts there, without a second
    lookback; a run after a complete one re-reads ``lookback_days`` before the bookmark. Windows
    of the lookback end before the bookmark, so they never move it back.
    """

    name = "events"
    primary_keys = ("insert_id",)
    replication_key = "time"
    # Records are built from decoded JSON and ``to_record``'s own str/int values: they are
    # JSON-ready, and conforming ~25 values per event would cost more than the export read.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    schema = th.PropertiesList(
        th.Property("event", th.StringType, description="Mixpanel event name."),
        th.Property(
            "time",
            th.DateTimeType,
            description="When the event happened, UTC (from properties.time).",
        ),
        th.Property("distinct_id", th.StringType, description="Canonical id at export time."),
        th.Property(
            "insert_id",
            th.StringType,
            required=True,
            description=(
                "properties.$insert_id, else a hex hash of the event name and properties "
                "less those identity merges and ingestion change (distinct_id, $user_id, ...)."
            ),
        ),
        th.Property("device_id", th.StringType, description="properties.$device_id."),
        th.Property("user_id", th.StringType, description="properties.$user_id."),
        th.Property(
            "mp_processing_time_ms",
            th.IntegerType,
            description="When Mixpanel processed the event (epoch ms, UTC).",
        ),
        th.Property(
            "properties",
            th.ObjectType(),
            description="All of Mixpanel's event properties, names unchanged.",
        ),
    ).to_dict()

    @cached_property
    def deselected_keys(self) -> tuple[str, ...]:
        """Top-level record keys the catalog deselects (``properties`` has no named keys)."""
        return tuple(key for key in self.schema["properties"] if not self.mask[("properties", key)])

    @cached_property
    def record_writer(self) -> BufferedMsgSpecWriter | None:
        """The tap's writer, if each record goes out as it is, one RECORD line (None otherwise).

        Then records keep ``properties`` encoded. Stream maps, flattening and BATCH files read
        them: with any of those, records hold ``properties`` decoded.
        """
        writer = self._tap.message_writer
        maps = self.stream_maps
        plain = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and not self.get_batch_config(self.config)
        )
        return writer if plain and isinstance(writer, BufferedMsgSpecWriter) else None

    # One of the two SDK internals this stream overrides (``_process_record`` below is the
    # other). For each record, ``Stream._sync_records`` calls ``_write_record_message``, which
    # walks every nested key of the record against the catalog
    # (``pop_deselected_record_properties``), conforms it, applies the stream maps and builds a
    # ``RecordMessage`` that the writer turns into a dict and encodes: together more than the
    # export read itself. ``properties`` is an open object whose keys no catalog can name, so only
    # top-level keys can be deselected: those are dropped, and the RECORD line is encoded straight
    # from the record, with ``properties`` as Mixpanel sent them. With stream maps or
    # flattening, records hold ``properties`` decoded and take the SDK's own path.
    # tests/tap/test_tap_output.py pins the records against the SDK's path, and this override.
    @override
    def _write_record_message(self, record: dict[str, Any]) -> None:
        """Write the RECORD line of one event (or the RECORDs its stream maps make of it)."""
        writer = self.record_writer
        if writer is None:
            super()._write_record_message(record)
            return
        for key in self.deselected_keys:
            record.pop(key, None)
        writer.write_record(self.name, record, self._stream_version)
        self.state_manager.is_flushed = False  # what the SDK's method does after writing

    # The SDK's ``_process_record`` adds the partition's context keys to a record, and syncs
    # the child streams of each record (copying it for them). Events have neither: the method
    # leaves the record as it is (tests/tap/test_tap_output.py pins that), and is skipped.
    @override
    def _process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        """Nothing: events have no partitions and no child streams."""

    def windows(
        self, context: Context | None, today: dt.date | None = None, *, quiet: bool = False
    ) -> list[tuple]:
        """The export windows of this run.

        From the interrupted run's next window, else from the bookmark minus the lookback
        (start_date on a first run), to today or end_date. Where they start is logged, unless
        ``quiet`` (a look ahead before the run: then at DEBUG).
        """
        say = self.logger.debug if quiet else self.logger.info
        settings = self.mixpanel_tap.settings
        zone = settings.zone
        today = today or dt.datetime.now(zone).date()
        state = self.get_context_state(context)
        start = self.get_starting_timestamp(context)
        start_date = settings.start_date
        floor = local_date(start_date, zone) if start_date else None
        if state.get(RESUME_FROM):
            first = dt.date.fromisoformat(state[RESUME_FROM])
            say(
                "events: resuming an interrupted run at %s (its earlier windows were exported)",
                first,
            )
        elif start is None:
            first = today - dt.timedelta(days=DEFAULT_BACKFILL_DAYS)
            say(
                "start_date is not set: reading the last %d days from %s",
                DEFAULT_BACKFILL_DAYS,
                first,
            )
        else:
            first = start.astimezone(zone).date()
            if state.get("replication_key_value"):
                first -= dt.timedelta(days=settings.lookback_days)
        if floor and first < floor:
            first = floor
        last = today
        if settings.end_date:
            last = min(today, local_date(settings.end_date, zone))
        return day_windows(first, last, settings.window_days)

    def backfill_problem(self, context: Context | None) -> str | None:
        """Why this run must not start: it would read more days than ``max_backfill_days``.

        A start_date typo, or a bookmark months old, would otherwise spend Mixpanel's hourly
        query budget for hours without a word. A backfill says so explicitly (``make backfill``).
        Asked before the sync, so the bookmark is put where the SDK puts it when the stream
        starts; the state is then left as it was (a first run writes no STATE before a record).
        """
        state = cast("dict[str, Any]", self.tap_state)  # the SDK types only its bookmarks
        before = copy.deepcopy(state)
        bookmarked = bool(self.get_context_state(context).get("replication_key_value"))
        self._write_starting_replication_value(context)
        windows = self.windows(context, quiet=True)
        state.clear()
        state.update(before)
        if not windows:
            return None
        first, last = windows[0][0], windows[-1][1]
        days = (last - first).days + 1
        allowed = self.mixpanel_tap.settings.max_backfill_days
        if days <= allowed:
            return None
        reading = (
            f"events: this run would read {days} days of history ({first}..{last}, "
            f"{len(windows)} export calls)"
        )
        if bookmarked:  # the pipeline stopped for months: catching up is the way out
            return (
                f"{reading} from its bookmark, more than max_backfill_days ({allowed}); to catch "
                f"up, run once with max_backfill_days {days} "
                f"(TAP_MIXPANEL_TAJO_MAX_BACKFILL_DAYS={days})"
            )
        return (
            f"{reading}, more than max_backfill_days ({allowed}); check start_date, then read "
            f"the range with `make backfill START={first} END={last}` (a state of its own, no "
            "limit), or raise max_backfill_days for this run"
        )

    def window_done(
        self, context: Context | None, window: ExportWindow, next_first: dt.date | None
    ) -> None:
        """A window is exported: move the bookmark to its end, note the next one, emit STATE."""
        end = dt.datetime.combine(window.last + dt.timedelta(days=1), dt.time(), window.zone)
        self.advance_bookmark(context, end)
        state = self.get_context_state(context)
        if next_first is None:
            state.pop(RESUME_FROM, None)
        else:
            state[RESUME_FROM] = next_first.isoformat()
        self.emit_state()

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Export each window, streaming, and yield its de-duplicated records."""
        tap = self.mixpanel_tap
        skip = tap.selection.skip_reason("events")
        if skip:
            self.logger.info("Skipping the events stream: %s", skip)
            return
        client = tap.client
        event_names = tap.selection.export_event_names()
        zone = tap.settings.zone
        windows = self.windows(context)
        if not windows:
            self.logger.info("events: nothing to export (start is after end)")
            self.get_context_state(context).pop(RESUME_FROM, None)
            return
        self.logger.info(
            "events: %d window(s) %s..%s%s",
            len(windows),
            windows[0][0],
            windows[-1][1],
            f", events filtered to {len(event_names)} mapped name(s)" if event_names else "",
        )
        check = self._count_check(client, event_names, zone)
        for index, (first, last) in enumerate(windows):
            window = ExportWindow(first, last, zone, by_day=check is not None)
            if check is None:
                yield from self._read(client, window, event_names)
            else:
                read = partial(self._read, client, window, event_names)
                yield from check.checked_read(window, read, self.logger)
            self.logger.info("%s, %d API calls so far", window.summary(), client.calls)
            following = windows[index + 1][0] if index + 1 < len(windows) else None
            self.window_done(context, window, following)

    def _count_check(
        self, client: MixpanelClient, event_names: list[str] | None, zone: ZoneInfo
    ) -> CountCheck | None:
        """The run's completeness check, if ``verify_export_counts`` asks for one and it can run."""
        if not self.mixpanel_tap.settings.verify_export_counts:
            return None
        if not event_names:
            self.logger.warning(
                "verify_export_counts: no mapped event names to count (Mixpanel counts named "
                "events only; set a mapping_file with event_mapping): exports are not checked"
            )
            return None
        return CountCheck(client, event_names, last_stable_day(dt.datetime.now(UTC), zone))

    def _read(
        self, client: MixpanelClient, window: ExportWindow, event_names: list[str] | None
    ) -> Iterator[dict[str, Any]]:
        """Export the window once, yielding the records it has not emitted yet."""
        blocks = client.export_blocks(
            window.first.isoformat(),
            window.last.isoformat(),
            event_names=event_names,
            on_restart=window.dedup.restart,
            line_type=ExportLine,
        )
        tz = window.tz
        if self.record_writer is not None:  # see ``record_writer``
            for lines in blocks:
                yield from window.admitted(line_records(lines, tz))
            return
        for lines in blocks:
            for record in window.admitted(line_records(lines, tz)):
                record["properties"] = msgspec.json.decode(record["properties"])
                yield record

"""The ``events`` stream: Mixpanel's Raw Export API, streamed in day windows."""

from __future__ import annotations

import copy
import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import msgspec
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.dates import UTC, day_windows, epoch_text, local_date
from tap_mixpanel_tajo.output import BufferedMsgSpecWriter
from tap_mixpanel_tajo.streams.base import MixpanelStream
from tap_mixpanel_tajo.streams.completeness import CountCheck, last_stable_day, shortfalls
from tap_mixpanel_tajo.streams.dedup import WindowDedup, dedup_key
from tap_mixpanel_tajo.streams.fallback_key import fallback_insert_id

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
_EMPTY_OBJECT = msgspec.Raw(b"{}")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class ExportLine(msgspec.Struct):
    """One export line: the event's name, and its ``properties`` left encoded as Mixpanel sent them.

    A record passes them through untouched: decoding and re-encoding ~30 values per event would
    cost more than the rest of the record.
    """

    event: Any = None
    properties: msgspec.Raw = _EMPTY_OBJECT


class _Lifted(
    msgspec.Struct,
    rename={"insert_id": "$insert_id", "device_id": "$device_id", "user_id": "$user_id"},
):
    """The properties a record lifts to its top level (the others are skipped, not decoded)."""

    time: Any = None
    distinct_id: Any = None
    insert_id: Any = None
    device_id: Any = None
    user_id: Any = None
    mp_processing_time_ms: Any = None


_lifted_decoder = msgspec.json.Decoder(_Lifted)


def line_record(line: ExportLine, tz: ZoneInfo | None) -> dict[str, Any]:
    """One export line as a record: lifted top-level fields, ``properties`` still encoded."""
    properties = line.properties
    try:
        lifted = _lifted_decoder.decode(properties)
    except msgspec.ValidationError:  # null, a list, ...: an event without properties
        lifted, properties = _Lifted(), _EMPTY_OBJECT
    key = lifted.insert_id or fallback_insert_id(line.event, _decoded(properties))
    return _record(line.event, lifted, key, properties, tz)


def _decoded(properties: msgspec.Raw) -> Any:
    """The properties of an event without its own id, decoded: only such events pay for it.

    A number beyond a float's range (valid JSON) cannot be decoded: those properties are kept as
    exported, and hashed so.
    """
    try:
        return msgspec.json.decode(properties)
    except msgspec.ValidationError:
        return bytes(properties).decode()


def to_record(raw: dict[str, Any], tz: ZoneInfo | None) -> dict[str, Any]:
    """One decoded export event as a record: lifted top-level fields, ``properties`` as-is."""
    props = raw.get("properties")
    if not isinstance(props, dict):
        props = {}
    lifted = _Lifted(
        time=props.get("time"),
        distinct_id=props.get("distinct_id"),
        insert_id=props.get("$insert_id"),
        device_id=props.get("$device_id"),
        user_id=props.get("$user_id"),
        mp_processing_time_ms=props.get("mp_processing_time_ms"),
    )
    key = lifted.insert_id or fallback_insert_id(raw.get("event"), props)
    return _record(raw.get("event"), lifted, key, props, tz)


def _record(
    event: Any, lifted: _Lifted, insert_id: Any, properties: Any, tz: ZoneInfo | None
) -> dict[str, Any]:
    processing = lifted.mp_processing_time_ms
    return {
        "event": _text(event),
        "time": epoch_text(lifted.time, tz),
        "distinct_id": _text(lifted.distinct_id),
        "insert_id": str(insert_id),
        "device_id": _text(lifted.device_id),
        "user_id": _text(lifted.user_id),
        "mp_processing_time_ms": (
            int(processing)
            if isinstance(processing, (int, float)) and not isinstance(processing, bool)
            else None
        ),
        "properties": properties,
    }


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

    # The one SDK internal this stream overrides. For each record, ``Stream._sync_records`` calls
    # ``_write_record_message``, which walks every nested key of the record against the catalog
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

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """None: events have no child streams (the SDK would copy each record for them)."""
        return ()

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
        self, context: Context | None, window: _Window, next_first: dt.date | None
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
            window = _Window(first, last, zone, by_day=check is not None)
            if check is None:
                yield from self._read(client, window, event_names)
            else:
                yield from self._read_checked(client, window, event_names, check)
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
        self, client: MixpanelClient, window: _Window, event_names: list[str] | None
    ) -> Iterator[dict[str, Any]]:
        """Export the window once, yielding the records it has not emitted yet."""
        lines = client.iter_export(
            window.first.isoformat(),
            window.last.isoformat(),
            event_names=event_names,
            on_restart=window.dedup.restart,
            line_type=ExportLine,
        )
        tz = window.tz
        encoded = self.record_writer is not None  # see ``record_writer``
        for line in lines:
            record = line_record(line, tz)
            if window.admit(record):
                if not encoded:
                    record["properties"] = msgspec.json.decode(record["properties"])
                yield record

    def _read_checked(
        self,
        client: MixpanelClient,
        window: _Window,
        event_names: list[str] | None,
        check: CountCheck,
    ) -> Iterator[dict[str, Any]]:
        """Export the window, then read it once more if it is short of Mixpanel's counts."""
        days = window.days
        assert days is not None  # a checked window counts its events by day
        yield from self._read(client, window, event_names)
        try:
            counted = check.mixpanel_counts(window.first, window.last)
        except MixpanelError as exc:
            self.logger.warning(
                "%s: not checked, Mixpanel's counts are unreadable: %s", window.label, exc
            )
            window.verdict = ", not checked"
            return
        if counted is None:
            window.verdict = ", too recent to check against Mixpanel's counts"
            return
        short = shortfalls(days, counted)
        if short:
            self.logger.warning(
                "%s: fewer events than Mixpanel counts (%s); reading the window again",
                window.label,
                ", ".join(short),
            )
            window.dedup.restart()
            yield from self._read(client, window, event_names)
            short = shortfalls(days, counted)
        if short:
            self.logger.warning(
                "%s: still fewer events than Mixpanel counts after a second read (%s); carrying on",
                window.label,
                ", ".join(short),
            )
            window.verdict = ", short of Mixpanel's counts"
        else:
            window.verdict = ", complete by Mixpanel's counts"


class _Window:
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

    def admit(self, record: dict[str, Any]) -> bool:
        """True for a record to emit (counted); False for a duplicate or a replay."""
        if not self.dedup.admit(dedup_key(record)):
            return False
        self.emitted += 1
        if self.days is not None and record["time"] is not None:
            self.days[local_date(record["time"], self.zone)] += 1
        return True

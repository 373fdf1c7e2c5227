"""What the tap's streams share: their tap, raw pass-through, bookmarks that never go back.

And reading one Engage query page by page (:class:`EngageRead`: profiles, cohort members).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_mixpanel_tajo.dates import parse_utc, utc_iso
from tap_mixpanel_tajo.output import BufferedMsgSpecWriter
from tap_mixpanel_tajo.streams.checkpoints import CheckpointKind, SyncCheckpointsStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_mixpanel_tajo.tap import TapMixpanelTajo


class MixpanelStream(Stream):
    """A Mixpanel stream: incremental on a UTC date-time, ``properties`` untouched.

    Records never move a bookmark: Mixpanel returns them out of time order, and a run that
    re-reads older data (the events lookback, a profiles full refresh) must not move it back.
    Each stream advances its bookmark itself (:meth:`advance_bookmark`) once a unit of work is
    complete: the events stream after each export window, profiles after a complete Engage read.
    """

    # Records are not in time order; resumable progress comes from the bookmarks each stream
    # writes at its own boundaries, so the SDK never holds progress markers for these streams.
    is_sorted = False
    # ``properties`` passes through untouched (it is Mixpanel's own object, not re-typed).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    @property
    def mixpanel_tap(self) -> TapMixpanelTajo:
        """The tap that owns this stream (and its client and resolved settings)."""
        return self._tap  # type: ignore[return-value]

    def checkpoint(
        self, *, part: str, kind: CheckpointKind, snapshot_id: str, read: EngageRead
    ) -> None:
        """Report a read completed to its last page (a ``sync_checkpoints`` record)."""
        checkpoints = self._tap.streams["sync_checkpoints"]
        assert isinstance(checkpoints, SyncCheckpointsStream)
        checkpoints.add(
            stream=self.name, part=part, kind=kind, snapshot_id=snapshot_id, records=read.count
        )

    def advance_bookmark(self, context: Context | None, value: dt.datetime) -> None:
        """Move the bookmark forward to ``value``, capped at the signpost; never backwards.

        The signpost (the SDK's ``utc_now`` at stream start) keeps a bookmark out of the future:
        a window that ends tomorrow, or a clock running ahead, must not skip what is yet to come.
        """
        signpost = self.get_replication_key_signpost(context)
        if isinstance(signpost, dt.datetime):
            value = min(value, signpost)
        state = self.get_context_state(context)
        current = parse_utc(state.get("replication_key_value"))
        if state.get("replication_key") == self.replication_key and current and current >= value:
            return
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = utc_iso(value)

    def emit_state(self) -> None:
        """Write a STATE message now, after every record written before it.

        The SDK's state writer skips an unchanged state: the records waiting in the writer's
        block go out all the same.
        """
        self.mixpanel_tap.state_writer.write_state(self.tap_state)
        writer = self.mixpanel_tap.message_writer
        if isinstance(writer, BufferedMsgSpecWriter):
            writer.flush()

    # The one SDK internal this tap overrides: ``Stream._increment_stream_state`` is what the
    # SDK calls after each record to move the bookmark (or its progress markers) to the record's
    # replication key. Here records never move it (see the class docstring); the test
    # ``test_records_never_move_a_bookmark`` in tests/tap/test_tap_events.py pins this.
    def _increment_stream_state(
        self,
        latest_record: dict[str, Any],
        *,
        context: Context | None = None,
    ) -> None:
        """Leave the state alone: bookmarks move at window and read boundaries only."""


def engage_entry(raw: Any) -> tuple[str, dict[str, Any]] | None:
    """One Engage result as ``($distinct_id as text, $properties)``; None without a distinct_id."""
    if not isinstance(raw, dict):
        return None
    distinct_id = raw.get("$distinct_id")
    if distinct_id is None or distinct_id == "":
        return None
    props = raw.get("$properties")
    return str(distinct_id), props if isinstance(props, dict) else {}


class EngageRead:
    """One Engage query read page by page, with its progress logs and counts.

    Iterating yields each result as ``(distinct_id, properties)`` and logs each page. ``complete``
    turns True only once the last page was read completely: a failure, or a consumer that stops
    early, leaves it False. A restart from page 0 (see ``MixpanelClient.iter_engage``) sends the
    results read before it again, and says so.
    """

    def __init__(
        self, stream: MixpanelStream, form: dict[str, Any], *, label: str, unit: str, what: str
    ) -> None:
        self.stream = stream
        self.form = form
        self.label = label
        self.unit = unit
        self.what = what
        self.count = self.pages = self.calls = 0
        self.total: int | None = None
        self.elapsed = 0.0
        self.complete = False

    @property
    def rate(self) -> float:
        """Results per second so far."""
        return self.count / max(self.elapsed, 1e-6)

    def _restart(self) -> None:
        self.stream.logger.warning(
            "%s: %d %s read before the restart are sent again", self.label, self.count, self.unit
        )

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        client = self.stream.mixpanel_tap.client
        logger = self.stream.logger
        calls_before = client.calls
        started = time.monotonic()
        for body in client.iter_engage(self.form, what=self.what, on_restart=self._restart):
            self.pages += 1
            if body.get("page") in {0, None} and isinstance(body.get("total"), int):
                self.total = body["total"]
            for raw in body["results"]:
                entry = engage_entry(raw)
                if entry is None:
                    logger.warning("%s: skipped an Engage result without $distinct_id", self.label)
                    continue
                self.count += 1
                yield entry
            self.elapsed = time.monotonic() - started
            self.calls = client.calls - calls_before
            logger.info(
                "%s page %s: %d %s so far%s, %.0f %s/s",
                self.label,
                body.get("page", self.pages - 1),
                self.count,
                self.unit,
                f" of {self.total}" if self.total is not None else "",
                self.rate,
                self.unit,
            )
        self.complete = True

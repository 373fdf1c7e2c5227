"""The ``sync_checkpoints`` stream: which snapshots this run read to the end, as data.

A cohort's members or a profiles full refresh say what is *gone* only when read completely: the
target removes list members and applies its deletion policy for confirmed reads only. Streams
report a read here after its last page; this stream syncs after them (streams sync in name
order) and emits one record per completed read, so a target or a warehouse sees the same facts
without reading the tap's STATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from singer_sdk import Stream
from singer_sdk import typing as th

from tap_mixpanel_tajo.dates import UTC, utc_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

CheckpointKind = Literal["cohort_snapshot", "full_refresh"]


class SyncCheckpointsStream(Stream):
    """One record per snapshot read to the end in this run (appended, full table)."""

    name = "sync_checkpoints"
    primary_keys = ("stream", "id")
    replication_key = None

    schema = th.PropertiesList(
        th.Property(
            "stream",
            th.StringType,
            required=True,
            description="The stream read to the end: cohort_members, profiles or groups.",
        ),
        th.Property(
            "id",
            th.StringType,
            required=True,
            description=(
                "The part of the stream read to the end: the cohort id for cohort_members, "
                "'all' for a profiles full refresh, the group key for groups."
            ),
        ),
        th.Property(
            "kind",
            th.StringType,
            required=True,
            allowed_values=["cohort_snapshot", "full_refresh"],
            description=(
                "cohort_snapshot (one cohort's members) or full_refresh (all profiles, or all "
                "group profiles of one group key)."
            ),
        ),
        th.Property(
            "snapshot_id",
            th.StringType,
            required=True,
            description=(
                "The id the read's records carry: their snapshot_id (cohort_members) or "
                "full_refresh_id (profiles, groups)."
            ),
        ),
        th.Property(
            "records",
            th.IntegerType,
            required=True,
            description="Records the read emitted.",
        ),
        th.Property(
            "completed_at",
            th.DateTimeType,
            required=True,
            description="When the last page was read (UTC).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._completed: list[dict[str, Any]] = []

    def add(
        self, *, stream: str, part: str, kind: CheckpointKind, snapshot_id: str, records: int
    ) -> None:
        """A read finished its last page; emitted when this stream syncs."""
        self._completed.append(
            {
                "stream": stream,
                "id": part,
                "kind": kind,
                "snapshot_id": snapshot_id,
                "records": records,
                "completed_at": utc_iso(dt.datetime.now(UTC)),
            }
        )

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:  # noqa: ARG002
        """The reads completed earlier in this run."""
        yield from self._completed

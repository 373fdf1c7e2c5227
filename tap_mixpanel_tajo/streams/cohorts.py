"""The ``cohorts`` stream and its child ``cohort_members``: full snapshots of Mixpanel cohorts.

``cohorts`` lists the project's cohorts once per run and emits those to sync (``cohort_ids``,
else the ones the mapping names). For each, ``cohort_members`` reads the cohort's profiles
through Engage (``filter_by_cohort``, ``include_all_users=false``). Every run is a full
snapshot with one id (``snapshot_id``, the UTC time the cohorts stream started). Only after a
cohort's last page was read does the stream record it under
``bookmarks.cohort_members.snapshots.<cohort id> = <snapshot id>`` and write a STATE message: the
target mirrors a list (removes members) only for cohorts the final STATE confirms, so a cohort
cut short by a failure never empties a list.

Each cohort's record is written before its members: the SDK would sync a parent's children
before writing the parent record, so the cohorts stream syncs them itself, right after.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException

from mixpanel_brevo_mapping import CohortRef, CohortSelection
from tap_mixpanel_tajo.dates import UTC, utc_iso, utc_text
from tap_mixpanel_tajo.streams.base import EngageRead, MixpanelStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Stream-state key of ``cohort_members``: cohort id (text) -> id of its last complete snapshot.
SNAPSHOTS = "snapshots"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def cohort_ref(raw: dict[str, Any]) -> CohortRef | None:
    """The id and name of one cohorts/list entry (None without an integer id)."""
    cohort_id = _int_or_none(raw.get("id"))
    if cohort_id is None:
        return None
    return CohortRef(cohort_id, str(raw.get("name") or ""))


def to_record(raw: dict[str, Any], selection: CohortSelection) -> dict[str, Any]:
    """One cohorts/list entry as a record, with the mapping key that selected the cohort."""
    return {
        "id": selection.cohort.id,
        "name": selection.cohort.name,
        "description": raw.get("description"),
        "count": _int_or_none(raw.get("count")),
        "created": utc_text(raw.get("created")),
        "is_visible": bool(raw["is_visible"]) if raw.get("is_visible") is not None else None,
        "mapping_key": selection.key,
    }


class CohortsStream(MixpanelStream):
    """The cohorts to sync (full table), each followed by its members (``cohort_members``)."""

    name = "cohorts"
    primary_keys = ("id",)
    replication_key = None

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True, description="Mixpanel cohort id."),
        th.Property("name", th.StringType, description="Cohort name."),
        th.Property("description", th.StringType, description="Cohort description."),
        th.Property(
            "count",
            th.IntegerType,
            description="Members when Mixpanel listed it (may include ids without a profile).",
        ),
        th.Property(
            "created",
            th.DateTimeType,
            description="When the cohort was created (Mixpanel's YYYY-MM-DD HH:MM:SS, as UTC).",
        ),
        th.Property("is_visible", th.BooleanType, description="Visible in the Mixpanel UI."),
        th.Property(
            "mapping_key",
            th.StringType,
            description=(
                "The mapping key that names this cohort (a connectors.mixpanel.lists key, or "
                "the cohort id of a cohort_lists entry); null when only cohort_ids selects it."
            ),
        ),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:  # noqa: ARG002
        """The members of one cohort."""
        return {"cohort_id": record["id"]}

    def generate_child_contexts(
        self,
        record: dict,  # noqa: ARG002
        context: Context | None,  # noqa: ARG002
    ) -> Iterable[Context | None]:
        """None: :meth:`get_records` syncs each cohort's members after writing its record."""
        return ()

    def _member_streams(self) -> list[CohortMembersStream]:
        return [
            child
            for child in self.child_streams
            if isinstance(child, CohortMembersStream)
            and (child.selected or child.has_selected_descendents)
        ]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """List the cohorts; yield each one to sync, then sync its members."""
        tap = self.mixpanel_tap
        skip = tap.selection.skip_reason("cohorts")
        if skip:
            self.logger.info("Skipping the cohorts and cohort_members streams: %s", skip)
            return
        client = tap.client
        calls_before = client.calls
        listed: dict[CohortRef, dict[str, Any]] = {}
        for raw in client.list_cohorts():
            ref = cohort_ref(raw)
            if ref is None:
                self.logger.warning("cohorts: skipped a cohorts/list entry without an integer id")
                continue
            listed[ref] = raw
        targets = tap.selection.cohorts_to_sync(list(listed))
        self.logger.info(
            "cohorts: %d listed by Mixpanel, %d to sync%s",
            len(listed),
            len(targets),
            f": {', '.join(f'{t.cohort.name!r} ({t.cohort.id})' for t in targets)}"
            if targets
            else " (set cohort_ids, or name cohorts in the mapping's connectors.mixpanel.lists)",
        )
        members = self._member_streams()
        snapshot_id = utc_iso(dt.datetime.now(UTC))
        for child in members:
            child.begin_snapshot(snapshot_id, {t.cohort.id: t.cohort.name for t in targets})
        for target in targets:
            record = to_record(listed[target.cohort], target)
            yield record
            # The SDK has written the record now: its members follow it.
            if self.stream_maps[0].get_filter_result(record):
                self._sync_members(members, self.get_child_context(record, context))
        done = sum(len(child.completed) for child in members)
        self.logger.info(
            "cohorts: %d cohort(s) synced, %d complete in snapshot %s, %d members, %d API calls",
            len(targets),
            done,
            snapshot_id,
            sum(child.members_read for child in members),
            client.calls - calls_before,
        )

    @staticmethod
    def _sync_members(members: list[CohortMembersStream], child_context: dict) -> None:
        """What ``Stream._sync_children`` does, once the parent record is out."""
        for child in members:
            try:
                child.sync(context=child_context)
            except (AbortedSyncFailedException, AbortedSyncPausedException):
                continue


class CohortMembersStream(MixpanelStream):
    """The profiles in each cohort, a full snapshot per cohort every run (child of cohorts)."""

    name = "cohort_members"
    parent_stream_type = CohortsStream
    primary_keys = ("cohort_id", "distinct_id")
    replication_key = None
    # One state dict for the stream (holding the snapshots), not one per cohort.
    state_partitioning_keys: ClassVar[list[str]] = []

    schema = th.PropertiesList(
        th.Property("cohort_id", th.IntegerType, required=True, description="Mixpanel cohort id."),
        th.Property(
            "distinct_id",
            th.StringType,
            required=True,
            description="The member profile's canonical distinct_id ($distinct_id).",
        ),
        th.Property(
            "properties",
            th.ObjectType(),
            description="The profile's $properties as Mixpanel returns them, names unchanged.",
        ),
        th.Property(
            "snapshot_id",
            th.StringType,
            description=(
                "This run's snapshot (the UTC time the cohorts stream started). The cohort's "
                "snapshot is complete once the final STATE's "
                "bookmarks.cohort_members.snapshots.<cohort_id> equals it."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_id: str | None = None
        self.cohort_names: dict[int, str] = {}
        self.completed: list[int] = []
        self.members_read = 0

    def begin_snapshot(self, snapshot_id: str, cohort_names: dict[int, str]) -> None:
        """Start this run's snapshot: no cohort is complete in it yet."""
        self.snapshot_id = snapshot_id
        self.cohort_names = cohort_names
        self.completed = []
        self.members_read = 0
        self.stream_state[SNAPSHOTS] = {}

    def mark_complete(self, cohort_id: int) -> None:
        """Record the cohort's snapshot as complete, and write a STATE message saying so."""
        self.stream_state.setdefault(SNAPSHOTS, {})[str(cohort_id)] = self.snapshot_id
        self.completed.append(cohort_id)
        self.finalize_state_progress_markers(self.stream_state)

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one cohort's profiles through Engage; mark the cohort complete after the last."""
        if context is None or "cohort_id" not in context:
            msg = "cohort_members is synced by the cohorts stream, one cohort at a time"
            raise ValueError(msg)
        if self.snapshot_id is None:
            self.begin_snapshot(utc_iso(dt.datetime.now(UTC)), {})
        tap = self.mixpanel_tap
        cohort_id = int(context["cohort_id"])
        name = self.cohort_names.get(cohort_id)
        label = f"cohort {name!r} ({cohort_id})" if name else f"cohort {cohort_id}"
        form: dict[str, Any] = {
            "filter_by_cohort": json.dumps({"id": cohort_id}),
            "include_all_users": "false",  # profiles only (Mixpanel's default is true)
        }
        output_properties = tap.selection.profile_output_properties()
        if output_properties:
            form["output_properties"] = json.dumps(output_properties)
        read = EngageRead(
            self, form, label=label, unit="members", what=f"cohort {cohort_id} members engage"
        )
        for distinct_id, props in read:
            self.members_read += 1
            yield {
                "cohort_id": cohort_id,
                "distinct_id": distinct_id,
                "properties": props,
                "snapshot_id": self.snapshot_id,
            }
        if not read.complete:
            return
        # Only now, with the last page read, is this cohort's snapshot complete.
        self.mark_complete(cohort_id)
        self.logger.info(
            "%s: snapshot complete: %d members in %d page(s), %.0f members/s, %d API calls",
            label,
            read.count,
            read.pages,
            read.rate,
            read.calls,
        )

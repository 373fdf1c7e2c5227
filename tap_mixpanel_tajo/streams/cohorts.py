"""The ``cohorts`` and ``cohort_members`` streams: full snapshots of Mixpanel cohorts.

``cohorts`` lists the project's cohorts once per run and emits those to sync (``cohort_ids``,
else the ones the mapping names). ``cohort_members`` has one partition per selected cohort and
reads its profiles through Engage (``filter_by_cohort``, ``include_all_users=false``). Every run
is a full snapshot with one id (``snapshot_id``, the UTC time the members stream started). Only
after a cohort's last page was read does the stream report it complete, as a
``sync_checkpoints`` record: the target mirrors a list (removes members) only for confirmed
cohorts, so a cohort cut short by a failure never empties a list.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th

from mixpanel_brevo_mapping import CohortRef, CohortSelection
from tap_mixpanel_tajo.dates import UTC, utc_iso, utc_text
from tap_mixpanel_tajo.streams.base import EngageRead, MixpanelStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


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
    """The cohorts to sync (full table); :attr:`to_sync` also partitions ``cohort_members``."""

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

    @cached_property
    def to_sync(self) -> list[tuple[CohortSelection, dict[str, Any]]]:
        """The cohorts to sync this run with their cohorts/list entries: one API call per run."""
        tap = self.mixpanel_tap
        if tap.selection.skip_reason("cohorts"):
            return []
        listed: dict[CohortRef, dict[str, Any]] = {}
        for raw in tap.client.list_cohorts():
            ref = cohort_ref(raw)
            if ref is None:
                self.logger.warning("cohorts: skipped a cohorts/list entry without an integer id")
                continue
            listed[ref] = raw
        selections = tap.selection.cohorts_to_sync(list(listed))
        self.logger.info(
            "cohorts: %d listed by Mixpanel, %d to sync%s",
            len(listed),
            len(selections),
            f": {', '.join(f'{s.cohort.name!r} ({s.cohort.id})' for s in selections)}"
            if selections
            else " (set cohort_ids, or name cohorts in the mapping's connectors.mixpanel.lists)",
        )
        return [(selection, listed[selection.cohort]) for selection in selections]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:  # noqa: ARG002
        """Each cohort to sync, with the mapping key that selected it."""
        skip = self.mixpanel_tap.selection.skip_reason("cohorts")
        if skip:
            self.logger.info("Skipping the cohorts stream: %s", skip)
            return
        for selection, raw in self.to_sync:
            yield to_record(raw, selection)


class CohortMembersStream(MixpanelStream):
    """The profiles in each selected cohort (one partition each), a full snapshot every run.

    Nothing of an interrupted run is kept: Engage pages hang on a ``session_id`` that ends with
    the query, and the cohorts it read to the end were never confirmed (``sync_checkpoints``
    comes last), so the next run reads every cohort again.

    Not a child of ``cohorts`` (``parent_stream_type``): the SDK (0.54) syncs a parent record's
    children before it writes that record, so members would precede their cohort. The tap syncs
    ``cohorts`` first instead (``SYNC_FIRST`` in tap.py), and selects it with this stream.
    """

    name = "cohort_members"
    primary_keys = ("cohort_id", "distinct_id")
    replication_key = None
    # Full snapshots: nothing to bookmark per cohort.
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
                "This run's snapshot (the UTC time the cohort_members stream started). The "
                "cohort's snapshot is complete once a sync_checkpoints record (kind "
                "cohort_snapshot, id = the cohort id) carries the same snapshot_id."
            ),
        ),
    ).to_dict()

    @property
    def partitions(self) -> list[dict] | None:
        """One partition per cohort the cohorts stream selects."""
        cohorts = self._tap.streams["cohorts"]
        assert isinstance(cohorts, CohortsStream)
        return [{"cohort_id": selection.cohort.id} for selection, _ in cohorts.to_sync]

    @cached_property
    def snapshot_id(self) -> str:
        """The id of this run's snapshot: the UTC time the stream first needed it."""
        return utc_iso(dt.datetime.now(UTC))

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one cohort's profiles through Engage; report it complete after the last page."""
        tap = self.mixpanel_tap
        skip = tap.selection.skip_reason("cohorts")
        if skip:
            self.logger.info("Skipping the cohort_members stream: %s", skip)
            return
        if not context:  # no cohort selected: the SDK syncs one empty context
            return
        cohort_id = int(context["cohort_id"])
        cohorts = self._tap.streams["cohorts"]
        assert isinstance(cohorts, CohortsStream)
        names = {selection.cohort.id: selection.cohort.name for selection, _ in cohorts.to_sync}
        name = names.get(cohort_id)
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
            yield {
                "cohort_id": cohort_id,
                "distinct_id": distinct_id,
                "properties": props,
                "snapshot_id": self.snapshot_id,
            }
        if not read.complete:
            return
        # Only now, with the last page read, is this cohort's snapshot complete.
        self.checkpoint(
            part=str(cohort_id), kind="cohort_snapshot", snapshot_id=self.snapshot_id, read=read
        )
        self.logger.info(
            "%s: snapshot %s complete: %d members in %d page(s), %.0f members/s, %d API calls",
            label,
            self.snapshot_id,
            read.count,
            read.pages,
            read.rate,
            read.calls,
        )

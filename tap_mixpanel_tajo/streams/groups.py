"""The ``groups`` stream: Mixpanel group profiles (Engage with ``data_group_id``), per group key.

Group profiles are Engage profiles of a *data group*: the same paging, the same ``$last_seen``
and the same blind spots (UI edits, deletions), so each group key is read as profiles are,
incrementally on ``$last_seen`` with a full refresh every ``profiles_full_refresh_days``. Each
group key is one SDK partition, with its own bookmark and its own full refresh; a full refresh
read to the end is reported as a ``sync_checkpoints`` record (id = the group key).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.dates import UTC, utc_iso, utc_text
from tap_mixpanel_tajo.streams.base import EngageRead
from tap_mixpanel_tajo.streams.engage import LAST_FULL_REFRESH, ProfilesStream, last_seen_where

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


def group_record(
    group_key: str, group_id: str, props: dict[str, Any], full_refresh_id: str | None
) -> dict[str, Any]:
    """The record of one group profile."""
    return {
        "group_key": group_key,
        "group_id": group_id,
        "last_seen": utc_text(props.get("$last_seen")),
        "properties": props,
        "full_refresh_id": full_refresh_id,
    }


class GroupsStream(ProfilesStream):
    """Group profiles, one partition per configured group key, incremental on ``$last_seen``."""

    name = "groups"
    primary_keys = ("group_key", "group_id")
    replication_key = "last_seen"

    schema = th.PropertiesList(
        th.Property(
            "group_key",
            th.StringType,
            required=True,
            description="The group key (the group property, e.g. company_id).",
        ),
        th.Property(
            "group_id",
            th.StringType,
            required=True,
            description="The group's id: the value users carry in the group key property.",
        ),
        th.Property(
            "last_seen",
            th.DateTimeType,
            description="When the group profile was last updated, UTC ($properties.$last_seen).",
        ),
        th.Property(
            "properties",
            th.ObjectType(),
            description="The group profile's $properties as Mixpanel returns them.",
        ),
        th.Property(
            "full_refresh_id",
            th.StringType,
            description=(
                "Set on every record of a full refresh of this group key: the UTC time it "
                "started. Complete once a sync_checkpoints record (stream groups, id = the group "
                "key, kind full_refresh) carries it as snapshot_id. Null on incremental runs."
            ),
        ),
    ).to_dict()

    @property
    def partitions(self) -> list[dict] | None:
        """One partition per configured group key."""
        return [{"group_key": key} for key in self.mixpanel_tap.settings.group_keys]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Page through one group key's profiles; record a complete full refresh."""
        tap = self.mixpanel_tap
        skip = tap.selection.skip_reason("groups")
        if skip:
            self.logger.info("Skipping the groups stream: %s", skip)
            return
        if not context:  # no group key configured: the SDK syncs one empty context
            self.logger.info("groups: no group_keys configured, nothing to read")
            return
        group_key = str(context["group_key"])
        label = f"groups {group_key}"
        now = dt.datetime.now(UTC)
        bookmark = self.state_bookmark(context)
        why_full = self.full_refresh_due(context, now)
        refresh_id = utc_iso(now) if why_full else None
        form: dict[str, Any] = {"data_group_id": tap.settings.group_keys[group_key]}
        output_properties = tap.selection.group_output_properties(group_key)
        if output_properties:
            form["output_properties"] = json.dumps(output_properties)
        if why_full or bookmark is None:
            self.logger.info("%s: full refresh %s (%s)", label, refresh_id, why_full)
        else:
            form["where"] = last_seen_where(bookmark)
            self.logger.info("%s: incremental, %s", label, form["where"])

        read = EngageRead(self, form, label=label, unit="groups", what=f"{label} engage")
        newest: str | None = None
        for group_id, props in read:
            record = group_record(group_key, group_id, props, refresh_id)
            last_seen = record["last_seen"]  # one text form (utc_iso): compares in time order
            if last_seen and (newest is None or last_seen > newest):
                newest = last_seen
            yield record
        # Only now, with the last page read, may the bookmark move and a full refresh be complete.
        if newest:
            self.advance_bookmark(context, dt.datetime.fromisoformat(newest))
        if refresh_id and read.complete:
            self.get_context_state(context)[LAST_FULL_REFRESH] = refresh_id
            self.checkpoint(part=group_key, kind="full_refresh", snapshot_id=refresh_id, read=read)
        self.logger.info(
            "%s: %s: %d group profiles in %d page(s), %d API calls",
            label,
            f"full refresh {refresh_id} complete" if refresh_id else "incremental read done",
            read.count,
            read.pages,
            read.calls,
        )

"""The ``profiles`` stream: Mixpanel's Engage query, incremental on ``$last_seen``.

``$last_seen`` moves only when a profile is updated through the API: edits made in the
Mixpanel UI, updates sent with ``$ignore_time`` and deletions never show up in an
incremental read. So every ``profiles_full_refresh_days`` the stream reads all profiles
again (a *full refresh*). Every record of a full refresh carries that refresh's id, and only
once its last page was read does the stream report it complete (a ``sync_checkpoints`` record,
which tells the target that the profiles missing from it are gone from Mixpanel) and write
``last_full_refresh = <id>`` into its own state, to time the next one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.dates import UTC, parse_utc, utc_iso, utc_text
from tap_mixpanel_tajo.streams.base import EngageRead, MixpanelStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Stream-state key holding the id of the last *complete* full refresh.
LAST_FULL_REFRESH = "last_full_refresh"


def last_seen_where(bookmark: dt.datetime) -> str:
    """The Engage ``where`` of an incremental read: profiles seen at or after the bookmark.

    Mixpanel compares ``$last_seen`` as naive ``YYYY-MM-DDTHH:MM:SS`` text, so the bookmark is
    cut to whole seconds; ``>=`` keeps a profile updated within the bookmark's second.
    """
    since = bookmark.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f'properties["$last_seen"] >= "{since}"'


def record_of(
    distinct_id: str, props: dict[str, Any], full_refresh_id: str | None
) -> dict[str, Any]:
    """The record of one profile (its distinct_id and ``$properties``)."""
    return {
        "distinct_id": distinct_id,
        "last_seen": utc_text(props.get("$last_seen")),
        "properties": props,
        "full_refresh_id": full_refresh_id,
    }


class ProfilesStream(MixpanelStream):
    """User profiles from Engage, incremental on ``$last_seen`` with periodic full refreshes.

    Engage results are not sorted by ``$last_seen``, and its pages are reached through a
    ``session_id`` that lives only as long as the query: an interrupted read cannot be resumed,
    only asked again from page 0. So the bookmark moves once, to the newest ``last_seen`` read,
    after the last page; a failed run leaves it where it was and the rerun asks the same query.
    """

    name = "profiles"
    primary_keys: tuple[str, ...] = ("distinct_id",)
    replication_key = "last_seen"

    schema = th.PropertiesList(
        th.Property(
            "distinct_id",
            th.StringType,
            required=True,
            description="The profile's canonical distinct_id ($distinct_id).",
        ),
        th.Property(
            "last_seen",
            th.DateTimeType,
            description="When the profile was last updated, UTC (from $properties.$last_seen).",
        ),
        th.Property(
            "properties",
            th.ObjectType(),
            description="The profile's $properties as Mixpanel returns them, names unchanged.",
        ),
        th.Property(
            "full_refresh_id",
            th.StringType,
            description=(
                "Set on every record of a full refresh: the UTC time that refresh started. "
                "The refresh is complete once a sync_checkpoints record (kind full_refresh) "
                "carries it as snapshot_id. Null on incremental runs."
            ),
        ),
    ).to_dict()

    def state_bookmark(self, context: Context | None) -> dt.datetime | None:
        """The ``last_seen`` bookmark from state (start_date does not apply to profiles)."""
        state = self.get_context_state(context)
        if state.get("replication_key") not in {None, self.replication_key}:
            return None
        return parse_utc(state.get("replication_key_value"))

    def full_refresh_due(self, context: Context | None, now: dt.datetime) -> str | None:
        """Why this run must read every profile, or None for an incremental run."""
        if self.state_bookmark(context) is None:
            return "no bookmark yet"
        days = self.mixpanel_tap.settings.profiles_full_refresh_days
        if days <= 0:
            return "profiles_full_refresh_days is 0"
        last = parse_utc(self.get_context_state(context).get(LAST_FULL_REFRESH))
        if last is None:
            return "no complete full refresh in state"
        if now - last >= dt.timedelta(days=days):
            return f"the last one ({utc_iso(last)}) is {days}+ days old"
        return None

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Page through Engage and yield each profile; record a complete full refresh."""
        tap = self.mixpanel_tap
        skip = tap.selection.skip_reason("profiles")
        if skip:
            self.logger.info("Skipping the profiles stream: %s", skip)
            return
        now = dt.datetime.now(UTC)
        bookmark = self.state_bookmark(context)
        why_full = self.full_refresh_due(context, now)
        refresh_id = utc_iso(now) if why_full else None
        form: dict[str, Any] = {}
        output_properties = tap.selection.profile_output_properties()
        if output_properties:
            form["output_properties"] = json.dumps(output_properties)
        if why_full or bookmark is None:
            self.logger.info("profiles: full refresh %s (%s)", refresh_id, why_full)
        else:
            form["where"] = last_seen_where(bookmark)
            self.logger.info("profiles: incremental, %s", form["where"])
        self.logger.info(
            "profiles: asking for %s",
            f"{len(output_properties)} properties" if output_properties else "all properties",
        )

        read = EngageRead(self, form, label="profiles", unit="profiles", what="profiles engage")
        newest: str | None = None
        for distinct_id, props in read:
            record = record_of(distinct_id, props, refresh_id)
            last_seen = record["last_seen"]  # one text form (utc_iso): compares in time order
            if last_seen and (newest is None or last_seen > newest):
                newest = last_seen
            yield record
        # Only now, with the last page read, may the bookmark move and a full refresh be complete.
        if newest:
            self.advance_bookmark(context, dt.datetime.fromisoformat(newest))
        if refresh_id:
            self.get_context_state(context)[LAST_FULL_REFRESH] = refresh_id
            self.checkpoint(part="all", kind="full_refresh", snapshot_id=refresh_id, read=read)
        self.logger.info(
            "profiles: %s: %d profiles in %d page(s), %d API calls",
            f"full refresh {refresh_id} complete" if refresh_id else "incremental read done",
            read.count,
            read.pages,
            read.calls,
        )

"""The Mixpanel side of the sandbox: a project's events, profiles, cohorts, identity, lookups."""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import msgspec

from .demo_data import DemoProject, StoredEvent, fmt_datetime
from .expressions import Predicate
from .lookup_tables import LookupTable, demo_tables
from .mixpanel_report_data import ProjectReports

PROJECT_ID = 12345
PROJECT_NAME = "Sandbox Demo"
ENGAGE_PAGE_SIZE = 1000
MAX_ENGAGE_SESSIONS = 64
COHORTS = (
    (1001, "Engaged Users (Last 7 Days)", "Anyone with an event in the last 7 days.", 1),
    (1002, "At Risk", "Profiles not seen for more than 14 days.", 1),
    (1003, "Power Users", "Enterprise plan or total revenue of 1000 or more.", 1),
)
COHORT_CREATED = "2025-11-03 09:30:00"

_encoder = msgspec.json.Encoder()


class InvalidPayloadError(ValueError):
    """An admin payload the project cannot ingest."""


def canonical_distinct_id(props: dict[str, Any], device_users: dict[str, str]) -> Any:
    """Return the distinct_id Mixpanel would export now (Simplified ID Merge, retroactive)."""
    if props.get("$user_id"):
        return props["$user_id"]
    device = props.get("$device_id")
    if not device:
        distinct = props.get("distinct_id")
        if isinstance(distinct, str) and distinct.startswith("$device:"):
            device = distinct.removeprefix("$device:")
    if device:
        return device_users.get(device, f"$device:{device}")
    return props.get("distinct_id", "")


class MixpanelProject:
    """Project state. Callers hold the sandbox lock; ``now_ms`` is the sandbox clock."""

    def __init__(self, demo: DemoProject, reports: ProjectReports | None = None) -> None:
        self.events: list[StoredEvent] = demo.events
        self.profiles: dict[str, dict[str, Any]] = demo.profiles
        self.groups: dict[str, dict[str, dict[str, Any]]] = demo.groups
        self._seq = max((e.seq for e in self.events), default=0)
        self.sessions: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self.lookup_tables: list[LookupTable] = demo_tables()
        self.reports = reports if reports is not None else ProjectReports()

    # -- events -----------------------------------------------------------------------------

    def visible_events(self, now_ms: int) -> list[StoredEvent]:
        """Events already processed at ``now_ms``, in processing order."""
        return [e for e in self.events if e.processing_ms <= now_ms]

    @staticmethod
    def device_users(events: Iterable[StoredEvent]) -> dict[str, str]:
        """Map each identified device to its user from events carrying both ids."""
        mapping: dict[str, str] = {}
        for event in events:
            props = event.properties
            device, user = props.get("$device_id"), props.get("$user_id")
            if device and user:
                mapping.setdefault(device, user)
        return mapping

    def export_lines(
        self,
        now_ms: int,
        from_day: date,
        to_day: date,
        *,
        names: set[str] | None = None,
        limit: int | None = None,
        time_in_ms: bool = False,
    ) -> list[bytes]:
        """Raw export: NDJSON lines for events whose UTC day is in [from_day, to_day]."""
        visible = self.visible_events(now_ms)
        users = self.device_users(visible)
        low = datetime.combine(from_day, datetime.min.time(), timezone.utc).timestamp()
        high = datetime.combine(to_day + timedelta(days=1), datetime.min.time(), timezone.utc)
        high_s = high.timestamp()
        lines: list[bytes] = []
        for event in visible:
            moment = event.time_seconds
            if not low <= moment < high_s or (names is not None and event.name not in names):
                continue
            props = dict(event.properties)
            props["distinct_id"] = canonical_distinct_id(props, users)
            props["time"] = round(moment * 1000) if time_in_ms else int(moment)
            lines.append(_encoder.encode({"event": event.name, "properties": props}) + b"\n")
            if limit is not None and len(lines) >= limit:
                break
        return lines

    def daily_counts(
        self, now_ms: int, from_day: date, to_day: date, names: set[str], *, unique: bool = False
    ) -> dict[str, dict[str, int]]:
        """Events per name and UTC day in [from_day, to_day], as the Query API counts them.

        Exact re-ingested copies (same event, distinct_id and ``$insert_id`` on one day) count
        once, the raw export's duplicates included; ``unique`` counts distinct users instead.
        """
        visible = self.visible_events(now_ms)
        users = self.device_users(visible)
        seen: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
        for event in visible:
            day = datetime.fromtimestamp(event.time_seconds, timezone.utc).date()
            if event.name not in names or not from_day <= day <= to_day:
                continue
            distinct_id = canonical_distinct_id(event.properties, users)
            key = (distinct_id,) if unique else (distinct_id, event.properties.get("$insert_id"))
            seen.setdefault((event.name, day.isoformat()), set()).add(key)
        counts: dict[str, dict[str, int]] = {}
        for (name, day), keys in sorted(seen.items()):
            counts.setdefault(name, {})[day] = len(keys)
        return counts

    def add_events(self, items: Any, now_ms: int) -> int:
        """Ingest ``[{"event", "properties"}]`` as /import would; returns how many were added."""
        if not isinstance(items, list):
            raise InvalidPayloadError("events must be a list")
        added = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("event"), str):
                raise InvalidPayloadError(f"events[{index}] needs a string 'event'")
            props = dict(item.get("properties") or {})
            if not isinstance(props.get("time"), (int, float)):
                raise InvalidPayloadError(f"events[{index}].properties.time must be a number")
            props.setdefault("$insert_id", str(uuid.uuid4()))
            if "distinct_id" not in props:
                device = props.get("$device_id")
                props["distinct_id"] = props.get("$user_id") or (
                    f"$device:{device}" if device else ""
                )
            processing = int(props.setdefault("mp_processing_time_ms", now_ms))
            self._seq += 1
            added.append(StoredEvent(item["event"], props, processing, self._seq))
        self.events.extend(added)
        self.events.sort(key=lambda e: (e.processing_ms, e.seq))
        return len(added)

    # -- profiles and cohorts ---------------------------------------------------------------

    def upsert_profiles(self, items: Any) -> int:
        """Merge ``[{"$distinct_id", "$properties"}]`` into the profiles; returns the count."""
        if not isinstance(items, list):
            raise InvalidPayloadError("profiles must be a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("$distinct_id"), str):
                raise InvalidPayloadError(f"profiles[{index}] needs a string '$distinct_id'")
            props = item.get("$properties") or {}
            if not isinstance(props, dict):
                raise InvalidPayloadError(f"profiles[{index}].$properties must be an object")
            self.profiles.setdefault(item["$distinct_id"], {}).update(props)
        return len(items)

    def upsert_groups(self, data_group_id: Any, items: Any) -> int:
        """Merge ``[{"$distinct_id": group id, "$properties"}]`` into one data group's profiles."""
        if not isinstance(data_group_id, str) or not data_group_id:
            raise InvalidPayloadError("data_group_id must be a non-empty string")
        if not isinstance(items, list):
            raise InvalidPayloadError("profiles must be a list")
        group = self.groups.setdefault(data_group_id, {})
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("$distinct_id"), str):
                raise InvalidPayloadError(f"profiles[{index}] needs a string '$distinct_id'")
            props = item.get("$properties") or {}
            if not isinstance(props, dict):
                raise InvalidPayloadError(f"profiles[{index}].$properties must be an object")
            group.setdefault(item["$distinct_id"], {}).update(props)
        return len(items)

    def group_rows(
        self, data_group_id: str, where: Predicate | None
    ) -> list[dict[str, Any]] | None:
        """One data group's profiles matching ``where`` as engage rows; None for an unknown id."""
        group = self.groups.get(data_group_id)
        if group is None:
            return None
        return [
            {"$distinct_id": group_id, "$properties": dict(props)}
            for group_id, props in sorted(group.items())
            if where is None or where(props)
        ]

    def delete_profile(self, distinct_id: str) -> bool:
        """Delete a profile; False when it did not exist."""
        return self.profiles.pop(distinct_id, None) is not None

    def cohort_members(self, cohort_id: int, now: datetime) -> list[str] | None:
        """Distinct ids in a cohort (may include ids without a profile), None if unknown."""
        if cohort_id == 1001:
            since_ms = (now - timedelta(days=7)).timestamp() * 1000
            now_ms = now.timestamp() * 1000
            visible = self.visible_events(int(now_ms))
            users = self.device_users(visible)
            members = {
                canonical_distinct_id(e.properties, users)
                for e in visible
                if e.time_seconds * 1000 >= since_ms
            }
            return sorted(m for m in members if m)
        if cohort_id == 1002:
            cutoff = fmt_datetime(now - timedelta(days=14))
            return sorted(
                k for k, p in self.profiles.items() if str(p.get("$last_seen", "")) < cutoff
            )
        if cohort_id == 1003:
            return sorted(k for k, p in self.profiles.items() if _is_power_user(p))
        return None

    def cohorts(self, now: datetime) -> list[dict[str, Any]]:
        """The cohorts/list payload."""
        return [
            {
                "count": len(self.cohort_members(cid, now) or []),
                "is_visible": visible,
                "description": description,
                "created": COHORT_CREATED,
                "project_id": PROJECT_ID,
                "id": cid,
                "name": name,
            }
            for cid, name, description, visible in COHORTS
        ]

    # -- engage -----------------------------------------------------------------------------

    def engage_rows(
        self,
        now: datetime,
        cohort_id: int | None,
        include_all_users: bool,
        distinct_ids: list[str] | None,
        where: Predicate | None,
    ) -> list[dict[str, Any]] | None:
        """Profiles matching a query as engage rows, or None for an unknown cohort."""
        if cohort_id is not None:
            members = self.cohort_members(cohort_id, now)
            if members is None:
                return None
            ids = [m for m in members if include_all_users or m in self.profiles]
        else:
            ids = sorted(self.profiles)
        if distinct_ids is not None:
            wanted = set(distinct_ids)
            ids = [i for i in ids if i in wanted]
        rows = []
        for distinct_id in ids:
            props = dict(self.profiles.get(distinct_id, {}))
            if where is None or where(props):
                rows.append({"$distinct_id": distinct_id, "$properties": props})
        return rows

    def open_session(self, rows: list[dict[str, Any]]) -> str:
        """Remember a query's rows for later pages; returns the session id."""
        session_id = f"{secrets.randbelow(10**10):010d}-{secrets.token_hex(3).upper()}"
        self.sessions[session_id] = rows
        while len(self.sessions) > MAX_ENGAGE_SESSIONS:
            self.sessions.popitem(last=False)
        return session_id


def _is_power_user(props: dict[str, Any]) -> bool:
    try:
        revenue = float(props.get("total_revenue") or 0)
    except (TypeError, ValueError):
        revenue = 0.0
    return props.get("plan") == "enterprise" or revenue >= 1000

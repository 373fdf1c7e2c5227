"""Build Singer message streams for target tests."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

EVENTS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "events",
    "key_properties": ["insert_id"],
    "schema": {
        "type": "object",
        "properties": {
            "event": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "distinct_id": {"type": ["string", "null"]},
            "insert_id": {"type": "string"},
            "device_id": {"type": ["string", "null"]},
            "user_id": {"type": ["string", "null"]},
            "mp_processing_time_ms": {"type": ["integer", "null"]},
            "properties": {"type": "object"},
        },
    },
}


# The time ``event()`` gives an event unless told otherwise.
EVENT_TIME = dt.datetime(2026, 11, 20, 10, tzinfo=dt.timezone.utc)


def event(
    name: str,
    insert_id: str,
    distinct_id: str | None = "user-1",
    *,
    time: str = "2026-11-20T10:00:00Z",
    device_id: str | None = None,
    user_id: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """One RECORD message of the events stream, shaped as the tap emits it."""
    return {
        "type": "RECORD",
        "stream": "events",
        "record": {
            "event": name,
            "time": time,
            "distinct_id": distinct_id,
            "insert_id": insert_id,
            "device_id": device_id,
            "user_id": user_id,
            "properties": {"$insert_id": insert_id, "distinct_id": distinct_id, **properties},
        },
    }


def line(message: dict[str, Any]) -> bytes:
    """One message as the line a target reads from its input."""
    return json.dumps(message).encode() + b"\n"


def with_record(message: dict[str, Any], **changes: object) -> dict[str, Any]:
    """``message`` with its record's fields changed; a field changed to ``...`` is left out."""
    record = {**message["record"], **changes}
    return {**message, "record": {k: v for k, v in record.items() if v is not ...}}


def singer_input(*records: dict[str, Any], state: dict | None = None) -> io.StringIO:
    """The events schema, the records, and a closing STATE message, as target input."""
    messages = [EVENTS_SCHEMA, *records]
    messages.append({"type": "STATE", "value": state or {"bookmarks": {"events": {}}}})
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


PROFILES_SCHEMA = {
    "type": "SCHEMA",
    "stream": "profiles",
    "key_properties": ["distinct_id"],
    "schema": {
        "type": "object",
        "properties": {
            "distinct_id": {"type": "string"},
            "last_seen": {"type": ["string", "null"], "format": "date-time"},
            "properties": {"type": "object"},
            "full_refresh_id": {"type": ["string", "null"]},
        },
    },
}


def profile(
    distinct_id: str, *, full_refresh_id: str | None = None, **properties: Any
) -> dict[str, Any]:
    """One RECORD message of the profiles stream, shaped as the tap emits it."""
    return {
        "type": "RECORD",
        "stream": "profiles",
        "record": {
            "distinct_id": distinct_id,
            "last_seen": properties.get("$last_seen"),
            "properties": properties,
            "full_refresh_id": full_refresh_id,
        },
    }


def profiles_input(
    *records: dict[str, Any], state: dict | None = None, complete_refresh: str | None = None
) -> io.StringIO:
    """Profiles schema and records, a checkpoint confirming ``complete_refresh``, a STATE."""
    messages = [PROFILES_SCHEMA, *records]
    if complete_refresh:
        messages += [
            CHECKPOINTS_SCHEMA,
            checkpoint("profiles", "all", "full_refresh", complete_refresh),
        ]
    messages.append({"type": "STATE", "value": state or {"bookmarks": {"profiles": {}}}})
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


COHORT_SCHEMAS = [
    {
        "type": "SCHEMA",
        "stream": "cohorts",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "count": {"type": ["integer", "null"]},
                "mapping_key": {"type": ["string", "null"]},
            },
        },
    },
    {
        "type": "SCHEMA",
        "stream": "cohort_members",
        "key_properties": ["cohort_id", "distinct_id"],
        "schema": {
            "type": "object",
            "properties": {
                "cohort_id": {"type": "integer"},
                "distinct_id": {"type": "string"},
                "properties": {"type": "object"},
                "snapshot_id": {"type": ["string", "null"]},
            },
        },
    },
]


def cohort(cohort_id: int, name: str, mapping_key: str | None = None) -> dict[str, Any]:
    """One RECORD of the cohorts stream (``mapping_key``: the mapping key that selected it)."""
    return {
        "type": "RECORD",
        "stream": "cohorts",
        "record": {
            "id": cohort_id,
            "name": name,
            "count": None,
            "mapping_key": mapping_key,
        },
    }


def member(cohort_id: int, distinct_id: str, snapshot_id: str = "S1", **properties: Any) -> dict:
    """One RECORD of the cohort_members stream."""
    return {
        "type": "RECORD",
        "stream": "cohort_members",
        "record": {
            "cohort_id": cohort_id,
            "distinct_id": distinct_id,
            "properties": properties,
            "snapshot_id": snapshot_id,
        },
    }


GROUPS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "groups",
    "key_properties": ["group_key", "group_id"],
    "schema": {
        "type": "object",
        "properties": {
            "group_key": {"type": "string"},
            "group_id": {"type": "string"},
            "properties": {"type": ["object", "null"]},
            "full_refresh_id": {"type": ["string", "null"]},
        },
    },
}

CHECKPOINTS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "sync_checkpoints",
    "key_properties": ["stream", "id"],
    "schema": {
        "type": "object",
        "properties": {
            "stream": {"type": "string"},
            "id": {"type": "string"},
            "kind": {"type": "string"},
            "snapshot_id": {"type": "string"},
            "records": {"type": "integer"},
            "completed_at": {"type": "string", "format": "date-time"},
        },
    },
}


def checkpoint(stream: str, part: str, kind: str, snapshot_id: str) -> dict[str, Any]:
    """One RECORD of the sync_checkpoints stream: a read the tap finished."""
    return {
        "type": "RECORD",
        "stream": "sync_checkpoints",
        "record": {
            "stream": stream,
            "id": part,
            "kind": kind,
            "snapshot_id": snapshot_id,
            "records": 0,
            "completed_at": "2026-01-01T00:00:00+00:00",
        },
    }


def cohorts_input(*records: dict[str, Any], complete: dict[int, str] | None = None) -> io.StringIO:
    """Cohort schemas, records, then sync_checkpoints confirming the ``complete`` snapshots."""
    confirmed = [
        checkpoint("cohort_members", str(cohort_id), "cohort_snapshot", snapshot_id)
        for cohort_id, snapshot_id in (complete or {}).items()
    ]
    messages = [*COHORT_SCHEMAS, *records, CHECKPOINTS_SCHEMA, *confirmed]
    messages.append({"type": "STATE", "value": {"bookmarks": {}}})
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))

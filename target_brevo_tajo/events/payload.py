"""Turn a Mixpanel event record into a valid Brevo event (pure functions, no I/O).

Brevo accepts event property keys of ``[A-Za-z0-9_-]`` (at most 255 characters) and at most
50 KB of properties per event. Mixpanel names such as ``$browser`` or ``Plan Name`` are made
valid (``mp_browser``, ``Plan_Name``) and every change is reported, never done silently.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from target_brevo_tajo.json_body import encode_json

MAX_PROPERTIES_BYTES = 50 * 1024
MAX_KEY_LENGTH = 255
_INVALID_KEY_CHARS = re.compile(r"[^A-Za-z0-9_-]")

# Identity and bookkeeping properties: they travel as identifiers or not at all.
# `$insert_id` does travel (as `mp_insert_id`): it lets anyone trace a Brevo event to Mixpanel.
NOT_EVENT_PROPERTIES = frozenset(
    {
        "distinct_id",
        "time",
        "$device_id",
        "$user_id",
        "mp_processing_time_ms",
        "$mp_api_timestamp_ms",
        "token",
        "$token",
    }
)


@dataclass
class PropertyChanges:
    """What :func:`brevo_properties` had to change, for the sync report."""

    renamed: dict[str, str] = field(default_factory=dict)
    dropped_for_size: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)  # every event repeats the same few dozen names
def brevo_key(name: str) -> str:
    """A Mixpanel property name as a valid Brevo key: ``$os`` -> ``mp_os``, ``a b`` -> ``a_b``."""
    key = f"mp_{name[1:]}" if name.startswith("$") else name
    key = _INVALID_KEY_CHARS.sub("_", key)[:MAX_KEY_LENGTH]
    return key or "_"


def _clean(value: Any, changes: PropertyChanges, path: str) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, inner in value.items():
            if inner is None:
                continue
            key = brevo_key(name)
            if key in out:
                key = _unique(key, out)
            if key != name:
                changes.renamed[f"{path}{name}"] = f"{path}{key}"
            nested = isinstance(inner, (dict, list))
            out[key] = _clean(inner, changes, f"{path}{key}.") if nested else inner
        return out
    if isinstance(value, list):
        return [_clean(item, changes, path) for item in value if item is not None]
    return value


def _unique(key: str, taken: dict[str, Any]) -> str:
    n = 2
    while f"{key}_{n}" in taken:
        n += 1
    return f"{key}_{n}"


def brevo_properties(
    properties: dict[str, Any], *, insert_id: str, max_bytes: int = MAX_PROPERTIES_BYTES
) -> tuple[dict[str, Any], PropertyChanges]:
    """Event properties Brevo accepts, and what had to change to get there.

    Keys are made valid recursively; null values are left out (Brevo types have no null);
    when the whole object is over ``max_bytes`` the largest properties are dropped first.
    An event without its own ``$insert_id`` carries ``insert_id``, the key the tap gave it, as
    ``mp_insert_id`` too: settling a call in doubt finds events in Brevo by it.
    """
    changes = PropertyChanges()
    kept = {k: v for k, v in properties.items() if k not in NOT_EVENT_PROPERTIES}
    if not kept.get("$insert_id"):
        kept = {"$insert_id": insert_id, **{k: v for k, v in kept.items() if k != "$insert_id"}}
    cleaned: dict[str, Any] = _clean(kept, changes, "")
    if len(encode_json(cleaned)) > max_bytes:
        sizes = sorted(cleaned, key=lambda k: len(encode_json(cleaned[k])), reverse=True)
        for key in sizes:
            del cleaned[key]
            changes.dropped_for_size.append(key)
            if len(encode_json(cleaned)) <= max_bytes:
                break
    return cleaned, changes


def parse_event_time(value: Any) -> dt.datetime:
    """The record's ``time`` (ISO 8601 text or a datetime) as an aware UTC datetime.

    Raises ValueError when it is not a date-time; a naive one is taken as UTC.
    """
    moment = (
        value
        if isinstance(value, dt.datetime)
        else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def brevo_event_date(value: Any) -> str:
    """The record's ``time`` as ISO 8601 with an explicit UTC offset (``...Z``)."""
    return parse_event_time(value).isoformat().replace("+00:00", "Z")


def record_problem(
    record: dict[str, Any], insert_id: Any, distinct_id: Any, when: dt.datetime | None
) -> str | None:
    """Why an event record cannot be sent (or deduplicated), or None when it can."""
    if not insert_id:
        return "no $insert_id: the event cannot be deduplicated"
    if not isinstance(insert_id, (str, int)) or isinstance(insert_id, bool):
        return "$insert_id is neither text nor a number"
    if not distinct_id:
        return "no distinct_id: the event belongs to no contact"
    if not record.get("time"):
        return "no time"
    if when is None:
        return "time is not an ISO 8601 date-time"
    return None


def record_time(record: dict) -> dt.datetime | None:
    """The record's ``time``, parsed once per event (None when absent or unreadable)."""
    try:
        return parse_event_time(record["time"]) if record.get("time") else None
    except ValueError:
        return None

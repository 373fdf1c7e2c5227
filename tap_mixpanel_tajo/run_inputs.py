"""A run's ``--catalog`` and ``--state``: JSON objects of the right shape, bookmarks that are dates.

The SDK decodes both files inside its own ``invoke`` and reads bookmarks only when a stream
starts, so a broken file ends in a traceback and a bookmark that is not a date in a traceback or,
worse, a silent full read. The tap checks them before the run starts, and says what to do.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from tap_mixpanel_tajo.dates import parse_utc

#: Bookmark keys holding a date-time (UTC) and a day (project timezone), in any stream state.
DATE_TIME_KEYS = ("replication_key_value", "last_full_refresh")
DAY_KEYS = ("resume_from",)
_STATE_FIX = (
    "correct or remove it (meltano state set --force <state_id> '<json>'), or clear the "
    "state (meltano state clear <state_id>) to start again from start_date"
)


def json_file_problem(option: str, name: str, text: str, what: str) -> str | None:
    """Why ``text`` (the file given to ``option``) is not a JSON object; None when it is."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        return f"{option} {name}: not valid JSON{where}; it must be a JSON object ({what})"
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else type(value).__name__
        return f"{option} {name}: holds a JSON {kind}, not an object ({what})"
    if option == "--catalog" and not isinstance(value.get("streams"), list):
        return f"{option} {name}: has no list of streams; regenerate it with --discover"
    return None


def _stream_states(state: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, state)`` of each stream state and each of its partitions."""
    for stream, stream_state in state.get("bookmarks", {}).items():
        if not isinstance(stream_state, dict):
            continue
        yield f"bookmarks.{stream}", stream_state
        for index, partition in enumerate(stream_state.get("partitions") or []):
            if isinstance(partition, dict):
                yield f"bookmarks.{stream}.partitions[{index}]", partition


def _is_day(value: Any) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return len(value) == len("2026-11-01")


def state_problem(state: Any) -> str | None:
    """Why the run's state cannot be resumed from, in one line; None when it can."""
    if not isinstance(state, dict):
        return f"the state is a JSON {type(state).__name__}, not an object; {_STATE_FIX}"
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or not all(isinstance(v, dict) for v in bookmarks.values()):
        return f"the state's bookmarks are not an object of stream states; {_STATE_FIX}"
    for where, stream_state in _stream_states(state):
        for key in DATE_TIME_KEYS:
            value = stream_state.get(key)
            if value is not None and parse_utc(value) is None:
                return f"state {where}.{key} is {value!r}, not a date-time; {_STATE_FIX}"
        for key in DAY_KEYS:
            value = stream_state.get(key)
            if value is not None and not _is_day(value):
                return f"state {where}.{key} is {value!r}, not a day (YYYY-MM-DD); {_STATE_FIX}"
    return None

"""Export lines as ``events`` records: the lifted top-level fields, and ``properties``.

A record lifts the few properties the schema names (time, distinct_id, the ids, processing
time) and carries ``properties`` on: still encoded as Mixpanel sent them on the fast path
(:func:`line_record`), decoded otherwise (:func:`to_record`). An event without ``$insert_id``
gets a key hashed from its content (:mod:`.fallback_key`).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from tap_mixpanel_tajo.dates import epoch_text
from tap_mixpanel_tajo.streams.fallback_key import fallback_insert_id

_EMPTY_OBJECT = msgspec.Raw(b"{}")


class ExportLine(msgspec.Struct, gc=False):
    """One export line: the event's name, and its ``properties`` left encoded as Mixpanel sent them.

    A record passes them through untouched: decoding and re-encoding ~30 values per event would
    cost more than the rest of the record. Decoded JSON holds no reference cycle, so the garbage
    collector need not track lines (nor ``_Lifted``): fewer collections per event.
    """

    event: Any = None
    properties: msgspec.Raw = _EMPTY_OBJECT


class _Lifted(
    msgspec.Struct,
    gc=False,
    rename={"insert_id": "$insert_id", "device_id": "$device_id", "user_id": "$user_id"},
):
    """The properties a record lifts to its top level (the others are skipped, not decoded)."""

    time: Any = None
    distinct_id: Any = None
    insert_id: Any = None
    device_id: Any = None
    user_id: Any = None
    mp_processing_time_ms: Any = None


_lifted_decoder = msgspec.json.Decoder(_Lifted)
_NOTHING_LIFTED = _Lifted()


def line_records(lines: list[ExportLine], tz: ZoneInfo | None) -> list[dict[str, Any]]:
    """The records of a block of export lines (:func:`line_record` of each, in one loop)."""
    records = []
    for line in lines:
        properties = line.properties
        try:
            lifted = _lifted_decoder.decode(properties)
        except msgspec.ValidationError:  # null, a list, ...: an event without properties
            lifted, properties = _NOTHING_LIFTED, _EMPTY_OBJECT
        key = lifted.insert_id or fallback_insert_id(line.event, _decoded(properties))
        records.append(_record(line.event, lifted, key, properties, tz))
    return records


def line_record(line: ExportLine, tz: ZoneInfo | None) -> dict[str, Any]:
    """One export line as a record: lifted top-level fields, ``properties`` still encoded."""
    return line_records([line], tz)[0]


def _decoded(properties: msgspec.Raw) -> Any:
    """The properties of an event without its own id, decoded: only such events pay for it.

    A number beyond a float's range (valid JSON) cannot be decoded: those properties are kept as
    exported, and hashed so.
    """
    try:
        return msgspec.json.decode(properties)
    except msgspec.ValidationError:
        return bytes(properties).decode()


def to_record(raw: dict[str, Any], tz: ZoneInfo | None) -> dict[str, Any]:
    """One decoded export event as a record: lifted top-level fields, ``properties`` as-is."""
    props = raw.get("properties")
    if not isinstance(props, dict):
        props = {}
    lifted = _Lifted(
        time=props.get("time"),
        distinct_id=props.get("distinct_id"),
        insert_id=props.get("$insert_id"),
        device_id=props.get("$device_id"),
        user_id=props.get("$user_id"),
        mp_processing_time_ms=props.get("mp_processing_time_ms"),
    )
    key = lifted.insert_id or fallback_insert_id(raw.get("event"), props)
    return _record(raw.get("event"), lifted, key, props, tz)


def _record(
    event: Any, lifted: _Lifted, insert_id: Any, properties: Any, tz: ZoneInfo | None
) -> dict[str, Any]:
    distinct_id, device_id, user_id = lifted.distinct_id, lifted.device_id, lifted.user_id
    processing = lifted.mp_processing_time_ms
    kind = type(processing)
    return {
        "event": None if event is None else str(event),
        "time": epoch_text(lifted.time, tz),
        "distinct_id": None if distinct_id is None else str(distinct_id),
        "insert_id": str(insert_id),
        "device_id": None if device_id is None else str(device_id),
        "user_id": None if user_id is None else str(user_id),
        # Decoded JSON: an int, a float, or not a number (bool is a type of its own).
        "mp_processing_time_ms": (
            processing if kind is int else int(processing) if kind is float else None
        ),
        "properties": properties,
    }

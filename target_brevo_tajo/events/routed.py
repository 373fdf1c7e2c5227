"""A stream routed to Brevo events: each row becomes one event, sent exactly once.

The ledger keys a routed event by its stream and its ``key`` field's value (not by its time: a
row whose time is corrected is not sent again), so a rerun over the same rows sends nothing.
The event travels with ``mp_insert_id`` = ``<stream>:<key>``, which settles a call in doubt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from mixpanel_brevo_mapping import Route
from target_brevo_tajo.events.admission import PendingEvent
from target_brevo_tajo.events.payload import parse_event_time
from target_brevo_tajo.events.sink import EventsSink
from target_brevo_tajo.ledger.ids import id_problem
from target_brevo_tajo.sinks.routed import RoutedSink


def routed_event_key(stream: str, key: str) -> str:
    """The ledger key of a routed row's event: its stream and its key's value."""
    text = f"route\x1f{stream}\x1f{key}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def routed_event(stream: str, route: Route, row: dict[str, Any]) -> PendingEvent | str:
    """The event a row makes, or why it cannot make one (a reject reason naming the field)."""
    missing = [
        field
        for field in (route.id_field, route.key, route.time)
        if field and _missing(row.get(field))
    ]
    if missing:
        return f"no {missing[0]}: a route to events needs it"
    when = _time(row[route.time or ""])
    if when is None:
        return f"{route.time} is not an RFC 3339 date-time"
    insert_id = f"{stream}:{row[route.key or '']}"
    id_type, contact = route.identifier(row[route.id_field])
    unstorable = id_problem(route.key or "key", insert_id) or id_problem(route.id_field, contact)
    if unstorable:
        return unstorable
    properties = {
        name: row[field] for field, name in route.fields.items() if row.get(field) is not None
    }
    return PendingEvent(
        key=routed_event_key(stream, str(row[route.key or ""])),
        insert_id=insert_id,
        mixpanel_name=stream,
        brevo_name=route.event or "",
        time=when,
        distinct_id=contact,
        record=row,
        identifiers={"email_id" if id_type == "email" else "ext_id": contact},
        properties=properties,
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _time(value: Any) -> dt.datetime | None:
    try:
        return parse_event_time(value)
    except (TypeError, ValueError):
        return None


class RoutedEventsSink(RoutedSink, EventsSink):
    """A stream's rows as Brevo events, through the events writer (ledger, calls in doubt)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writers.report.event_streams.add(self.stream_name)

    def take(self, record: dict, context: dict) -> None:
        """Admit the row's event into the batch, or reject the row naming what it lacks."""
        report = self.writers.report
        report.events.received += 1
        event = routed_event(self.stream_name, self.route, record)
        if isinstance(event, str):
            report.reject(self.stream_name, event, record)
            return
        self.events.keep(event, context["batch"])

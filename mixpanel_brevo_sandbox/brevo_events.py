"""``GET /events``: the custom events Brevo accepted, filtered, newest first.

From developers.brevo.com/reference/get-events (verified 2026-11-29): repeatable ``contact_id``,
``event_name`` and ``object_type`` filters; ``startDate`` and ``endDate`` together or not at all,
each ``YYYY-MM-DD`` (the whole UTC day) or an RFC3339 date-time, by default the six months before
now; ``count`` is every match, ``events`` one page. Custom events are the ones received through
``POST /events`` and ``/events/batch``, listed only once Brevo's queue lets them out
(``BrevoAccount.events_visibility_seconds``). The sandbox keeps no event filters, so
``event_filter_id`` is never set, and no custom objects, so an event's ``object.type`` is listed
as it was sent.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from .brevo_account import BrevoAccount
from .brevo_formats import BrevoError, utc_iso
from .wire import Request

DEFAULT_MONTHS = 6
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
FRACTION_RE = re.compile(r"\.(\d+)")
INT64_RE = re.compile(r"^-?\d{1,19}$")
INT64_RANGE = range(-(2**63), 2**63)


@dataclass(frozen=True)
class EventQuery:
    """The filters of one ``GET /events`` call: an inclusive range; an empty set filters nothing.

    ``contact_ids`` is applied apart: it needs the contact an event names, the costlier lookup.
    """

    start: datetime
    end: datetime
    names: frozenset[str]
    object_types: frozenset[str]
    contact_ids: frozenset[int]

    def admits(self, event: dict[str, Any], moment: datetime) -> bool:
        """True when the event, dated ``moment``, matches the range, names and object types."""
        return (
            self.start <= moment <= self.end
            and (not self.names or event["event_name"] in self.names)
            and (not self.object_types or object_type(event) in self.object_types)
        )


class _Match(NamedTuple):
    moment: datetime
    position: int
    contact_id: int | None
    event: dict[str, Any]


def parse_query(request: Request, now: datetime) -> EventQuery:
    """The filters of a request; ``now`` (the real time) ends the default range."""
    start, end = _date_range(request.param("startDate"), request.param("endDate"), now)
    contact_ids = request.query.get("contact_id", [])
    return EventQuery(
        start=start,
        end=end,
        names=frozenset(request.query.get("event_name", [])),
        object_types=frozenset(request.query.get("object_type", [])),
        contact_ids=frozenset(_int64("contact_id", raw) for raw in contact_ids),
    )


def list_events(
    account: BrevoAccount, query: EventQuery, limit: int, offset: int
) -> dict[str, Any]:
    """``{count, events}``: every visible match counted, one page listed, newest first.

    Equal dates keep a stable order, the later arrival first. An event whose ``event_date``
    cannot be read (``POST /events`` does not check its format) falls in no date range.
    """
    contact_of = _contact_resolver(account)
    matches = []
    for position, event in account.visible_events():
        moment = parse_instant(event["event_date"])
        if moment is None or not query.admits(event, moment):
            continue
        contact_id = contact_of(event["identifiers"])
        if not query.contact_ids or contact_id in query.contact_ids:
            matches.append(_Match(moment, position, contact_id, event))
    matches.sort(key=lambda match: (match.moment, match.position), reverse=True)
    page = matches[offset : offset + limit]
    return {"count": len(matches), "events": [_event_json(match) for match in page]}


def parse_instant(text: Any) -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC instant (naive means UTC), else None."""
    if not isinstance(text, str):
        return None
    # datetime.fromisoformat before Python 3.11 takes neither "Z" nor 1, 2, 4, 5 or 7+ digit
    # fractions.
    normal = FRACTION_RE.sub(lambda m: "." + m.group(1).ljust(6, "0")[:6], text, count=1)
    try:
        moment = datetime.fromisoformat(normal.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def object_type(event: dict[str, Any]) -> str | None:
    """The custom object type the event was linked to, if any."""
    link = event.get("object")
    kind = link.get("type") if isinstance(link, dict) else None
    return kind if isinstance(kind, str) else None


def _date_range(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    if start is None and end is None:
        return _months_before(now, DEFAULT_MONTHS), now
    if start is None or end is None:
        raise BrevoError(400, "missing_parameter", "startDate and endDate go together")
    first = _bound("startDate", start, end_of_day=False)
    last = _bound("endDate", end, end_of_day=True)
    if first > last:
        raise BrevoError(400, "invalid_parameter", "startDate must not be after endDate")
    return first, last


def _bound(name: str, text: str, *, end_of_day: bool) -> datetime:
    """A range bound; a bare date is its whole UTC day, so an end date reaches its last instant."""
    is_date = bool(DATE_RE.match(text))
    moment = parse_instant(text) if is_date or RFC3339_RE.match(text) else None
    if moment is None:
        raise BrevoError(
            400, "invalid_parameter", f"{name} must be YYYY-MM-DD or an RFC3339 date-time"
        )
    if is_date and end_of_day:
        return moment + timedelta(days=1, microseconds=-1)
    return moment


def _months_before(moment: datetime, months: int) -> datetime:
    """The same instant ``months`` calendar months earlier, the day clamped to that month's end."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _int64(name: str, raw: str) -> int:
    if not INT64_RE.match(raw) or int(raw) not in INT64_RANGE:
        raise BrevoError(400, "invalid_parameter", f"{name} must be an int64, got {raw!r}")
    return int(raw)


def _contact_resolver(account: BrevoAccount) -> Callable[[dict[str, Any]], int | None]:
    """Contact ids of event identifiers, each distinct set looked up once per listing.

    A listing spans many events per user, and each lookup scans the contacts.
    """
    known: dict[str, int | None] = {}

    def contact_id(identifiers: dict[str, Any]) -> int | None:
        key = json.dumps(identifiers, sort_keys=True)
        if key not in known:
            contact = account.event_contact(identifiers)
            known[key] = None if contact is None else contact["id"]
        return known[key]

    return contact_id


def _event_json(match: _Match) -> dict[str, Any]:
    """One listed event; its date in Brevo's format (UTC, milliseconds)."""
    event = match.event
    listed = {
        "contact_id": match.contact_id,
        "event_date": utc_iso(match.moment),
        "event_name": event["event_name"],
        "event_properties": event["event_properties"],
    }
    if "contact_properties" in event:
        listed["contact_properties"] = event["contact_properties"]
    kind = object_type(event)
    if kind is not None:
        listed["object_type"] = kind
    return listed

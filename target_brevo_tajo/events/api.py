"""Which of a batch call's events Brevo queued, from ``GET /events``.

The way to settle a call whose answer never came (developers.brevo.com/reference/get-events): every
event the target sends carries ``mp_insert_id`` in its ``event_properties``, so an event Brevo lists
under the same name, ``mp_insert_id`` and date is that event. The lookup asks only for the call's
event names and the span of its dates, newest first, and stops paging once all are found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from target_brevo_tajo.brevo.client import BrevoClient
from target_brevo_tajo.brevo.paging import offset_pages
from target_brevo_tajo.events.payload import parse_event_time

LOOKUP_PAGE = 10_000  # Brevo's cap on events per page
# Dates are compared to the second; the span asked for is widened by as much either side.
_SPAN_MARGIN = dt.timedelta(seconds=1)

EventRef = tuple[str, str, dt.datetime]  # Brevo event name, mp_insert_id, event date


def find_queued(client: BrevoClient, events: Sequence[EventRef]) -> set[int]:
    """The indices of ``events`` that Brevo lists."""
    if not events:
        return set()
    wanted = {
        (name, insert_id, _second(moment)): i for i, (name, insert_id, moment) in enumerate(events)
    }
    moments = [moment for _, _, moment in events]
    params = {
        "event_name": sorted({name for name, _, _ in events}),
        "startDate": _rfc3339(min(moments) - _SPAN_MARGIN),
        "endDate": _rfc3339(max(moments) + _SPAN_MARGIN),
    }
    found: set[int] = set()
    for page in offset_pages(client, "/events", "events", limit=LOOKUP_PAGE, params=params):
        for event in page:
            ref = _ref_of(event)
            index = None if ref is None else wanted.get(ref)
            if index is not None:
                found.add(index)
        if len(found) == len(wanted):
            break
    return found


def _ref_of(event: dict) -> tuple[str, str, dt.datetime] | None:
    properties = event.get("event_properties") or {}
    try:
        moment = parse_event_time(event.get("event_date"))
    except ValueError:
        return None
    return (str(event.get("event_name")), str(properties.get("mp_insert_id")), _second(moment))


def _second(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0)


def _rfc3339(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )

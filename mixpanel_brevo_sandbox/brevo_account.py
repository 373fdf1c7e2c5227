"""The Brevo side of the sandbox: one account, and the events Brevo queues for it.

The account's contacts, attributes, folders, lists and processes build up in layers
(:mod:`.brevo_processes`, :mod:`.brevo_contacts`, :mod:`.brevo_lists`); contact imports are
:mod:`.brevo_contact_import`, companies :mod:`.brevo_companies`. Events are queued as Brevo
queues them: each remembers when it was queued on a monotonic clock, and ``GET /events`` shows
it only ``events_visibility_seconds`` later.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from .brevo_contact_import import import_contacts
from .brevo_formats import utc_iso
from .brevo_limits import Clock
from .brevo_lists import BrevoLists

if TYPE_CHECKING:
    from .brevo_companies import BrevoCompanies


def check_visibility(seconds: Any) -> float:
    """Return ``seconds`` as a float if it is a finite, non-negative number; else a ValueError."""
    is_number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not is_number or not math.isfinite(seconds) or seconds < 0:
        raise ValueError("events visibility must be a finite, non-negative number of seconds")
    return float(seconds)


class BrevoAccount(BrevoLists):
    """Account state. Callers hold the sandbox lock.

    ``clock`` (monotonic seconds, injectable for tests) stamps each event when it is queued;
    ``events_visibility_seconds`` is how long Brevo's queue keeps an event out of ``GET /events``.
    """

    def __init__(
        self,
        crm: BrevoCompanies,
        clock: Clock = time.monotonic,
        events_visibility_seconds: float = 0.0,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.events_visibility_seconds = check_visibility(events_visibility_seconds)
        self.events: list[dict[str, Any]] = []
        # When each of ``events`` was queued (same order), kept out of the events themselves so
        # the admin API shows them exactly as stored.
        self.queued_at: list[float] = []
        self.crm = crm  # companies and company attributes (``brevo_companies``)

    def import_contacts(self, body: dict[str, Any]) -> int:
        """``POST /contacts/import``: applied at once, reported through the process it returns."""
        return import_contacts(self, body)

    # -- events ---------------------------------------------------------------------------

    def record_event(self, event: dict[str, Any]) -> None:
        """Queue an accepted event; contact_properties update the contact when it exists."""
        stored = {
            "event_name": event["event_name"],
            "event_date": event.get("event_date") or utc_iso(),
            "identifiers": event["identifiers"],
            "event_properties": event.get("event_properties", {}),
            "received_at": utc_iso(),
        }
        if "object" in event:
            stored["object"] = event["object"]
        if "contact_properties" in event:
            stored["contact_properties"] = event["contact_properties"]
            contact = self.event_contact(event["identifiers"])
            if contact is not None:
                known = {k: v for k, v in event["contact_properties"].items() if self.attribute(k)}
                self.set_attributes(contact, known, erase=False)
        self.events.append(stored)
        self.queued_at.append(self.clock())

    def visible_events(self) -> list[tuple[int, dict[str, Any]]]:
        """Events out of the queue by now, each with its arrival position."""
        cutoff = self.clock() - self.events_visibility_seconds
        queued = zip(self.events, self.queued_at, strict=True)
        return [(position, event) for position, (event, at) in enumerate(queued) if at <= cutoff]

    def event_contact(self, identifiers: dict[str, Any]) -> dict[str, Any] | None:
        """The contact an event's identifiers name, or None.

        ``contact_id`` alone decides when given; else email, ext_id and phone are tried in turn.
        """
        if "contact_id" in identifiers:
            contact_id = identifiers["contact_id"]
            return self.contacts.get(contact_id) if isinstance(contact_id, int) else None
        lookups = (("email_id", "email_id"), ("ext_id", "ext_id"), ("phone_id", "phone_id"))
        for key, kind in lookups:
            if isinstance(identifiers.get(key), str):
                contact = self.find(identifiers[key], kind)
                if contact is not None:
                    return contact
        return None

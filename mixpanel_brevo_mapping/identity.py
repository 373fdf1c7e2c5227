"""Identity merges: which Mixpanel distinct ids are aliases of another, canonical one.

Mixpanel exports the canonical distinct id as of export time, but a Brevo contact created
earlier may carry an older id. The events seen tell which ids belong together:

- Simplified ID merge: an event with both ``$device_id`` and ``$user_id`` links the anonymous
  ``$device:<id>`` to the user.
- Original ID merge: ``$identify`` links ``$anon_id`` to ``$identified_id``; ``$create_alias``
  links ``alias`` to the event's ``distinct_id``; ``$merge`` links each of ``$distinct_ids`` to
  the event's (canonical) ``distinct_id``.
"""

from __future__ import annotations

from typing import Any

DEVICE_PREFIX = "$device:"
IDENTITY_EVENTS = ("$identify", "$merge", "$create_alias")


def is_anonymous(distinct_id: str) -> bool:
    """A device id Mixpanel has not (yet) tied to a user."""
    return distinct_id.startswith(DEVICE_PREFIX)


def aliases_in(record: dict[str, Any]) -> dict[str, str]:
    """The ``{alias: canonical distinct id}`` links an event record reveals."""
    properties = record.get("properties") or {}
    links: dict[str, str] = {}
    device = record.get("device_id") or properties.get("$device_id")
    user = record.get("user_id") or properties.get("$user_id")
    if device and user:
        links[f"{DEVICE_PREFIX}{device}"] = str(user)
    canonical = record.get("distinct_id") or properties.get("distinct_id")
    name = record.get("event")
    if name == "$identify":
        anon, identified = properties.get("$anon_id"), properties.get("$identified_id")
        if anon and identified:
            links[str(anon)] = str(identified)
    elif name == "$create_alias" and canonical and properties.get("alias"):
        links[str(properties["alias"])] = str(canonical)
    elif name == "$merge" and canonical:
        for merged in properties.get("$distinct_ids") or []:
            if merged and str(merged) != str(canonical):
                links[str(merged)] = str(canonical)
    return {alias: target for alias, target in links.items() if alias != target}

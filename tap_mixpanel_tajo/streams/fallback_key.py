"""The key of an event without ``$insert_id``: what the event is, not who Mixpanel says did it.

Such an event is exported again by every lookback, and identity merges rewrite it between two
exports: its ``distinct_id`` becomes the cluster's canonical id, Simplified ID Merge sets
``$user_id`` on it retroactively, and ``$distinct_id_before_identity`` appears. A key that hashed
any of them would move with the merge, and the same event would reach Brevo twice. The key hashes
the event's name and its properties (``time`` included) without those, and without the
bookkeeping Mixpanel adds to each copy it ingests (processing and API times, endpoint, size,
``$import``): a copy ingested twice is one event, as to Mixpanel's own dedup (event, time,
distinct_id, ``$insert_id``), less the distinct_id that moves.

What describes the sender stays in, as no merge rewrites it: ``$device_id`` (set by the SDK;
Simplified ID Merge derives ``distinct_id`` from it) and the geolocation Mixpanel stored. They
keep apart the same event fired in the same second by two visitors. Two events of one name,
second and properties that differ only in the ids left out share a key: Brevo gets one of them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

#: Identity properties that an identity merge rewrites or adds after the event was stored.
MERGE_REWRITTEN = frozenset({"distinct_id", "$distinct_id_before_identity", "$user_id"})
#: Properties Mixpanel sets when it ingests an event: a re-ingested copy has its own.
SET_AT_INGESTION = frozenset(
    {
        "mp_processing_time_ms",
        "$mp_api_timestamp_ms",
        "$mp_api_endpoint",
        "$mp_event_size",
        "$import",
    }
)
LEFT_OUT = MERGE_REWRITTEN | SET_AT_INGESTION

_canonical = msgspec.json.Encoder(order="sorted")  # nested objects sorted too


def fallback_insert_id(event: Any, properties: Any) -> str:
    """A stable id for an event without ``$insert_id``: hex hash of its name and own properties.

    ``properties`` is the decoded object; keys are sorted at every depth, so the order Mixpanel
    exports them in does not matter. Anything else (text that could not be decoded) is hashed as
    it is.
    """
    own = (
        {name: value for name, value in properties.items() if name not in LEFT_OUT}
        if isinstance(properties, dict)
        else properties
    )
    return hashlib.sha256(_canonical.encode([event, own])).hexdigest()[:32]

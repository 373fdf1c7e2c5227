"""The JSON every Brevo body is written in (shared by events, contacts and lookups)."""

from __future__ import annotations

from typing import Any

import msgspec

# Singer readers hand numbers over as Decimal; Brevo wants JSON numbers.
_json = msgspec.json.Encoder(decimal_format="number")


def encode_json(value: Any) -> bytes:
    """``value`` as compact JSON; Decimals as JSON numbers."""
    return _json.encode(value)

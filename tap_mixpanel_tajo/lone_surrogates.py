"""Export lines holding a lone UTF-16 surrogate escape: passed on, the escape replaced.

An event with one failed its whole export window on every run. It is kept, with U+FFFD (the
replacement character) where the broken escape was; the client counts them in one warning.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

#: A UTF-16 surrogate: in decoded text, one no valid pair took (Python's json joins the pairs).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    """``value`` (decoded JSON) with each lone surrogate of its texts replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def without_lone_surrogates(line: bytes) -> bytes:
    r"""The JSON ``line`` with each lone surrogate escape (``\ud800``) replaced by U+FFFD.

    Such an escape is valid JSON syntax but no character: msgspec (and Brevo) refuse it, so one
    broken event would fail its whole export window on every run. Python's json reads it (a
    valid pair becomes its character, a lone one stays a surrogate); only a line that holds a
    lone one is re-encoded. Anything else returns ``line`` itself.
    """
    try:
        value = json.loads(line)
    except ValueError:
        return line
    scrubbed = _scrub(value)
    return line if scrubbed == value else msgspec.json.encode(scrubbed)

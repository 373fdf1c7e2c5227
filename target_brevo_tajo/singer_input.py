"""Reading Singer messages: msgspec's decoder, and unreadable input named in one line.

The SDK's reader logs a traceback and the whole line before it fails; a line of a multi-gigabyte
export or a 3,000-deep nesting would flood the log. Here a line that is not JSON ends the run with
one line naming its number and its start.
"""

from __future__ import annotations

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader

_decoder = msgspec.json.Decoder()
_EXCERPT = 80


class SingerInputError(ValueError):
    """Input that is not a Singer message stream; the message is one line."""


class SingerInput(MsgSpecReader):
    """Decodes each line with msgspec, counting lines so that an error can name its line."""

    def __init__(self) -> None:
        super().__init__()
        self._line_number = 0

    def deserialize_json(self, line: str) -> dict:
        """One line as a message, or a :class:`SingerInputError` naming the line."""
        self._line_number += 1
        try:
            message = _decoder.decode(line)
        except (msgspec.DecodeError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
            msg = f"input line {self._line_number} is {reason}: {line[:_EXCERPT]!r}"
            raise SingerInputError(msg) from None
        if not isinstance(message, dict):
            msg = f"input line {self._line_number} is not a Singer message: {line[:_EXCERPT]!r}"
            raise SingerInputError(msg)
        return message

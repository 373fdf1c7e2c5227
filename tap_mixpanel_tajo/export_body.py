r"""A Raw Export body as events: split on ``b"\n"``, checked line by line, decoded.

Mixpanel streams one JSON object per line. Lines are split on ``b"\n"`` only, so a JSON string
holding U+2028 (or any other character ``str.splitlines`` would split on) stays in its record.
A line that is not UTF-8 is skipped and counted; a broken ``\u`` escape (a lone UTF-16
surrogate) is repaired to U+FFFD and counted; a ``terminated early`` line fails the window so it
is fetched again; a line that is not JSON ends the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from tap_mixpanel_tajo.http_errors import MixpanelError, RetryableError
from tap_mixpanel_tajo.lone_surrogates import without_lone_surrogates

#: Final lines Mixpanel writes into a 200 body when it aborted the export part-way.
TERMINATED_EARLY = (b"terminated early", b"export terminated early")

_DECODERS: dict[type, msgspec.json.Decoder] = {}


def line_decoder(line_type: type) -> msgspec.json.Decoder:
    """One decoder per line type, built on its first use and kept."""
    if line_type not in _DECODERS:
        _DECODERS[line_type] = msgspec.json.Decoder(line_type)
    return _DECODERS[line_type]


class _NotUtf8Error(Exception):
    """An export line whose bytes are not UTF-8: skipped and counted, never fatal."""


@dataclass
class _Tally:
    """The lines of one body that were skipped (not UTF-8) or repaired (lone surrogates)."""

    not_utf8: int = 0
    repaired: int = 0


@dataclass(frozen=True)
class ExportBody:
    """How one export window's body is read: its label, line decoder, redaction and logger."""

    what: str
    decoder: msgspec.json.Decoder
    redact: Callable[[str], str]
    logger: logging.Logger

    def events(self, chunks: Iterable[bytes]) -> Iterator[Any]:
        """Each event of the body, decoded; the lines skipped or repaired are logged at the end."""
        tally = _Tally()
        for line in split_lines(chunks):
            try:
                record = self._decode(line, tally)
            except _NotUtf8Error:
                tally.not_utf8 += 1
                continue
            if record is not None:
                yield record
        if tally.not_utf8:
            self.logger.warning(
                "%s: skipped %d line(s) that are not UTF-8 text (Mixpanel exports UTF-8 JSON)",
                self.what,
                tally.not_utf8,
            )
        if tally.repaired:
            self.logger.warning(
                "%s: %d event(s) held a broken \\u escape (a lone UTF-16 surrogate); passed on "
                "with U+FFFD in its place",
                self.what,
                tally.repaired,
            )

    def _decode(self, line: bytes, tally: _Tally) -> Any:
        """One line's event (None for a blank line)."""
        line = line.strip()
        if not line:
            return None
        if line in TERMINATED_EARLY:
            msg = "Mixpanel ended the export early ('terminated early')"
            raise RetryableError(msg)
        # Checked first: msgspec does not check the text of the parts it leaves encoded.
        if not (line.isascii() or _is_utf8(line)):
            raise _NotUtf8Error
        if b"\\ud" in line or b"\\uD" in line:
            fixed = without_lone_surrogates(line)
            if fixed is not line:
                tally.repaired += 1
                line = fixed
        try:
            return self.decoder.decode(line)
        except msgspec.ValidationError as exc:
            msg = f"{self.what}: Mixpanel sent a line that is not a JSON object"
            raise MixpanelError(msg) from exc
        except msgspec.DecodeError as exc:
            snippet = self.redact(line[:80].decode("utf-8", "replace"))
            msg = f"{self.what}: Mixpanel sent a line that is not JSON ({snippet!r})"
            raise MixpanelError(msg) from exc


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    r"""The lines of a body read in chunks, split on ``b"\n"`` only (the last may be empty)."""
    buffer = b""
    for chunk in chunks:
        if b"\n" not in chunk:
            buffer += chunk
            continue
        *lines, buffer = (buffer + chunk).split(b"\n")
        yield from lines
    yield buffer


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

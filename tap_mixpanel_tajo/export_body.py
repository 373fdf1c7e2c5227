r"""A Raw Export body as events: split on ``b"\n"``, checked, decoded, block by block.

Mixpanel streams one JSON object per line. Lines are split on ``b"\n"`` only, so a JSON string
holding U+2028 (or any other character ``str.splitlines`` would split on) stays in its record.
A line that is not UTF-8 is skipped and counted; a broken ``\u`` escape (a lone UTF-16
surrogate) is repaired to U+FFFD and counted; a ``terminated early`` line fails the window so it
is fetched again; a line that is not JSON ends the run.

The body is read as blocks of whole lines (what one read of the socket holds). A block that is
UTF-8, has no ``\ud`` escape and whose every line decodes is taken in one go: one check of its
bytes, not one per line. Any other block is read line by line as above, so a bad line costs
its own block the slower path and changes nothing else.
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

    def blocks(self, chunks: Iterable[bytes]) -> Iterator[list[Any]]:
        """The events of the body, decoded, a list per block of lines (none of them empty).

        The lines skipped or repaired are logged at the end. A block read line by line yields
        each event in a list of its own, so the events before a line that fails are yielded
        before the failure, as they were read.
        """
        tally = _Tally()
        decode = self.decoder.decode
        for block in whole_lines(chunks):
            if _clean(block):
                try:
                    yield [decode(line) for line in block.split(b"\n")]
                    continue
                except msgspec.DecodeError:  # a blank, non-JSON or "terminated early" line
                    pass
            for line in block.split(b"\n"):
                try:
                    record = self._decode(line, tally)
                except _NotUtf8Error:
                    tally.not_utf8 += 1
                    continue
                if record is not None:
                    yield [record]
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


def whole_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    r"""A body read in chunks as blocks of whole lines, without their last ``b"\n"``.

    Each chunk that completes a line gives one block: the lines it completes. The text after
    the body's last ``b"\n"`` comes last (it may be empty).
    """
    rest = b""
    for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            rest += chunk
            continue
        yield rest + chunk[:end] if rest else chunk[:end]
        rest = chunk[end + 1 :]
    yield rest


def _clean(block: bytes) -> bool:
    r"""Whether every line of ``block`` is UTF-8 without a ``\ud`` escape (a surrogate's)."""
    if b"\\" in block and (b"\\ud" in block or b"\\uD" in block):
        return False
    return block.isascii() or _is_utf8(block)


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

"""Reading Singer messages: msgspec's decoder, a bad record rejected, unreadable input in one line.

The SDK's reader logs a traceback and the whole line before it fails; a line of a multi-gigabyte
export or a 3,000-deep nesting would flood the log. Here a line that is not JSON ends the run with
one line naming its number and its start. A record that cannot be read (bytes that are not UTF-8,
a lone surrogate escape, a record that is not an object, a blank line) is rejected with its reason
and the run goes on: one bad record must not stop every rerun at the same place.

BATCH messages name files of records (JSON lines, plain or gzip); their lines are read the same
way and handed on as RECORD messages, so they meet the same sinks, rejects and ledger.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.helpers._batch import StorageTarget

_decoder = msgspec.json.Decoder()
_EXCERPT = 80
MESSAGE_TYPES = ("RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH")
BATCH_ENCODING_ADVICE = (
    "set the tap's batch_config encoding to format jsonl (compression gzip or none)"
)

Reject = Callable[[str, str, dict[str, Any]], None]
BLANK = "blank"  # the problem of a line that holds nothing
_NO_RECORD: dict[str, Any] = {}  # what a message without a record is checked against


class SingerInputError(ValueError):
    """Input that is not a Singer message stream; the message is one line."""


class InputCut(SingerInputError):
    """The input's last line ends mid-message: the tap stopped while it was writing it."""


def _keep_no_rejects(stream: str, reason: str, record: dict[str, Any]) -> None:  # noqa: ARG001
    """Without a report to count them in, a bad record is an error of the input."""
    msg = f"{stream}: {reason}"
    raise SingerInputError(msg)


class SingerInput(MsgSpecReader):
    """Decodes each line with msgspec, counting lines so that an error can name its line.

    ``reject`` receives what cannot be read as (stream, reason, record); the target points it
    at its report.
    """

    def __init__(self) -> None:
        super().__init__()
        self._line_number = 0
        self.reject: Reject = _keep_no_rejects

    def process_lines(
        self, file_input: IO[Any] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter[str]:
        """Hand each message to its callback; read bytes where the input has them."""
        source = file_input or self.default_input
        stats: Counter[str] = Counter()
        for line in getattr(source, "buffer", source):
            message = self.read_message(line)
            if message is None:
                continue
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                msg = (
                    f"input line {self._line_number} is a Singer message of unknown type "
                    f"{kind!r}: the target reads {', '.join(MESSAGE_TYPES)}; check what feeds it"
                )
                raise SingerInputError(msg)
            callback(message)
            stats[kind] += 1
        return stats

    def read_message(self, line: str | bytes) -> dict | None:
        """One line as a message; None when its record was rejected."""
        self._line_number += 1
        try:
            message = _decoder.decode(line)
        except RecursionError:
            raise _too_deep(f"input line {self._line_number}", line) from None
        except msgspec.DecodeError:
            if _is_cut(line):
                msg = (
                    f"the input ended mid-message at line {self._line_number}: the tap failed "
                    "before it finished writing (see its log)"
                )
                raise InputCut(msg) from None
            return self._checked(*_decode(line, f"input line {self._line_number}"), line)
        if (
            isinstance(message, dict)
            and isinstance(message.get("type"), str)
            and isinstance(message.get("record", _NO_RECORD), dict)
        ):
            return message  # the fast path of every well-formed line
        return self._checked(message, None, line)

    def _checked(self, message: Any, problem: str | None, line: str | bytes) -> dict | None:
        """A line that is not a plain message: rejected with its reason, or an input error."""
        where = f"input line {self._line_number}"
        if problem == BLANK:
            self.reject("input", "blank line", {})
            return None
        if not isinstance(message, dict):
            msg = f"{where} is not a Singer message: {_excerpt(line)}"
            raise SingerInputError(msg)
        if not isinstance(message.get("type"), str):
            msg = f"{where} has no message type: {_excerpt(line)}"
            raise SingerInputError(msg)
        stream = message.get("stream")
        is_record = message["type"] == "RECORD" and isinstance(stream, str) and "record" in message
        if problem and not is_record:
            raise SingerInputError(f"{where}: {problem}")
        if is_record:
            record = message["record"]
            if not isinstance(record, dict):
                problem = problem or f"the record is {_json_kind(record)}, not an object"
                record = {}
            if problem:
                self.reject(str(stream), problem, record)
                return None
        return message

    def batch_records(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The records of a BATCH message's files, as RECORD messages; bad ones rejected."""
        where = f"the BATCH message of input line {self._line_number}"
        stream, files = message.get("stream"), message.get("manifest")
        if not isinstance(stream, str) or not isinstance(files, list):
            msg = f"{where} needs a stream and a manifest (a list of file URLs)"
            raise SingerInputError(msg)
        encoding = message.get("encoding")
        compression = encoding.get("compression") if isinstance(encoding, dict) else None
        if (
            not isinstance(encoding, dict)
            or encoding.get("format") != "jsonl"
            or compression not in (None, "none", "gzip")
        ):
            msg = f"{where} has encoding {encoding!r}, which the target cannot read: "
            raise SingerInputError(msg + BATCH_ENCODING_ADVICE)
        for url in files:
            lines = _batch_file_lines(str(url), gzipped=compression == "gzip", where=where)
            yield from self._batch_file_records(stream, str(url), lines)

    def _batch_file_records(
        self, stream: str, url: str, lines: Iterable[bytes]
    ) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(lines, start=1):
            where = f"line {number} of batch file {url}"
            try:
                record, problem = _decoder.decode(line), None
            except RecursionError:
                raise _too_deep(where, line) from None
            except msgspec.DecodeError:
                record, problem = _decode(line, where)
            if problem == BLANK:
                self.reject(stream, "blank line in a batch file", {})
                continue
            if not problem and not isinstance(record, dict):
                problem = f"the record is {_json_kind(record)}, not an object"
            if problem:
                self.reject(stream, problem, record if isinstance(record, dict) else {})
                continue
            yield {"type": "RECORD", "stream": stream, "record": record}


def _batch_file_lines(url: str, *, gzipped: bool, where: str) -> Iterator[bytes]:
    """The lines of one batch file; a file that cannot be read is one line naming it."""
    head, tail = StorageTarget.split_url(url)
    try:
        with StorageTarget.from_url(head).open(tail, mode="rb") as raw:
            if gzipped:
                with gzip.open(raw) as lines:
                    yield from lines
            else:
                yield from raw
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        msg = (
            f"{where} names {url}, which cannot be read ({' '.join(str(exc).split())}): keep "
            "the tap's batch files until the target has read them, and check the encoding"
        )
        raise SingerInputError(msg) from None


def _decode(line: str | bytes, where: str) -> tuple[Any, str | None]:
    """A line msgspec refused: its JSON value, and why its record must be rejected.

    msgspec refuses blank lines, bytes that are not UTF-8 and lone surrogate escapes; such a
    line is decoded again, leniently, only to say which record it held. A line that is not JSON
    at all is an error of the whole input.
    """
    if not line.strip():
        return None, BLANK
    problem = None
    if isinstance(line, bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = line.decode("utf-8", errors="replace")
            problem = f"the line is not UTF-8 ({exc.reason}): fix the source"
    else:
        text = line
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        msg = f"{where} is not JSON: {_excerpt(line)}"
        raise SingerInputError(msg) from None
    if problem is None:
        path = _lone_surrogate_path(value)
        if path is None:
            msg = f"{where} is not JSON: {_excerpt(line)}"
            raise SingerInputError(msg)
        problem = (
            f"{path or 'the line'} holds a lone surrogate escape (such as \\ud800), "
            "which is not Unicode text: fix the source"
        )
    return value, problem


def _is_cut(line: str | bytes) -> bool:
    """A line without its newline that is not JSON: only the last can be, where a tap stopped.

    Every other line that is not JSON ends with its newline, and stays an error of the input.
    """
    if isinstance(line, bytes):
        ended, text = line.endswith(b"\n"), line.decode("utf-8", errors="replace")
    else:
        ended, text = line.endswith("\n"), line
    if ended or not text.strip():
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return True
    return False


def _too_deep(where: str, line: str | bytes) -> SingerInputError:
    return SingerInputError(f"{where} is nested too deeply: {_excerpt(line)}")


def _lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """Where a string that is not valid Unicode sits in a decoded value (a key counts too)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _lone_surrogate_path(key) is not None:
            return where.encode("utf-8", errors="backslashreplace").decode()
        found = _lone_surrogate_path(item, where)
        if found is not None:
            return found.encode("utf-8", errors="backslashreplace").decode()
    return None


def _json_kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _excerpt(line: str | bytes) -> str:
    start = line[:_EXCERPT]
    return repr(start.decode("utf-8", errors="replace") if isinstance(start, bytes) else start)

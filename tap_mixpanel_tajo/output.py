"""The tap's Singer output: many messages per ``write`` system call, flushed at each STATE.

The SDK's ``MsgSpecWriter`` flushes stdout after every message: one ``write`` system call per
event. Here a RECORD line only goes into stdout's buffer, which the operating system receives
a block at a time; any other message (SCHEMA, STATE, ...) flushes it, so a STATE goes out at
once, after every record it covers. Python flushes stdout at exit, on every path that reaches
it (end of sync, error, SIGTERM through the SDK's handler), so no record stays behind.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.simple import Message

_UTC = dt.timezone.utc


class BufferedMsgSpecWriter(MsgSpecWriter):
    """``MsgSpecWriter`` that leaves RECORD lines in stdout's buffer and flushes at the others."""

    def write_message(self, message: Message) -> None:
        """Write the line to stdout's buffer; flush unless it is a RECORD."""
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()

    def write_record(self, stream: str, record: dict[str, Any], version: int | None) -> None:
        """The line ``write_message(RecordMessage(...))`` writes, encoded once from ``record``.

        Same fields, same encoder (the SDK's), extracted now; no message object, no dict copy.
        """
        message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = dt.datetime.now(_UTC)
        sys.stdout.buffer.write(serialize_jsonl(message))

"""The tap's Singer output: many messages per ``write`` system call, flushed at each STATE.

The SDK's ``MsgSpecWriter`` flushes stdout after every message: one ``write`` system call per
event. Here a RECORD line only goes into stdout's buffer, which the operating system receives
a block at a time; any other message (SCHEMA, STATE, ...) flushes it, so a STATE goes out at
once, after every record it covers. Python flushes stdout at exit, on every path that reaches
it (end of sync, error, SIGTERM through the SDK's handler), so no record stays behind.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.simple import Message


class BufferedMsgSpecWriter(MsgSpecWriter):
    """``MsgSpecWriter`` that leaves RECORD lines in stdout's buffer and flushes at the others."""

    def write_message(self, message: Message) -> None:
        """Write the line to stdout's buffer; flush unless it is a RECORD."""
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()

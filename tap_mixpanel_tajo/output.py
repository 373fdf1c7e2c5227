"""The tap's Singer output: many events per ``write`` system call, sent on at each STATE.

The SDK's ``MsgSpecWriter`` flushes stdout after every message: one ``write`` system call per
event. Nor can events wait in stdout's own buffer: under ``PYTHONUNBUFFERED=1``, which many
container images and orchestrators set, ``sys.stdout.buffer`` is the raw file and every line
would still be a system call. So the events stream's RECORD lines (:meth:`write_record`) wait
in the writer's own block, written out when it reaches a pipe's capacity (64 KiB). Any message
(SCHEMA, STATE, a RECORD of another stream) writes the block first, and all but RECORDs flush:
a STATE goes out at once, after every record it covers. ``MixpanelStream.emit_state`` also
calls :meth:`flush`: the SDK writes no STATE for a state that has not changed.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.simple import Message

_UTC = dt.timezone.utc
BLOCK_BYTES = 64 * 1024  # a Linux pipe's capacity: the reader gets whole blocks


class BufferedMsgSpecWriter(MsgSpecWriter):
    """``MsgSpecWriter`` that keeps the events' RECORD lines in a block, written at the others."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._block = bytearray()
        self._heads: dict[str, bytes] = {}
        self._tail = b""
        self._tail_ms = -1
        self._tail_version: int | None = None

    def write_message(self, message: Message) -> None:
        """Write the block, then the line; flush stdout unless it is a RECORD."""
        self._block += self.format_message(message)
        self._write_block()
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()

    def write_record(self, stream: str, record: dict[str, Any], version: int | None) -> None:
        """Add the line ``write_message(RecordMessage(...))`` writes to the block.

        The same fields, by the same encoder (the SDK's), in the same order: the record is
        encoded straight into the block between the line's head and its tail, both kept. The
        tail holds ``time_extracted``, made again when the millisecond changes.
        """
        block = self._block
        head = self._heads.get(stream)
        if head is None:
            head = self._heads[stream] = b'{"type":"RECORD","stream":%s,"record":' % (
                encoder.encode(stream)
            )
        block += head
        encoder.encode_into(record, block, -1)
        now = time.time()
        if int(now * 1000) != self._tail_ms or version != self._tail_version:
            self._new_tail(now, version)
        block += self._tail
        if len(block) >= BLOCK_BYTES:
            self._write_block()

    def _new_tail(self, now: float, version: int | None) -> None:
        """The end of a RECORD line: its version and ``time_extracted`` (``now``), encoded."""
        tail: dict[str, Any] = {} if version is None else {"version": version}
        tail["time_extracted"] = dt.datetime.fromtimestamp(now, _UTC)
        self._tail = b"," + encoder.encode(tail)[1:] + b"\n"
        self._tail_ms = int(now * 1000)
        self._tail_version = version

    def flush(self) -> None:
        """Hand every line written so far to the operating system."""
        self._write_block()
        sys.stdout.flush()

    def _write_block(self) -> None:
        if not self._block:
            return
        out = sys.stdout.buffer
        view = memoryview(self._block)
        while view:  # a raw file may take part of a block (a signal mid-write)
            view = view[out.write(view) :]
        view.release()
        self._block.clear()

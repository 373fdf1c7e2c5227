"""Lookup table CSVs as Mixpanel reads them: streamed rows, each value typed by Mixpanel's rules.

Mixpanel's lookup table format (https://docs.mixpanel.com/reference/replace-lookup-table):
RFC 4180, a header of unique names, the first column is the row key. Values are parsed: integers
and floats become numbers, ``true``/``false`` (any case) booleans, ``["a","b"]`` a list of
strings, an empty field is undefined (left out); anything else, RFC 3339 times included, stays
text. A number is written as JSON writes one, so an id like ``007`` keeps its zeros as text.

The body is never held whole: bytes are decoded and cut into lines as they come, and
:func:`csv.reader` joins the lines of a quoted field that spans several.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
BOOLEANS = {"true": True, "false": False}
CHUNK_BYTES = 64 * 1024


class LookupCsvError(Exception):
    """A CSV that cannot be read as a lookup table; ``str(error)`` is one line."""


def typed(text: str) -> Any:
    """One CSV field as Mixpanel types it (the caller leaves out empty fields)."""
    boolean = BOOLEANS.get(text.lower())
    if boolean is not None:
        return boolean
    number = NUMBER.fullmatch(text)
    if number:
        if not number.group(1) and not number.group(2):
            return int(text)
        value = float(text)
        return value if math.isfinite(value) else text
    if text.startswith("[") and text.endswith("]"):
        try:
            items = json.loads(text)
        except ValueError:
            return text
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return items
    return text


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    r"""UTF-8 text lines of a body read in chunks, each with its ``\n`` (a BOM is dropped).

    Cut on ``\n`` only: a field holding U+2028 or a lone ``\r`` stays in its line, and the
    ``\n`` inside a quoted field reaches :func:`csv.reader` so it can keep it.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    try:
        for chunk in chunks:
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        msg = f"the CSV is not UTF-8 text ({exc.reason}): save it as UTF-8"
        raise LookupCsvError(msg) from None
    if pending:
        yield pending


@dataclass
class CsvRows:
    """The rows of one lookup table CSV as ``(key, values)``, counting what it had to skip.

    Iterate once. A row whose field count differs from the header's, or whose key is empty, is
    skipped and counted (Mixpanel refuses such a file; a source CSV may still have one).
    """

    lines: Iterable[str]
    rows: int = 0
    skipped: int = 0
    first_skipped_line: int | None = None

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        reader = csv.reader(self.lines, strict=True)
        try:
            header = next(reader, None)
            if not header or not any(name.strip() for name in header):
                msg = "the CSV has no header row (the first row names the columns)"
                raise LookupCsvError(msg)
            _check_header(header)
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header) or not row[0]:
                    self.skipped += 1
                    self.first_skipped_line = self.first_skipped_line or reader.line_num
                    continue
                self.rows += 1
                cells = zip(header[1:], row[1:], strict=True)
                yield row[0], {name: typed(text) for name, text in cells if text}
        except csv.Error as exc:
            msg = f"the CSV is malformed at line {reader.line_num} ({exc})"
            raise LookupCsvError(msg) from None


def _check_header(header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            msg = "the CSV's header has an empty column name"
            raise LookupCsvError(msg)
        if name in seen:
            msg = f"the CSV's header names column {name!r} twice (names must be unique)"
            raise LookupCsvError(msg)
        seen.add(name)


def is_url(location: str) -> bool:
    """True for an http(s) URL, False for a file path."""
    return urlsplit(location).scheme in {"http", "https"}


def describe(location: str) -> str:
    """A source location fit for a log line: a URL without its query or credentials."""
    if not is_url(location):
        return location
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


class _SourceUrlsHidden(logging.Filter):
    """httpx logs each request's whole URL; a source's query (a signature, a token) stays out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                describe(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


@contextmanager
def source_lines(location: str, *, timeout_seconds: float) -> Iterator[Iterator[str]]:
    """The text lines of a source CSV (a file path, or an http(s) URL read as a stream).

    The URL is fetched without the Mixpanel credentials: it is the user's file, wherever it
    lives. Raises :class:`LookupCsvError` saying why it cannot be read (the caller names it).
    """
    if is_url(location):
        hidden = _SourceUrlsHidden()
        httpx_logger = logging.getLogger("httpx")
        httpx_logger.addFilter(hidden)
        try:
            with httpx.stream(
                "GET", location, timeout=timeout_seconds, follow_redirects=True
            ) as response:
                if response.status_code != 200:
                    msg = f"answered HTTP {response.status_code}"
                    raise LookupCsvError(msg)
                yield text_lines(response.iter_bytes(CHUNK_BYTES))
        except httpx.HTTPError as exc:
            msg = f"cannot be fetched ({type(exc).__name__})"
            raise LookupCsvError(msg) from None
        finally:
            httpx_logger.removeFilter(hidden)
        return
    try:
        with Path(location).expanduser().open("rb") as handle:
            yield text_lines(iter(lambda: handle.read(CHUNK_BYTES), b""))
    except OSError as exc:
        msg = f"cannot be read ({exc.strerror or type(exc).__name__})"
        raise LookupCsvError(msg) from None

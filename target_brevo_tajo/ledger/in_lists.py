"""Keys for ``column IN (...)`` queries, in chunks of a few fixed sizes.

SQLAlchemy renders an ``IN`` list as one placeholder per key, so each list length is a different
SQL text. Python's sqlite3 keeps the last 128 texts prepared on each connection, and a prepared
``IN`` of 500 keys holds about 100 KB: lists of every length from 1 to 500 made the target's
memory grow by tens of megabytes over a long run. Padding each chunk to a power of two (by
repeating its last key, which ``IN`` ignores) leaves ten texts per query. Chunks also stay far
below any database's limit on bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

CHUNK = 512  # the largest chunk; a power of two


def in_chunks(keys: Iterable[str]) -> Iterator[list[str]]:
    """The distinct ``keys`` in sorted chunks of at most :data:`CHUNK`, each padded to 2**n."""
    distinct = sorted(set(keys))
    for start in range(0, len(distinct), CHUNK):
        chunk = distinct[start : start + CHUNK]
        size = 1 << (len(chunk) - 1).bit_length()
        yield chunk + [chunk[-1]] * (size - len(chunk))


def look_up(
    conn: sa.Connection, key: sa.Column, value: sa.Column, keys: Iterable[str]
) -> dict[str, Any]:
    """``value`` by ``key`` for each of these ``keys`` found in the table, chunk by chunk."""
    found: dict[str, Any] = {}
    for chunk in in_chunks(keys):
        found.update(
            (row[0], row[1]) for row in conn.execute(sa.select(key, value).where(key.in_(chunk)))
        )
    return found

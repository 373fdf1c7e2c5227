"""One migration at a time on a SQLite ledger: a lock on a file beside the database.

Workers starting together on a new ledger each found it without tables and each created them;
all but the first then failed ("table sent_events already exists"): Python's sqlite3 runs DDL
outside a transaction, so nothing made the others wait. A PostgreSQL ledger takes an advisory
lock instead (``migrate.py``). The first switch of a new ledger to write-ahead logging takes the
same lock: two workers switching at once failed with "database is locked". The lock is ``flock``
on ``<ledger>-migration.lock``, beside SQLite's own ``-wal`` and ``-shm`` files (what removes or
ignores those covers it too); the system releases it when its holder dies, so a killed worker
never leaves it held.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import sqlalchemy as sa


def migration_lock(url: sa.URL) -> AbstractContextManager[None]:
    """Held by one worker at a time per SQLite ledger file; a no-op for other databases."""
    path = database_file(url)
    return nullcontext() if path is None else _locked(path.with_name(f"{path.name}-migration.lock"))


def database_file(url: sa.URL) -> Path | None:
    """The file of a SQLite database; None for an in-memory one or another kind of database."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if url.query.get("uri"):
        if url.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    return None if database in ("", ":memory:") else Path(database)


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    try:
        handle = lock_file.open("a")
    except OSError as exc:
        msg = f"cannot create the migration lock {lock_file}: {exc.strerror}"
        raise ValueError(msg) from exc
    with handle:  # closing the file releases its lock
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield

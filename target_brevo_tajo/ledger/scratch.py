"""A dry run's ledger: a private copy of the real one, thrown away when the run ends.

A dry run applies every rule a real run applies, and several rules read what the run itself
recorded a moment earlier: an identity merge attributes later events, an event sent by one batch
deduplicates its repeat in the next, a contact imported once is unchanged the second time. Writes
rolled back one by one hid all of that, so a dry run's counts differed from the real run's. The
copy is a SQLite file in a temporary folder; the ledger at ``ledger_url`` is only read. A run
killed with ``kill -9`` cannot remove its copy, so each dry run first removes the copies whose
run no longer exists.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from target_brevo_tajo.ledger.migrate import upgrade_to_head
from target_brevo_tajo.ledger.schema import metadata

COPY_CHUNK_ROWS = 10_000
PREFIX = "brevo-dry-run-ledger-"
OWNER_FILE = "owner.pid"
# A copy without its owner's pid is one being made, unless it is older than this.
UNOWNED_GRACE_SECONDS = 3600


def scratch_copy(url: str, options: dict) -> tuple[sa.Engine, Path]:
    """An engine on a new copy of the ledger at ``url``, and the folder that holds the copy.

    A SQLite ledger is copied page by page (its schema migrated on the copy, never on the
    original); another database is brought to the current schema, then copied table by table.
    A ledger that does not exist yet gives an empty copy and is not created.
    """
    remove_abandoned_copies(Path(tempfile.gettempdir()))
    try:
        folder = Path(tempfile.mkdtemp(prefix=PREFIX))
        (folder / OWNER_FILE).write_text(str(os.getpid()))
    except OSError as exc:
        raise ValueError(f"no temporary folder for the dry run's copy: {exc}") from exc
    copy = folder / "ledger.sqlite"
    try:
        source = sa.make_url(url)
        if source.get_backend_name() == "sqlite":
            _copy_sqlite(source, options, copy)
        engine = sa.create_engine(
            f"sqlite:///{copy}", connect_args={"timeout": 60, "check_same_thread": False}
        )
        upgrade_to_head(engine)
        if source.get_backend_name() != "sqlite":
            _copy_tables(sa.create_engine(url, **options), engine)
    except (sqlite3.Error, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ValueError(f"cannot copy it for the dry run: {exc}") from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return engine, folder


def remove_abandoned_copies(temporary: Path) -> None:
    """Remove the copies of dry runs that were killed: their owner's process is gone."""
    for folder in temporary.glob(f"{PREFIX}*"):
        try:
            if _abandoned(folder):
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # another user's folder, or one just removed: not ours to judge


def _abandoned(folder: Path) -> bool:
    owner = folder / OWNER_FILE
    if not owner.exists():
        return time.time() - folder.stat().st_mtime > UNOWNED_GRACE_SECONDS
    try:
        pid = int(owner.read_text())
    except ValueError:
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _copy_sqlite(source: sa.URL, options: dict, copy: Path) -> None:
    """SQLite's online backup: a consistent copy even while a real run writes the ledger."""
    database = source.database or ""
    if not source.query.get("uri") and database not in ("", ":memory:"):
        _check_writable_folder(Path(database))
    if not source.query.get("uri") and (
        database in ("", ":memory:") or not Path(database).exists()
    ):
        return
    engine = sa.create_engine(source, **options)
    try:
        with engine.connect() as conn, sqlite3.connect(copy) as target:
            conn.connection.driver_connection.backup(target)  # type: ignore[union-attr]
    finally:
        engine.dispose()


def _copy_tables(source: sa.Engine, copy: sa.Engine) -> None:
    try:
        upgrade_to_head(source)
        with source.connect() as reading, copy.begin() as writing:
            for table in metadata.sorted_tables:
                rows = reading.execute(sa.select(table)).mappings()
                while chunk := rows.fetchmany(COPY_CHUNK_ROWS):
                    writing.execute(sa.insert(table), [dict(row) for row in chunk])
    finally:
        source.dispose()


def _check_writable_folder(database: Path) -> None:
    """The real run writes the ledger and its journal beside it: the plan fails where it would."""
    folder = database.absolute().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"unable to open database file: {folder} is missing or not writable")

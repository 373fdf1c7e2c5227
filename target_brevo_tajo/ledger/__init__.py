"""The sync ledger: what Brevo has already accepted, keyed by Mixpanel ids.

Brevo has no idempotency keys for events, so the ledger remembers every event Brevo accepted
(by a key derived from its name, ``$insert_id`` and time) and the identities needed to address
contacts. Each ``POST /events/batch`` call is recorded *before* it is sent, as a call in doubt
with its events; Brevo's answer settles it (accepted events become sent events), and a call whose
answer never came is settled later by looking its events up in Brevo. Losing the ledger costs API
calls, never correctness of what Mixpanel holds.

SQLAlchemy Core: a SQLite file by default, any SQLAlchemy URL (e.g. Postgres) for shared runs.
Alembic migrations bring its tables to the current schema whenever a ledger is opened.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from target_brevo_tajo.ledger.errors import LedgerError
from target_brevo_tajo.ledger.in_lists import look_up
from target_brevo_tajo.ledger.lock import migration_lock
from target_brevo_tajo.ledger.migrate import LedgerSchemaError, upgrade_to_head
from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import (
    contacts,
    event_calls,
    identities,
)
from target_brevo_tajo.ledger.scratch import scratch_copy
from target_brevo_tajo.ledger.upserts import upsert


def default_ledger_url() -> str:
    """A SQLite file in the working directory: Meltano's project root, where it runs plugins.

    Not under ``.meltano/``: that folder carries a CACHEDIR.TAG, so backup tools skip it.
    """
    return f"sqlite:///{Path('brevo-sync-ledger.sqlite').resolve()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _engine_options(url: str) -> dict[str, Any]:
    if not url.startswith("sqlite"):
        return {}
    options: dict[str, Any] = {"connect_args": {"timeout": 60, "check_same_thread": False}}
    if ":memory:" in url or url == "sqlite://":
        options["poolclass"] = sa.pool.StaticPool  # one shared in-memory database
    return options


def _commit_through_wal(engine: sa.Engine) -> None:
    """SQLite: commit through a write-ahead log, each commit synced to disk.

    A batch call commits twice (its claim, then its answer). In SQLite's default rollback journal
    a commit costs three fsyncs (about 22 ms on the benchmark machine) and a writer blocks the
    readers; in WAL it costs one (about 6 ms) and readers never wait. ``synchronous=FULL`` keeps
    each commit through a power loss, not only through a kill: with NORMAL (1 ms) a power cut
    could undo a claim whose call had already left, and the rerun would send its events again.
    WAL needs every worker on one host (no network file system); workers on several hosts share
    a Postgres ledger anyway. The database keeps the mode once set; setting it while another
    worker sets it fails ("database is locked"), so a new ledger is set under the migration lock.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            with migration_lock(engine.url):
                cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def _ledger_problem(url: str, error: Exception) -> str:
    """One line naming the ledger (without its password) and what to do about it."""
    if isinstance(error, LedgerSchemaError):
        return str(error)  # names the ledger and what to do already
    try:
        shown = sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        shown = repr(url)
    detail = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
    if isinstance(error, sa.exc.ArgumentError) or "Can't load plugin" in detail:
        hint = "set ledger_url to a SQLAlchemy URL such as sqlite:////path/ledger.sqlite"
    elif isinstance(error, ImportError):
        hint = "install the database driver this URL names"
    elif "readonly" in detail or "read-only" in detail or "permission" in detail.lower():
        hint = "make the ledger writable (a dry run only reads it), or point ledger_url elsewhere"
    elif "unable to open database file" in detail:
        hint = (
            "the ledger's folder must exist and be writable (SQLite writes its journal beside "
            "the file): create it or make it writable, or point ledger_url elsewhere"
        )
    elif "not a database" in detail:
        hint = "this file is not a sync ledger: point ledger_url at the ledger, or a new file"
    else:
        hint = "check ledger_url and that its database can be opened"
    return f"cannot use the sync ledger {shown}: {detail}; {hint}"


@retry_transactions
class Ledger:
    """Reads and writes the ledger tables; migrates them to the current schema on opening."""

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        """Open the ledger at ``url``; ``read_only`` (a dry run) works on a private copy of it.

        The copy takes every write, so the run sees what it would have recorded; the ledger at
        ``url`` is only read, and the copy is deleted by :meth:`close`.
        """
        self.url = url or default_ledger_url()
        self._scratch: Path | None = None
        # Names this worker on the calls it claims; unique per run, readable in the database.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        try:
            if read_only:
                self.engine, self._scratch = scratch_copy(self.url, _engine_options(self.url))
                return
            self.engine = sa.create_engine(self.url, **_engine_options(self.url))
            if self.engine.dialect.name == "sqlite":
                _commit_through_wal(self.engine)
            upgrade_to_head(self.engine)
            self._check_writable()
        except (sa.exc.SQLAlchemyError, LedgerSchemaError, ImportError, ValueError) as exc:
            raise LedgerError(_ledger_problem(self.url, exc)) from exc

    def _check_writable(self) -> None:
        """Fail before any Brevo call, not after one whose acceptance could not be recorded."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(event_calls).where(sa.false()))
            conn.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))

    def close(self) -> None:
        """Release connections; a dry run's copy is deleted."""
        self.engine.dispose()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def writing(self) -> AbstractContextManager[sa.Connection]:
        """A write transaction, for the ledger's other modules."""
        return self.engine.begin()

    # Identities -------------------------------------------------------------------------
    # Shared by events and contacts. The contacts' own rows (what was sent, Brevo ids, values
    # left out) are kept by their store, ``contacts/ledger.py``.

    def learn_aliases(self, alias_to_canonical: dict[str, str]) -> None:
        """Remember which canonical distinct id each alias now belongs to (ID merges)."""
        now = _now()
        rows = [
            {"alias_id": alias, "canonical_id": canonical, "seen_at": now}
            for alias, canonical in alias_to_canonical.items()
        ]
        with self.engine.begin() as conn:
            upsert(conn, identities, rows, key=["alias_id"])

    def canonical_ids(self, distinct_ids: Iterable[str]) -> dict[str, str]:
        """The canonical id of each of these ids that the ledger knows as an alias."""
        with self.engine.connect() as conn:
            return look_up(conn, identities.c.alias_id, identities.c.canonical_id, distinct_ids)

    def emails_for(self, distinct_ids: Iterable[str]) -> dict[str, str]:
        """The email of each contact the ledger knows to be synced with one.

        Events address a contact by it; the contacts' store (``contacts/ledger.py``) writes it.
        """
        with self.engine.connect() as conn:
            found = look_up(conn, contacts.c.distinct_id, contacts.c.email, distinct_ids)
        return {k: v for k, v in found.items() if v}

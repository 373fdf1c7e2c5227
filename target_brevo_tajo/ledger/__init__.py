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
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from target_brevo_tajo.ledger.errors import LedgerError
from target_brevo_tajo.ledger.in_lists import in_chunks
from target_brevo_tajo.ledger.lock import migration_lock
from target_brevo_tajo.ledger.migrate import LedgerSchemaError, upgrade_to_head
from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import (
    contact_brevo_ids,
    contacts,
    contacts_left_out,
    event_calls,
    identities,
)
from target_brevo_tajo.ledger.scratch import scratch_copy
from target_brevo_tajo.ledger.upserts import upsert


@dataclass(frozen=True)
class SyncedContact:
    """A contact as the ledger remembers it."""

    distinct_id: str
    email: str | None = None
    sms: str | None = None
    attributes_hash: str | None = None
    last_full_refresh: str | None = None
    updated_at: dt.datetime | None = None

    def as_row(self) -> dict[str, Any]:
        """Column values to write (``updated_at`` is set by the ledger)."""
        return {
            "distinct_id": self.distinct_id,
            "email": self.email,
            "sms": self.sms,
            "attributes_hash": self.attributes_hash,
            "last_full_refresh": self.last_full_refresh,
        }


@dataclass(frozen=True)
class LeftOutContact:
    """A contact sent with values left out: its profile's properties, kept to send it again."""

    distinct_id: str
    properties: dict[str, Any]
    left_out: list[str]  # the attributes left out

    def as_row(self, now: dt.datetime) -> dict[str, Any]:
        """Column values to write."""
        return {
            "distinct_id": self.distinct_id,
            "properties": json.dumps(self.properties, default=str, sort_keys=True),
            "left_out": ",".join(self.left_out),
            "updated_at": now,
        }


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
            return self._lookup(
                conn, identities.c.alias_id, identities.c.canonical_id, distinct_ids
            )

    def aliases_of(self, canonical_ids: Iterable[str]) -> dict[str, str]:
        """The known aliases of these canonical ids: ``{alias: canonical}``."""
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in in_chunks(canonical_ids):
                rows = conn.execute(
                    sa.select(identities.c.alias_id, identities.c.canonical_id).where(
                        identities.c.canonical_id.in_(chunk)
                    )
                )
                found.update((row[0], row[1]) for row in rows)
        return found

    # Contacts -----------------------------------------------------------------------------

    def emails_for(self, distinct_ids: Iterable[str]) -> dict[str, str]:
        """The email of each contact the ledger knows to be synced with one."""
        with self.engine.connect() as conn:
            found = self._lookup(conn, contacts.c.distinct_id, contacts.c.email, distinct_ids)
        return {k: v for k, v in found.items() if v}

    def contacts_by_id(self, distinct_ids: Iterable[str]) -> dict[str, SyncedContact]:
        """What the ledger holds of each of these contacts."""
        found: dict[str, SyncedContact] = {}
        with self.engine.connect() as conn:
            for chunk in in_chunks(distinct_ids):
                rows = conn.execute(sa.select(contacts).where(contacts.c.distinct_id.in_(chunk)))
                found.update((row.distinct_id, SyncedContact(**row._asdict())) for row in rows)
        return found

    def sms_owners(self, numbers: Iterable[str]) -> dict[str, str]:
        """The contact (distinct id) each SMS number belongs to in Brevo, as far as synced."""
        with self.engine.connect() as conn:
            return self._lookup(conn, contacts.c.sms, contacts.c.distinct_id, numbers)

    def record_contacts(
        self,
        synced: Iterable[SyncedContact],
        *,
        left_out: Iterable[LeftOutContact] = (),
        sent_whole: Iterable[str] = (),
    ) -> None:
        """Remember contacts Brevo imported: identifiers and the hash of what was sent.

        In the same transaction, keep the profiles of those sent with values ``left_out`` and
        forget the left-out values of those now ``sent_whole``.
        """
        now = _now()
        rows = list(
            {row.distinct_id: {**row.as_row(), "updated_at": now} for row in synced}.values()
        )
        with self.engine.begin() as conn:
            upsert(conn, contacts, rows, key=["distinct_id"])
            self._keep_left_out(conn, left_out, forget=sent_whole)

    def mark_listed_in_refresh(self, distinct_ids: Iterable[str], refresh_id: str) -> None:
        """Note that a full refresh listed these profiles (those it did not are gone)."""
        with self.engine.begin() as conn:
            for chunk in in_chunks(distinct_ids):
                conn.execute(
                    sa.update(contacts)
                    .where(contacts.c.distinct_id.in_(chunk))
                    .values(last_full_refresh=refresh_id)
                )

    def contacts_missing_from(self, refresh_id: str) -> list[SyncedContact]:
        """Synced contacts that a complete full refresh did not list: gone from Mixpanel."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(contacts).where(
                    sa.or_(
                        contacts.c.last_full_refresh.is_(None),
                        contacts.c.last_full_refresh != refresh_id,
                    )
                )
            )
            return [SyncedContact(**row._asdict()) for row in rows]

    def forget_contacts(self, distinct_ids: Iterable[str]) -> None:
        """Drop contacts deleted from Brevo."""
        with self.engine.begin() as conn:
            for chunk in in_chunks(distinct_ids):
                for table in (contacts, contacts_left_out):
                    conn.execute(sa.delete(table).where(table.c.distinct_id.in_(chunk)))

    def rename_contact(self, old_id: str, new_id: str) -> None:
        """An identity merge gave the contact a new canonical distinct id."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(contacts)
                .where(contacts.c.distinct_id == old_id)
                .values(distinct_id=new_id, updated_at=_now())
            )
            conn.execute(
                sa.delete(contacts_left_out).where(contacts_left_out.c.distinct_id == old_id)
            )
            # The Brevo contact keeps its id under its new distinct id.
            ids = contact_brevo_ids
            conn.execute(sa.delete(ids).where(ids.c.distinct_id == new_id))
            conn.execute(
                sa.update(ids).where(ids.c.distinct_id == old_id).values(distinct_id=new_id)
            )

    def forget_left_out(self, distinct_ids: Iterable[str]) -> None:
        """Stop remembering these contacts' left-out values."""
        with self.engine.begin() as conn:
            self._keep_left_out(conn, (), forget=distinct_ids)

    @staticmethod
    def _keep_left_out(
        conn: sa.Connection, kept: Iterable[LeftOutContact], forget: Iterable[str]
    ) -> None:
        for chunk in in_chunks(forget):
            conn.execute(
                sa.delete(contacts_left_out).where(contacts_left_out.c.distinct_id.in_(chunk))
            )
        now = _now()
        upsert(conn, contacts_left_out, [c.as_row(now) for c in kept], key=["distinct_id"])

    def contacts_left_out(self) -> list[LeftOutContact]:
        """Every contact remembered with values left out."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(contacts_left_out).order_by(contacts_left_out.c.distinct_id)
            )
            return [
                LeftOutContact(row.distinct_id, json.loads(row.properties), row.left_out.split(","))
                for row in rows
            ]

    @staticmethod
    def _lookup(
        conn: sa.Connection, key: sa.Column, value: sa.Column, keys: Iterable[str]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in in_chunks(keys):
            found.update(
                (row[0], row[1])
                for row in conn.execute(sa.select(key, value).where(key.in_(chunk)))
            )
        return found

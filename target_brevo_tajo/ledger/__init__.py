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
import hashlib
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
    cohort_lists,
    contact_brevo_ids,
    contacts,
    contacts_left_out,
    event_calls,
    events_in_doubt,
    events_timing,
    identities,
    list_members,
    sent_events,
)
from target_brevo_tajo.ledger.scratch import scratch_copy
from target_brevo_tajo.ledger.upserts import insert_new, upsert


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


def event_key(event_name: str, insert_id: str, event_time: dt.datetime) -> str:
    """The ledger key of one Mixpanel event: its name, ``$insert_id`` and time.

    Mixpanel deduplicates on ``(event, time, distinct_id, $insert_id)``; ``distinct_id`` is left
    out because identity merges change it, while the time of an event never changes.
    """
    moment = (
        event_time.replace(tzinfo=dt.timezone.utc)
        if event_time.tzinfo is None
        else event_time.astimezone(dt.timezone.utc)
    )
    text = f"{event_name}\x1f{insert_id}\x1f{moment.isoformat(timespec='microseconds')}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class LedgerEvent:
    """One event as the ledger keeps it: its key, Mixpanel facts and the Brevo payload sent."""

    key: str
    insert_id: str
    event_name: str  # the Mixpanel name
    event_time: dt.datetime
    payload: bytes  # the Brevo event's JSON, as it goes into a batch call

    def sent_row(self, now: dt.datetime) -> dict[str, Any]:
        """The ``sent_events`` row of this event, accepted at ``now``."""
        return {
            "event_key": self.key,
            "insert_id": self.insert_id,
            "event_name": self.event_name,
            "event_time": self.event_time,
            "sent_at": now,
        }

    def doubt_row(self, call_id: str) -> dict[str, Any]:
        """The ``events_in_doubt`` row of this event, part of call ``call_id``."""
        return {
            "call_id": call_id,
            "event_key": self.key,
            "insert_id": self.insert_id,
            "event_name": self.event_name,
            "event_time": self.event_time,
            "payload": self.payload.decode("utf-8"),
        }


@dataclass(frozen=True)
class CallInDoubt:
    """A batch call recorded before it was sent and not settled since."""

    call_id: str
    opened_at: dt.datetime
    events: list[LedgerEvent]


def default_ledger_url() -> str:
    """A SQLite file in the working directory: Meltano's project root, where it runs plugins.

    Not under ``.meltano/``: that folder carries a CACHEDIR.TAG, so backup tools skip it.
    """
    return f"sqlite:///{Path('brevo-sync-ledger.sqlite').resolve()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_VISIBILITY = "visibility_delay"  # the events_timing row of Brevo's events queue


def _database_now(conn: sa.Connection) -> dt.datetime:
    """The database's clock, in UTC: every worker's leases are timed by this one clock.

    A host whose own clock runs ahead would otherwise see live workers' leases as run out, take
    their calls over and send them again.
    """
    if conn.dialect.name == "sqlite":
        text = conn.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
    moment = conn.execute(sa.select(sa.func.current_timestamp())).scalar_one()
    return _aware(moment).astimezone(dt.timezone.utc)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; the ledger only ever writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class ClaimLost(RuntimeError):
    """Another worker took over a call whose lease had run out: settling it is theirs now."""


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

    # Events -------------------------------------------------------------------------------

    def sent_event_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` Brevo has already accepted."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in in_chunks(keys):
                rows = conn.execute(
                    sa.select(sent_events.c.event_key).where(sent_events.c.event_key.in_(chunk))
                )
                found.update(row[0] for row in rows)
        return found

    def record_sent_events(self, events: Iterable[LedgerEvent]) -> None:
        """Remember events Brevo accepted."""
        with self.engine.begin() as conn:
            self._insert_sent(conn, list(events))

    @staticmethod
    def _insert_sent(conn: sa.Connection, events: list[LedgerEvent]) -> None:
        # A key already there was sent by this run or another worker: it stays as it is.
        now = _now()
        insert_new(conn, sent_events, list({e.key: e.sent_row(now) for e in events}.values()))

    def open_call(
        self, call_id: str, events: list[LedgerEvent], lease_seconds: float
    ) -> list[LedgerEvent]:
        """Claim a batch call's events before it is sent; returns those this worker may send.

        An event already sent, or claimed by a call of another worker, is left out: one claim
        per event (a unique key) makes two workers on the same input never both send it. The
        claim is committed before the call leaves and lasts ``lease_seconds``.
        """
        with self.engine.begin() as conn:
            claimed = self._open(conn, call_id, events, lease_seconds)
        return [event for event in events if event.key in claimed]

    def _open(
        self,
        conn: sa.Connection,
        call_id: str,
        events: list[LedgerEvent],
        lease_seconds: float,
    ) -> set[str]:
        now = _database_now(conn)
        lease_until = now + dt.timedelta(seconds=lease_seconds)
        conn.execute(
            sa.insert(event_calls).values(
                call_id=call_id, opened_at=now, owner=self.owner, lease_until=lease_until
            )
        )
        insert_new(conn, events_in_doubt, [event.doubt_row(call_id) for event in events])
        # Correlated, so each of the call's claims probes sent_events' key: ``event_key IN
        # (SELECT event_key FROM sent_events)`` made SQLite walk every sent key on every call,
        # and a ledger of 1M sent events halved the target's speed.
        sent_already = sa.exists().where(sent_events.c.event_key == events_in_doubt.c.event_key)
        conn.execute(
            sa.delete(events_in_doubt).where(events_in_doubt.c.call_id == call_id, sent_already)
        )
        claimed = set(
            conn.execute(
                sa.select(events_in_doubt.c.event_key).where(events_in_doubt.c.call_id == call_id)
            ).scalars()
        )
        if not claimed:
            conn.execute(sa.delete(event_calls).where(event_calls.c.call_id == call_id))
        return claimed

    def settle_call(
        self,
        call_id: str,
        accepted: Iterable[LedgerEvent],
        reissue: tuple[str, list[LedgerEvent], float] | None = None,
    ) -> list[LedgerEvent]:
        """Settle this worker's call in one transaction: its accepted events become sent events.

        ``reissue`` (call id, events, lease) opens the call that resends what the settled call
        did not deliver, in the same transaction, so a kill at any instant leaves those events
        claimed, never lost; the events it claimed are returned. Raises :class:`ClaimLost` when
        another worker took the call over (its lease ran out): settling is theirs then.
        """
        with self.engine.begin() as conn:
            mine = conn.execute(
                sa.delete(event_calls).where(
                    event_calls.c.call_id == call_id, event_calls.c.owner == self.owner
                )
            )
            if not mine.rowcount:
                raise ClaimLost(call_id)
            conn.execute(sa.delete(events_in_doubt).where(events_in_doubt.c.call_id == call_id))
            self._insert_sent(conn, list(accepted))
            if reissue is None:
                return []
            new_id, events, lease_seconds = reissue
            claimed = self._open(conn, new_id, events, lease_seconds)
        return [event for event in events if event.key in claimed]

    def now(self) -> dt.datetime:
        """The database's clock, which times every lease and call in doubt."""
        with self.engine.connect() as conn:
            return _database_now(conn)

    def renew(self, call_id: str, lease_seconds: float) -> bool:
        """Extend this worker's lease on a call; False when another worker has taken it over."""
        with self.engine.begin() as conn:
            lease_until = _database_now(conn) + dt.timedelta(seconds=lease_seconds)
            renewed = conn.execute(
                sa.update(event_calls)
                .where(event_calls.c.call_id == call_id, event_calls.c.owner == self.owner)
                .values(lease_until=lease_until)
            )
        return bool(renewed.rowcount)

    def renew_all(self, lease_seconds: float) -> None:
        """The heartbeat of a live worker: extend the lease of every call it holds.

        A call may wait far longer than its lease (a 429 whose reset outlasts it, a slow
        settle); while its owner lives, no other worker may take it over.
        """
        with self.engine.begin() as conn:
            lease_until = _database_now(conn) + dt.timedelta(seconds=lease_seconds)
            conn.execute(
                sa.update(event_calls)
                .where(event_calls.c.owner == self.owner)
                .values(lease_until=lease_until)
            )

    def release_claims(self) -> None:
        """End this worker's leases: a run that stops lets the next one settle its calls at once.

        Only a killed worker keeps its claims until their leases run out.
        """
        with self.engine.begin() as conn:
            ended = _database_now(conn) - dt.timedelta(seconds=1)
            conn.execute(
                sa.update(event_calls)
                .where(event_calls.c.owner == self.owner)
                .values(lease_until=ended)
            )

    def take_over_expired_calls(self, lease_seconds: float) -> list[CallInDoubt]:
        """Claim the calls whose owner's lease ran out (a killed worker), oldest first.

        Each is taken by a conditional update, so two workers never take the same call; a call
        whose owner is still within its lease is left to that owner.
        """
        with self.engine.connect() as conn:
            now = _database_now(conn)
            expired = (
                conn.execute(
                    sa.select(event_calls.c.call_id)
                    .where(
                        sa.or_(event_calls.c.lease_until.is_(None), event_calls.c.lease_until < now)
                    )
                    .order_by(event_calls.c.opened_at)
                )
                .scalars()
                .all()
            )
        taken = []
        for call_id in expired:
            with self.engine.begin() as conn:
                now = _database_now(conn)
                won = conn.execute(
                    sa.update(event_calls)
                    .where(
                        event_calls.c.call_id == call_id,
                        sa.or_(
                            event_calls.c.lease_until.is_(None), event_calls.c.lease_until < now
                        ),
                    )
                    .values(owner=self.owner, lease_until=now + dt.timedelta(seconds=lease_seconds))
                )
            if won.rowcount:
                taken.append(call_id)
        return [call for call in self.calls_in_doubt() if call.call_id in taken]

    def claimed_by_others(self, keys: Iterable[str] | None = None) -> set[str]:
        """The event keys (of ``keys``, or all) that another worker's calls hold in doubt."""
        query = (
            sa.select(events_in_doubt.c.event_key)
            .join(event_calls, event_calls.c.call_id == events_in_doubt.c.call_id)
            .where(sa.or_(event_calls.c.owner.is_(None), event_calls.c.owner != self.owner))
        )
        with self.engine.connect() as conn:
            if keys is None:
                return set(conn.execute(query).scalars())
            found: set[str] = set()
            for chunk in in_chunks(keys):
                found.update(
                    conn.execute(query.where(events_in_doubt.c.event_key.in_(chunk))).scalars()
                )
        return found

    def calls_in_doubt(self) -> list[CallInDoubt]:
        """Calls no answer has settled (a kill mid-call, an ambiguous answer), oldest first."""
        with self.engine.connect() as conn:
            calls = conn.execute(
                sa.select(event_calls.c.call_id, event_calls.c.opened_at).order_by(
                    event_calls.c.opened_at
                )
            ).all()
            found = []
            for call_id, opened_at in calls:
                rows = conn.execute(
                    sa.select(
                        events_in_doubt.c.event_key,
                        events_in_doubt.c.insert_id,
                        events_in_doubt.c.event_name,
                        events_in_doubt.c.event_time,
                        events_in_doubt.c.payload,
                    ).where(events_in_doubt.c.call_id == call_id)
                ).all()
                events = [
                    LedgerEvent(key, insert_id, name, _aware(time), payload.encode("utf-8"))
                    for key, insert_id, name, time, payload in rows
                ]
                found.append(CallInDoubt(call_id, _aware(opened_at), events))
        return found

    def events_visibility_delay(self) -> float:
        """The longest delay observed before an accepted event showed in ``GET /events``."""
        with self.engine.connect() as conn:
            seconds = conn.execute(
                sa.select(events_timing.c.seconds).where(events_timing.c.name == _VISIBILITY)
            ).scalar()
        return float(seconds or 0.0)

    def note_events_visibility_delay(self, seconds: float) -> None:
        """Keep ``seconds`` if it is longer than every delay observed so far."""
        with self.engine.begin() as conn:
            now = _database_now(conn)
            row = {"name": _VISIBILITY, "seconds": seconds, "observed_at": now}
            insert_new(conn, events_timing, [row])
            conn.execute(
                sa.update(events_timing)
                .where(events_timing.c.name == _VISIBILITY, events_timing.c.seconds < seconds)
                .values(seconds=seconds, observed_at=now)
            )

    def prune_sent_events(self, older_than: dt.datetime) -> int:
        """Forget events whose time is before ``older_than``; returns how many rows went."""
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.delete(sent_events).where(sent_events.c.event_time < older_than)
            )
        return result.rowcount or 0

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

    def learn_brevo_ids(self, ids: dict[str, int]) -> None:
        """Remember contacts' numeric Brevo ids as a listing showed them, by distinct id."""
        rows = [{"distinct_id": d, "brevo_id": i} for d, i in ids.items()]
        with self.engine.begin() as conn:
            upsert(conn, contact_brevo_ids, rows, key=["distinct_id"])

    def distinct_ids_of(self, brevo_ids: Iterable[int]) -> dict[int, str]:
        """The distinct id of each of these Brevo contact ids that the ledger knows.

        One pass over the ids the ledger holds (``brevo_id`` has no index; a list read back is
        about as long as the table anyway).
        """
        wanted = set(brevo_ids)
        query = sa.select(contact_brevo_ids.c.brevo_id, contact_brevo_ids.c.distinct_id)
        with self.engine.connect() as conn:
            return {int(i): d for i, d in conn.execute(query) if int(i) in wanted}

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

    # Lists --------------------------------------------------------------------------------

    def list_members(self, list_id: int, among: Iterable[str] | None = None) -> set[str]:
        """The distinct ids the ledger knows to be in a Brevo list (only ``among`` these, if given).

        ``among`` keeps a batch's lookup to its own ids instead of reading a whole large list.
        """
        query = sa.select(list_members.c.distinct_id).where(list_members.c.list_id == list_id)
        with self.engine.connect() as conn:
            if among is None:
                return {row[0] for row in conn.execute(query)}
            found: set[str] = set()
            for chunk in in_chunks(among):
                found.update(
                    row[0]
                    for row in conn.execute(query.where(list_members.c.distinct_id.in_(chunk)))
                )
            return found

    def add_list_members(self, list_id: int, distinct_ids: Iterable[str]) -> None:
        """Record members Brevo accepted into a list."""
        now = _now()
        rows = [
            {"list_id": list_id, "distinct_id": d, "added_at": now}
            for d in sorted(set(distinct_ids))
        ]
        with self.engine.begin() as conn:
            insert_new(conn, list_members, rows)

    def remove_list_members(self, list_id: int, distinct_ids: Iterable[str]) -> None:
        """Record members Brevo removed from a list."""
        with self.engine.begin() as conn:
            for chunk in in_chunks(distinct_ids):
                conn.execute(
                    sa.delete(list_members).where(
                        list_members.c.list_id == list_id, list_members.c.distinct_id.in_(chunk)
                    )
                )

    def cohort_list(self, cohort_id: int) -> tuple[int, dt.datetime | None] | None:
        """The Brevo list a cohort syncs to, and when it was last reconciled."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(cohort_lists.c.list_id, cohort_lists.c.reconciled_at).where(
                    cohort_lists.c.cohort_id == cohort_id
                )
            ).first()
        if row is None:
            return None
        reconciled = row[1]
        if reconciled is not None and reconciled.tzinfo is None:
            reconciled = reconciled.replace(tzinfo=dt.timezone.utc)  # SQLite drops the zone
        return int(row[0]), reconciled

    def save_cohort_list(self, cohort_id: int, list_id: int, cohort_name: str) -> None:
        """Remember which list a cohort syncs to (a changed mapping moves it)."""
        row = {"cohort_id": cohort_id, "list_id": list_id, "cohort_name": cohort_name}
        with self.engine.begin() as conn:
            upsert(conn, cohort_lists, [row], key=["cohort_id"])

    def mark_reconciled(self, cohort_id: int) -> None:
        """A cohort's list was just read back from Brevo and repaired."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(cohort_lists)
                .where(cohort_lists.c.cohort_id == cohort_id)
                .values(reconciled_at=_now())
            )

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

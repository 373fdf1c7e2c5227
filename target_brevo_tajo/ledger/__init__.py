"""The sync ledger: what Brevo has already accepted, keyed by Mixpanel ids.

Brevo has no idempotency keys for events, so the ledger remembers every event Brevo accepted
(by a key derived from its ``$insert_id``) and the identities needed to address contacts. A row
is written only after Brevo accepted the call it describes, and each call's rows are committed
before the next call is made, so a killed run loses at most the acknowledgement of one call.
Losing the ledger costs API calls, never correctness of what Mixpanel holds.

SQLAlchemy Core: a SQLite file by default, any SQLAlchemy URL (e.g. Postgres) for shared runs.
Alembic migrations bring its tables to the current schema whenever a ledger is opened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from target_brevo_tajo.ledger.migrate import upgrade_to_head
from target_brevo_tajo.ledger.schema import (
    cohort_lists,
    contacts,
    identities,
    list_members,
    sent_events,
)

_QUERY_CHUNK = 500


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


def event_key(event_name: str, insert_id: str) -> str:
    """The ledger key of one Mixpanel event: the same ``$insert_id`` under the same name."""
    digest = hashlib.blake2b(f"{event_name}\x1f{insert_id}".encode(), digest_size=16)
    return digest.hexdigest()


def default_ledger_url() -> str:
    """A SQLite file under ``.meltano/`` when run by Meltano, else in the working directory."""
    folder = Path(".meltano") if Path(".meltano").is_dir() else Path()
    return f"sqlite:///{(folder / 'brevo-sync-ledger.sqlite').resolve()}"


def _chunks(items: list[Any], size: int = _QUERY_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ledger:
    """Reads and writes the ledger tables; migrates them to the current schema on opening."""

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        self.url = url or default_ledger_url()
        self.read_only = read_only
        options: dict[str, Any] = {}
        if self.url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 60, "check_same_thread": False}
            if ":memory:" in self.url or self.url == "sqlite://":
                options["poolclass"] = sa.pool.StaticPool  # one shared in-memory database
        self.engine = sa.create_engine(self.url, **options)
        # Also in a dry run: its reads need the tables; only data writes are rolled back.
        upgrade_to_head(self.engine)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A transaction that commits, or, for a dry run, always rolls back."""
        if not self.read_only:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                yield conn
            finally:
                transaction.rollback()

    # Events -------------------------------------------------------------------------------

    def sent_event_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` Brevo has already accepted."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(keys)):
                rows = conn.execute(
                    sa.select(sent_events.c.event_key).where(sent_events.c.event_key.in_(chunk))
                )
                found.update(row[0] for row in rows)
        return found

    def record_sent_events(self, rows: Iterable[tuple[str, str, str, dt.datetime]]) -> None:
        """Remember events Brevo accepted: ``(event_key, insert_id, event_name, event_time)``."""
        now = _now()
        values = [
            {"event_key": k, "insert_id": i, "event_name": n, "event_time": t, "sent_at": now}
            for k, i, n, t in rows
        ]
        if not values:
            return
        with self._writing() as conn:
            # Checked again inside the transaction: workers sharing one ledger may have sent
            # the same event since the batch was filtered.
            known = set()
            for chunk in _chunks([v["event_key"] for v in values]):
                known.update(
                    r[0]
                    for r in conn.execute(
                        sa.select(sent_events.c.event_key).where(sent_events.c.event_key.in_(chunk))
                    )
                )
            fresh = [v for v in values if v["event_key"] not in known]
            if fresh:
                conn.execute(sa.insert(sent_events), fresh)

    def prune_sent_events(self, older_than: dt.datetime) -> int:
        """Forget events whose time is before ``older_than``; returns how many rows went."""
        with self._writing() as conn:
            result = conn.execute(
                sa.delete(sent_events).where(sent_events.c.event_time < older_than)
            )
        return result.rowcount or 0

    # Identities -------------------------------------------------------------------------

    def learn_aliases(self, alias_to_canonical: dict[str, str]) -> None:
        """Remember which canonical distinct id each alias now belongs to (ID merges)."""
        if not alias_to_canonical:
            return
        now = _now()
        with self._writing() as conn:
            existing = self._lookup(
                conn, identities.c.alias_id, identities.c.canonical_id, list(alias_to_canonical)
            )
            for alias, canonical in alias_to_canonical.items():
                if alias not in existing:
                    conn.execute(
                        sa.insert(identities).values(
                            alias_id=alias, canonical_id=canonical, seen_at=now
                        )
                    )
                elif existing[alias] != canonical:
                    conn.execute(
                        sa.update(identities)
                        .where(identities.c.alias_id == alias)
                        .values(canonical_id=canonical, seen_at=now)
                    )

    def canonical_ids(self, distinct_ids: Iterable[str]) -> dict[str, str]:
        """The canonical id of each of these ids that the ledger knows as an alias."""
        with self.engine.connect() as conn:
            return self._lookup(
                conn, identities.c.alias_id, identities.c.canonical_id, list(distinct_ids)
            )

    def aliases_of(self, canonical_ids: Iterable[str]) -> dict[str, str]:
        """The known aliases of these canonical ids: ``{alias: canonical}``."""
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(canonical_ids))):
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
            found = self._lookup(conn, contacts.c.distinct_id, contacts.c.email, list(distinct_ids))
        return {k: v for k, v in found.items() if v}

    def contacts_by_id(self, distinct_ids: Iterable[str]) -> dict[str, SyncedContact]:
        """What the ledger holds of each of these contacts."""
        found: dict[str, SyncedContact] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(distinct_ids))):
                rows = conn.execute(sa.select(contacts).where(contacts.c.distinct_id.in_(chunk)))
                found.update((row.distinct_id, SyncedContact(**row._asdict())) for row in rows)
        return found

    def sms_owners(self, numbers: Iterable[str]) -> dict[str, str]:
        """The contact (distinct id) each SMS number belongs to in Brevo, as far as synced."""
        with self.engine.connect() as conn:
            return self._lookup(conn, contacts.c.sms, contacts.c.distinct_id, list(numbers))

    def record_contacts(self, synced: Iterable[SyncedContact]) -> None:
        """Remember contacts Brevo imported: identifiers and the hash of what was sent."""
        now = _now()
        rows = list(synced)
        existing = self.contacts_by_id(row.distinct_id for row in rows)
        with self._writing() as conn:
            for row in rows:
                values = {**row.as_row(), "updated_at": now}
                if row.distinct_id in existing:
                    values.pop("distinct_id")
                    conn.execute(
                        sa.update(contacts)
                        .where(contacts.c.distinct_id == row.distinct_id)
                        .values(**values)
                    )
                else:
                    conn.execute(sa.insert(contacts).values(**values))

    def mark_listed_in_refresh(self, distinct_ids: Iterable[str], refresh_id: str) -> None:
        """Note that a full refresh listed these profiles (those it did not are gone)."""
        with self._writing() as conn:
            for chunk in _chunks(sorted(set(distinct_ids))):
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
        with self._writing() as conn:
            for chunk in _chunks(sorted(set(distinct_ids))):
                conn.execute(sa.delete(contacts).where(contacts.c.distinct_id.in_(chunk)))

    def rename_contact(self, old_id: str, new_id: str) -> None:
        """An identity merge gave the contact a new canonical distinct id."""
        with self._writing() as conn:
            conn.execute(
                sa.update(contacts)
                .where(contacts.c.distinct_id == old_id)
                .values(distinct_id=new_id, updated_at=_now())
            )

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
            for chunk in _chunks(sorted(set(among))):
                found.update(
                    row[0]
                    for row in conn.execute(query.where(list_members.c.distinct_id.in_(chunk)))
                )
            return found

    def add_list_members(self, list_id: int, distinct_ids: Iterable[str]) -> None:
        """Record members Brevo accepted into a list."""
        ids = set(distinct_ids)
        fresh = sorted(ids - self.list_members(list_id, among=ids))
        if fresh:
            with self._writing() as conn:
                conn.execute(
                    sa.insert(list_members),
                    [{"list_id": list_id, "distinct_id": d, "added_at": _now()} for d in fresh],
                )

    def remove_list_members(self, list_id: int, distinct_ids: Iterable[str]) -> None:
        """Record members Brevo removed from a list."""
        with self._writing() as conn:
            for chunk in _chunks(sorted(set(distinct_ids))):
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
        with self._writing() as conn:
            updated = conn.execute(
                sa.update(cohort_lists)
                .where(cohort_lists.c.cohort_id == cohort_id)
                .values(list_id=list_id, cohort_name=cohort_name)
            )
            if not updated.rowcount:
                conn.execute(
                    sa.insert(cohort_lists).values(
                        cohort_id=cohort_id, list_id=list_id, cohort_name=cohort_name
                    )
                )

    def mark_reconciled(self, cohort_id: int) -> None:
        """A cohort's list was just read back from Brevo and repaired."""
        with self._writing() as conn:
            conn.execute(
                sa.update(cohort_lists)
                .where(cohort_lists.c.cohort_id == cohort_id)
                .values(reconciled_at=_now())
            )

    @staticmethod
    def _lookup(
        conn: sa.Connection, key: sa.Column, value: sa.Column, keys: list[str]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(keys))):
            found.update(
                (row[0], row[1])
                for row in conn.execute(sa.select(key, value).where(key.in_(chunk)))
            )
        return found

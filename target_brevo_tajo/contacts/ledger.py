"""The ledger's view of Brevo contacts: what was sent for each, its Brevo id, values left out.

Brevo's contacts are keyed by Mixpanel's canonical distinct id (``ext_id``). The ledger keeps the
identifiers and the hash of the attributes last sent for each contact, so a run sends only what
changed; the numeric Brevo ids a list read back showed; and the profiles of contacts sent with
values left out, so that a later run sends those values once the account takes them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from target_brevo_tajo.ledger.in_lists import in_chunks, look_up
from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import (
    contact_brevo_ids,
    contacts,
    contacts_left_out,
    identities,
)
from target_brevo_tajo.ledger.upserts import upsert


class _Ledger(Protocol):
    """What :class:`ContactLedger` uses of the ledger: its engine and write transactions."""

    engine: sa.Engine

    def writing(self) -> AbstractContextManager[sa.Connection]: ...


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


#: What a routed stream's contacts carry instead of a full refresh id: ``route:<stream>``.
ROUTED_MARK = "route:"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@retry_transactions
class ContactLedger:
    """Reads and writes the contact tables of one ledger (its engine and write transactions)."""

    def __init__(self, ledger: _Ledger) -> None:
        self._ledger = ledger

    def aliases_of(self, canonical_ids: Iterable[str]) -> dict[str, str]:
        """The known aliases of these canonical ids: ``{alias: canonical}``.

        The shared ledger learns the aliases (events and profiles both bring them); contacts
        read them to carry a merged contact over to its canonical id.
        """
        found: dict[str, str] = {}
        with self._ledger.engine.connect() as conn:
            for chunk in in_chunks(canonical_ids):
                rows = conn.execute(
                    sa.select(identities.c.alias_id, identities.c.canonical_id).where(
                        identities.c.canonical_id.in_(chunk)
                    )
                )
                found.update((row[0], row[1]) for row in rows)
        return found

    def contacts_by_id(self, distinct_ids: Iterable[str]) -> dict[str, SyncedContact]:
        """What the ledger holds of each of these contacts."""
        found: dict[str, SyncedContact] = {}
        with self._ledger.engine.connect() as conn:
            for chunk in in_chunks(distinct_ids):
                rows = conn.execute(sa.select(contacts).where(contacts.c.distinct_id.in_(chunk)))
                found.update((row.distinct_id, SyncedContact(**row._asdict())) for row in rows)
        return found

    def sms_owners(self, numbers: Iterable[str]) -> dict[str, str]:
        """The contact (distinct id) each SMS number belongs to in Brevo, as far as synced."""
        with self._ledger.engine.connect() as conn:
            return look_up(conn, contacts.c.sms, contacts.c.distinct_id, numbers)

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
        with self._ledger.writing() as conn:
            upsert(conn, contacts, rows, key=["distinct_id"])
            self._keep_left_out(conn, left_out, forget=sent_whole)

    def mark_listed_in_refresh(self, distinct_ids: Iterable[str], refresh_id: str) -> None:
        """Note that a full refresh listed these profiles (those it did not are gone)."""
        with self._ledger.writing() as conn:
            for chunk in in_chunks(distinct_ids):
                conn.execute(
                    sa.update(contacts)
                    .where(contacts.c.distinct_id.in_(chunk))
                    .values(last_full_refresh=refresh_id)
                )

    def contacts_missing_from(self, refresh_id: str) -> list[SyncedContact]:
        """Synced contacts that a complete full refresh did not list: gone from Mixpanel.

        A contact a routed stream wrote (marked ``route:<stream>``) never came from Mixpanel.
        """
        with self._ledger.engine.connect() as conn:
            rows = conn.execute(
                sa.select(contacts).where(
                    sa.or_(
                        contacts.c.last_full_refresh.is_(None),
                        sa.and_(
                            contacts.c.last_full_refresh != refresh_id,
                            sa.not_(contacts.c.last_full_refresh.startswith(ROUTED_MARK)),
                        ),
                    )
                )
            )
            return [SyncedContact(**row._asdict()) for row in rows]

    def forget_contacts(self, distinct_ids: Iterable[str]) -> None:
        """Drop contacts deleted from Brevo."""
        with self._ledger.writing() as conn:
            for chunk in in_chunks(distinct_ids):
                for table in (contacts, contacts_left_out):
                    conn.execute(sa.delete(table).where(table.c.distinct_id.in_(chunk)))

    def rename_contact(self, old_id: str, new_id: str) -> None:
        """An identity merge gave the contact a new canonical distinct id."""
        with self._ledger.writing() as conn:
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
        with self._ledger.writing() as conn:
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
        with self._ledger.engine.connect() as conn:
            rows = conn.execute(
                sa.select(contacts_left_out).order_by(contacts_left_out.c.distinct_id)
            )
            return [
                LeftOutContact(row.distinct_id, json.loads(row.properties), row.left_out.split(","))
                for row in rows
            ]

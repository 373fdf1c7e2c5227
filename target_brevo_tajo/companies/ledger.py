"""The ledger's view of Brevo companies: which company each Mixpanel group is, and its links.

Brevo companies have no external id and no upsert: without this map every run would create
every company again. The links are kept as last sent, so each run sends only the difference.

A group whose company an import is creating is recorded *before* the import leaves, in the same
table with no company id yet (:data:`IN_DOUBT`): if the answer never comes (lost, or the run is
killed), the next look finds the record and looks the company up in Brevo instead of creating it
again. No schema change: a row without a company id is simply not a mapped company.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from target_brevo_tajo.ledger.in_lists import in_chunks
from target_brevo_tajo.ledger.retry import retry_transactions
from target_brevo_tajo.ledger.schema import (
    companies,
    company_links,
    contact_brevo_ids,
    group_members,
)
from target_brevo_tajo.ledger.upserts import insert_new, upsert

GroupRef = tuple[str, str]  # (group key, group id)
#: The company id of a group whose company an import is creating: the answer is not in yet.
IN_DOUBT = ""


class _Ledger(Protocol):
    """What :class:`CompanyLedger` uses of the ledger: its engine and write transactions."""

    engine: sa.Engine

    def writing(self) -> AbstractContextManager[sa.Connection]: ...


@dataclass(frozen=True)
class SyncedCompany:
    """A group's Brevo company and the hash of what was last sent for it."""

    company_id: str
    sent_hash: str


@dataclass(frozen=True)
class CompanyInDoubt:
    """A group whose company an import may have created: what was sent, and when."""

    sent_hash: str
    recorded_at: dt.datetime


@retry_transactions
class CompanyLedger:
    """Reads and writes the company tables of one ledger (its engine and write transactions)."""

    def __init__(self, ledger: _Ledger) -> None:
        self._ledger = ledger

    def companies(self, group_key: str) -> dict[str, SyncedCompany]:
        """Every synced company of a group key, by group id."""
        query = sa.select(companies.c.group_id, companies.c.company_id, companies.c.sent_hash)
        with self._ledger.engine.connect() as conn:
            rows = conn.execute(
                query.where(companies.c.group_key == group_key, companies.c.company_id != IN_DOUBT)
            )
            return {row[0]: SyncedCompany(row[1], row[2]) for row in rows}

    def record_in_doubt(self, group_key: str, sent: dict[str, str]) -> None:
        """Before an import that creates these groups' companies leaves: hash sent, by group id."""
        now = dt.datetime.now(dt.timezone.utc)
        rows = [
            {"group_key": group_key, "group_id": group_id, "company_id": IN_DOUBT,
             "sent_hash": sent_hash, "updated_at": now}
            for group_id, sent_hash in sorted(sent.items())
        ]  # fmt: skip
        with self._ledger.writing() as conn:
            upsert(conn, companies, rows, key=["group_key", "group_id"])

    def in_doubt(self, group_key: str) -> dict[str, CompanyInDoubt]:
        """The groups of this key whose company an import may have created, by group id."""
        query = sa.select(companies.c.group_id, companies.c.sent_hash, companies.c.updated_at)
        with self._ledger.engine.connect() as conn:
            rows = conn.execute(
                query.where(companies.c.group_key == group_key, companies.c.company_id == IN_DOUBT)
            )
            return {row[0]: CompanyInDoubt(row[1], _utc(row[2])) for row in rows}

    def clear_in_doubt(self, group_key: str, group_ids: Iterable[str]) -> None:
        """Brevo holds no company of these groups: they are created as new ones."""
        with self._ledger.writing() as conn:
            for ids in in_chunks(sorted(group_ids)):
                conn.execute(
                    sa.delete(companies).where(
                        companies.c.group_key == group_key,
                        companies.c.group_id.in_(ids),
                        companies.c.company_id == IN_DOUBT,
                    )
                )

    def group_keys(self) -> set[str]:
        """The group keys the ledger holds companies (or companies in doubt) of."""
        with self._ledger.engine.connect() as conn:
            return set(conn.execute(sa.select(companies.c.group_key).distinct()).scalars())

    def record_companies(self, group_key: str, synced: dict[str, SyncedCompany]) -> None:
        """Remember the companies Brevo now holds for these groups, with what was sent."""
        now = dt.datetime.now(dt.timezone.utc)
        rows = [
            {
                "group_key": group_key,
                "group_id": group_id,
                "company_id": company.company_id,
                "sent_hash": company.sent_hash,
                "updated_at": now,
            }
            for group_id, company in synced.items()
        ]
        with self._ledger.writing() as conn:
            upsert(conn, companies, rows, key=["group_key", "group_id"])

    def forget_companies(self, group_key: str, group_ids: Iterable[str]) -> None:
        """Companies gone from Brevo (deleted by hand): they and their links are created anew."""
        with self._ledger.writing() as conn:
            for ids in in_chunks(group_ids):
                for table in (companies, company_links):
                    conn.execute(
                        sa.delete(table).where(
                            table.c.group_key == group_key, table.c.group_id.in_(ids)
                        )
                    )

    def set_members(self, group_key: str, members: dict[str, str | None]) -> None:
        """The group each of these users' latest profile names (None: no group any more)."""
        gone = [d for d, g in members.items() if g is None]
        rows = [
            {"distinct_id": d, "group_key": group_key, "group_id": g}
            for d, g in members.items()
            if g is not None
        ]
        with self._ledger.writing() as conn:
            upsert(conn, group_members, rows, key=["distinct_id", "group_key"])
            for chunk in in_chunks(gone):
                conn.execute(
                    sa.delete(group_members).where(
                        group_members.c.group_key == group_key,
                        group_members.c.distinct_id.in_(chunk),
                    )
                )

    def members(self, group_key: str) -> dict[str, set[str]]:
        """The users each group's profile members are, by group id (from their profiles)."""
        return self._grouped(group_members, group_key)

    def links(self, group_key: str) -> dict[str, set[str]]:
        """The contacts Brevo links to each group's company, as last sent, by group id."""
        return self._grouped(company_links, group_key)

    def _grouped(self, table: sa.Table, group_key: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        query = sa.select(table.c.group_id, table.c.distinct_id).where(
            table.c.group_key == group_key
        )
        with self._ledger.engine.connect() as conn:
            for group_id, distinct_id in conn.execute(query):
                found.setdefault(group_id, set()).add(distinct_id)
        return found

    def record_links(
        self, group_key: str, group_id: str, added: Iterable[str], removed: Iterable[str]
    ) -> None:
        """Brevo linked ``added`` to the group's company and unlinked ``removed``."""
        rows = [
            {"group_key": group_key, "group_id": group_id, "distinct_id": d}
            for d in sorted(set(added))
        ]
        with self._ledger.writing() as conn:
            insert_new(conn, company_links, rows)
            for chunk in in_chunks(removed):
                conn.execute(
                    sa.delete(company_links).where(
                        company_links.c.group_key == group_key,
                        company_links.c.group_id == group_id,
                        company_links.c.distinct_id.in_(chunk),
                    )
                )

    def brevo_ids(self, distinct_ids: Iterable[str]) -> dict[str, int]:
        """The numeric Brevo id of each of these contacts the ledger knows."""
        found: dict[str, int] = {}
        query = sa.select(contact_brevo_ids.c.distinct_id, contact_brevo_ids.c.brevo_id)
        with self._ledger.engine.connect() as conn:
            for chunk in in_chunks(distinct_ids):
                rows = conn.execute(query.where(contact_brevo_ids.c.distinct_id.in_(chunk)))
                found.update((row[0], int(row[1])) for row in rows)
        return found

    def record_brevo_ids(self, ids: dict[str, int]) -> None:
        """Remember contacts' numeric Brevo ids (they never change)."""
        rows = [{"distinct_id": d, "brevo_id": i} for d, i in ids.items()]
        with self._ledger.writing() as conn:
            insert_new(conn, contact_brevo_ids, rows)


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes: the ledger writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

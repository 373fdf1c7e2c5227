"""Writes that stay correct when several workers share one ledger.

Two workers may insert the same key at the same moment: a select-then-insert would fail one of
them with an IntegrityError. SQLite and PostgreSQL both say ``ON CONFLICT`` in one statement, and
the ledger speaks to no other database in tests; others get the portable, racy form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

_DIALECT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_new(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows whose primary key (or unique key) is not taken; keep the others."""
    if not rows:
        return
    dialect_insert = _DIALECT_INSERTS.get(conn.dialect.name)
    if dialect_insert is not None:
        conn.execute(dialect_insert(table).on_conflict_do_nothing(), list(rows))
        return
    for row in rows:
        with conn.begin_nested():
            try:
                conn.execute(sa.insert(table).values(**row))
            except sa.exc.IntegrityError:
                continue


def upsert(
    conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> None:
    """Insert the rows, or update the non-key columns of those whose ``key`` exists."""
    if not rows:
        return
    dialect_insert = _DIALECT_INSERTS.get(conn.dialect.name)
    if dialect_insert is not None:
        statement = dialect_insert(table)
        changed = {c: statement.excluded[c] for c in rows[0] if c not in key}
        conn.execute(
            statement.on_conflict_do_update(index_elements=list(key), set_=changed), list(rows)
        )
        return
    for row in rows:
        where = sa.and_(*(table.c[k] == row[k] for k in key))
        values = {c: v for c, v in row.items() if c not in key}
        if not conn.execute(sa.update(table).where(where).values(**values)).rowcount:
            conn.execute(sa.insert(table).values(**row))

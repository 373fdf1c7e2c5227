"""Writes that stay correct when several workers share one ledger.

Two workers may insert the same key at the same moment: a select-then-insert would fail one of
them with an IntegrityError. SQLite and PostgreSQL both say ``ON CONFLICT`` in one statement, and
the ledger speaks to no other database in tests; others get the portable, racy form.

Rows are written in the order of their key. Each row written locks its key until the transaction
ends, so two workers writing the same keys in different orders could each wait for the other:
PostgreSQL aborted one of them for a deadlock. In one order, the second waits for the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

# Each dialect's INSERT carries ON CONFLICT; SQLAlchemy types them apart, hence ``Any``.
_DIALECT_INSERTS: dict[str, Callable[[sa.Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def insert_new(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows whose primary key (or unique key) is not taken; keep the others."""
    if not rows:
        return
    rows = in_key_order(rows, [column.name for column in table.primary_key])
    dialect_insert = _DIALECT_INSERTS.get(conn.dialect.name)
    if dialect_insert is not None:
        conn.execute(dialect_insert(table).on_conflict_do_nothing(), rows)
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
    rows = in_key_order(rows, key)
    dialect_insert = _DIALECT_INSERTS.get(conn.dialect.name)
    if dialect_insert is not None:
        statement = dialect_insert(table)
        changed = {c: statement.excluded[c] for c in rows[0] if c not in key}
        conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=changed), rows)
        return
    for row in rows:
        where = sa.and_(*(table.c[k] == row[k] for k in key))
        values = {c: v for c, v in row.items() if c not in key}
        if not conn.execute(sa.update(table).where(where).values(**values)).rowcount:
            conn.execute(sa.insert(table).values(**row))


def in_key_order(rows: Sequence[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    """The rows sorted by their ``key`` columns: the order every worker takes their locks in."""
    return sorted(rows, key=lambda row: tuple(row[column] for column in key))

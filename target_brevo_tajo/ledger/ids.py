"""Ids the ledger keeps or looks up: text of at most 255 characters without NUL.

PostgreSQL refuses a NUL in text and a value longer than its column, and the statement fails
for the whole batch: one such record would stop every run at the same place. Checked on every
ledger, so that a record is rejected the same way on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable

ID_LENGTH = 255  # the ledger's id columns (schema.py)


def id_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be a ledger id, as a reject reason; None when it can."""
    if value is None:
        return None
    text = str(value)
    if "\x00" in text:
        return f"{name} holds a NUL character, which the ledger cannot store: fix the source"
    if len(text) > ID_LENGTH:
        return (
            f"{name} is longer than {ID_LENGTH} characters, which the ledger cannot store: "
            "fix the source"
        )
    return None


def first_id_problem(named: Iterable[tuple[str, object]]) -> str | None:
    """The first of the ``(name, value)`` pairs that cannot be a ledger id, as a reject reason."""
    for name, value in named:
        problem = id_problem(name, value)
        if problem:
            return problem
    return None

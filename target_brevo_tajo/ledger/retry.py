"""Ledger transactions the database aborted for contention run again; other errors are one line.

Workers sharing a PostgreSQL ledger write the same rows. PostgreSQL then aborts one transaction
of a deadlock (SQLSTATE 40P01), or one that cannot be serialized at a stricter isolation level
(40001), and expects the client to run it again: the aborted transaction changed nothing. The
ledger's writes take their row locks in key order (``upserts.py`` sorts their rows), which makes
deadlocks rare; those left are run again here after a random pause. A database error that remains
ends the worker in one line (:class:`LedgerError`), never in a traceback.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa

from target_brevo_tajo.ledger.errors import LedgerError

ATTEMPTS = 6
FIRST_PAUSE = 0.1  # seconds; the most a pause may last doubles with each attempt
CONTENTION = {"40P01": "a deadlock", "40001": "a serialization failure"}

Ledgerish = TypeVar("Ledgerish", bound=type)


def retry_transactions(cls: Ledgerish) -> Ledgerish:
    """Run each public method of a ledger class again when the database aborted it for contention.

    Each public method is a transaction of its own (or a few, each safe to repeat) that nothing
    outside the ledger sees until it commits, so running it again from the start is safe.
    """
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, retried(member))
    return cls


def retried(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, run again after a deadlock or serialization failure, up to :data:`ATTEMPTS`.

    Arguments read only once (generators, iterators) are read into lists before the first
    attempt, so a later attempt sees the same rows.
    """

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_rereadable(value) for value in args)
        kwargs = {name: _rereadable(value) for name, value in kwargs.items()}
        attempt = 1
        while True:
            try:
                return method(*args, **kwargs)
            except sa.exc.SQLAlchemyError as exc:
                if attempt == ATTEMPTS or contention(exc) is None:
                    raise LedgerError(failure(exc, attempt)) from exc
            time.sleep(random.uniform(0, FIRST_PAUSE * 2 ** (attempt - 1)))
            attempt += 1

    return run


def contention(error: BaseException) -> str | None:
    """The SQLSTATE of a transaction aborted for contention (run it again), else None."""
    original = getattr(error, "orig", None)
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code if code in CONTENTION else None


def failure(error: BaseException, attempts: int) -> str:
    """One line for a ledger write that failed for good, and what to do about it."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = detail[0][:200] if detail else type(error).__name__
    code = contention(error)
    if code is not None:
        return (
            f"the sync ledger's database aborted a transaction {attempts} times for "
            f"{CONTENTION[code]} with other workers (SQLSTATE {code}: {first}); run again "
            "(the ledger keeps what was sent), or run fewer workers on it at once"
        )
    return (
        f"the sync ledger failed: {first}; check that its database is reachable and writable, "
        "then run again"
    )


def _rereadable(value: Any) -> Any:
    return list(value) if isinstance(value, Iterator) else value

"""The error a ledger that cannot be used raises: one line that says what to do."""

from __future__ import annotations


class LedgerError(RuntimeError):
    """A ledger that cannot be used; the message is one line saying what to do."""

"""Brevo's rate budgets shared by every worker of one account, through the sync ledger.

Brevo's budgets are per account: two workers (a tenant's hourly and daily runs overlapping, or
workers on several machines) each pacing to 10 calls a second send 20, and Brevo answers 429.
A shared budget takes each call's slot from a store all of them see (the ledger's
``rate_slots``, :mod:`target_brevo_tajo.ledger.rate_slots`), by the same sliding-window rule as
:class:`~.rate_budget.RateBudget` applied to the slots every worker took. What a worker learns
from Brevo's headers (a limit, a window, a 429's reset) goes to the store too, so the others
pace by it. The account is a hash of the credential: the ledger never holds the secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from target_brevo_tajo.brevo.rate_budget import ARRIVAL_MARGIN_SECONDS, RateBudget, RateBudgets

if TYPE_CHECKING:
    import httpx

    from target_brevo_tajo.ledger.rate_slots import Taken

ACCOUNT_KEY_LENGTH = 16  # hex digits of the credential's SHA-256: 64 bits tell accounts apart


class SlotStore(Protocol):
    """Where the workers of one account take their call slots (the ledger's rate slots)."""

    def take(
        self, bucket: str, limit: int, window_seconds: float, margin: float, not_before: float
    ) -> Taken:
        """The bucket's next slot for every worker of the account, ``not_before`` from now."""
        ...

    def learn(self, bucket: str, limit: int, window_seconds: float, blocked_for: float) -> None:
        """Share what Brevo's headers taught of the bucket, and a wait for its reset."""
        ...

    def move(self, bucket: str, slot: float, left: float) -> None:
        """Move a slot to when its call left, on the store's clock."""
        ...


def account_key(credential: str) -> str:
    """The ledger's name for the Brevo account of ``credential``: a hash, never the secret."""
    return hashlib.sha256(credential.encode()).hexdigest()[:ACCOUNT_KEY_LENGTH]


@dataclass
class SharedRateBudget(RateBudget):
    """A bucket's budget whose slots come from a store shared by every worker of the account.

    The slots this worker knows (``_slots``: its own and the others' it saw when taking its own)
    are kept on its clock, so the header learning of :class:`RateBudget` still tells a budget the
    account's workers spent (no wait) from one spent by another client (wait for the reset).
    """

    store: SlotStore = field(kw_only=True, repr=False)
    # The store's clock minus this worker's, measured at the first slot taken.
    _offset: float | None = field(default=None, repr=False)
    # The slots this worker was given, on its clock (as its caller holds them) -> on the store's.
    _given: dict[float, float] = field(default_factory=dict, repr=False)

    def reserve(self, now: float) -> float:
        """Take the account's next slot of this bucket; returns the seconds to wait for it."""
        with self._lock:
            taken = self.store.take(
                self.bucket,
                self.limit,
                self.window_seconds,
                ARRIVAL_MARGIN_SECONDS,
                max(0.0, self._blocked_until - now),
            )
            self.limit, self.window_seconds = taken.limit, taken.window_seconds
            self._remember(now, taken)
            self.calls += 1
            wait = taken.start - taken.now
            self._given[now + wait] = taken.start
            self.waited_seconds += wait
        self._note_wait(wait)
        return wait

    def _remember(self, now: float, taken: Taken) -> None:
        """Keep the slots seen on this worker's clock, those of the last two windows (lock held)."""
        if self._offset is None:
            self._offset = taken.now - now
        # The store answers its last ``limit`` slots, some of them still to come: the window's
        # earlier slots are kept from what this worker saw before, or a window its own calls
        # filled would look spent by another client (and wait for Brevo's reset).
        seen = {slot - self._offset for slot in (*taken.recent, taken.start)}.union(self._slots)
        since = now - 2 * (self.window_seconds + ARRIVAL_MARGIN_SECONDS)
        self._slots.clear()
        self._slots.extend(sorted(slot for slot in seen if slot >= since))
        self._given = {mine: theirs for mine, theirs in self._given.items() if mine >= since}

    def _move_slot(self, slot: float, now: float) -> None:
        """Move the slot to when its call left in the store too, for every worker (lock held)."""
        planned = self._given.pop(slot, None)
        if planned is None or self._offset is None:
            return
        left = planned + (now - slot)
        self.store.move(self.bucket, planned, left)
        super()._move_slot(planned - self._offset, left - self._offset)

    def observe(self, response: httpx.Response, now: float, sent_at: float | None = None) -> bool:
        """Learn from an answer as :class:`RateBudget` does, and share what changed."""
        known = (self.limit, self.window_seconds)
        waits = super().observe(response, now, sent_at)
        if waits or (self.limit, self.window_seconds) != known:
            self.store.learn(
                self.bucket, self.limit, self.window_seconds, max(0.0, self._blocked_until - now)
            )
        return waits


def share_budgets(budgets: RateBudgets, store: SlotStore) -> None:
    """Take every bucket's slots from ``store`` from now on, starting from the tier's pace."""
    budgets.buckets = {
        name: SharedRateBudget(budget.bucket, budget.limit, budget.window_seconds, store=store)
        for name, budget in budgets.buckets.items()
    }

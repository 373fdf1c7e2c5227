"""Brevo's documented rate limits, enforced: one fixed window per bucket, 429 once it is spent.

From https://developers.brevo.com/docs/api-limits and /docs/limit-headers, by path as
documented: everything under ``/contacts``
(list membership, lists, folders and attributes included) and ``POST /events`` (the sandbox counts
``/events/batch`` with them) have a per-second budget each; every other endpoint shares an hourly
one. Budgets depend on the plan tier. Every answer carries the bucket's
``x-sib-ratelimit-limit`` / ``-remaining`` / ``-reset`` headers, ``reset`` being the seconds left
in the window (relative, never an epoch), so a client can pace itself before it meets a 429.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class Budget:
    """At most ``limit`` calls per window of ``seconds``."""

    limit: int
    seconds: int


def _tier(per_second: int, per_hour: int) -> dict[str, Budget]:
    return {
        "contacts": Budget(per_second, 1),
        "events": Budget(per_second, 1),
        "other": Budget(per_hour, 3600),
    }


DEFAULT_TIER = "general"
# Budgets too large to reach: for tests that hammer the sandbox on purpose; the headers keep
# their shape so a client pacing by them never waits.
UNLIMITED = 10**9
TIERS = {
    "general": _tier(10, 100),
    "advanced": _tier(20, 200),
    "extended": _tier(60, 600),
    "unlimited": _tier(UNLIMITED, UNLIMITED),
}
EVENT_PATHS = ("/events", "/events/batch")
# Brevo's rule is by path: /v3/contacts/* is the contacts bucket (no page lists a sub-path apart).
CONTACT_PATH = re.compile(r"^/contacts(?:/.*)?$")


def bucket_of(method: str, path: str) -> str:
    """The rate bucket of a request path relative to ``/v3``: contacts, events or other."""
    if method == "POST" and path in EVENT_PATHS:
        return "events"
    if CONTACT_PATH.match(path):
        return "contacts"
    return "other"


def check_tier(tier: str) -> str:
    """Return ``tier`` if it is known; a ValueError names the known ones otherwise."""
    if tier not in TIERS:
        raise ValueError(f"unknown Brevo rate tier {tier!r}; use one of {sorted(TIERS)}")
    return tier


class RateLimiter:
    """Per-bucket fixed windows, each opened by its first call. Callers hold the sandbox lock.

    ``clock`` is monotonic seconds; tests inject their own to cross an hour without sleeping.
    """

    def __init__(self, tier: str = DEFAULT_TIER, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.tier = check_tier(tier)
        self._windows: dict[str, tuple[float, int]] = {}

    def reset(self, tier: str) -> None:
        """Switch to ``tier`` with fresh windows, so its budgets apply in full at once."""
        self.tier = check_tier(tier)
        self._windows.clear()

    def admit(self, bucket: str) -> tuple[bool, dict[str, str]]:
        """Spend one call of the bucket if any is left; a refused call spends nothing.

        Returns whether the call may proceed and the headers describing the bucket after it.
        """
        budget = TIERS[self.tier][bucket]
        now, start, used = self._window(bucket, budget)
        admitted = used < budget.limit
        if admitted:
            used += 1
            self._windows[bucket] = (start, used)
        return admitted, _headers(budget, used, budget.seconds - (now - start))

    def peek(self, bucket: str) -> dict[str, str]:
        """The bucket's headers without spending anything (for calls no account is charged for)."""
        budget = TIERS[self.tier][bucket]
        now, start, used = self._window(bucket, budget)
        return _headers(budget, used, budget.seconds - (now - start))

    def _window(self, bucket: str, budget: Budget) -> tuple[float, float, int]:
        """The current time and the bucket's running window (start, calls spent)."""
        now = self.clock()
        start, used = self._windows.get(bucket, (now, 0))
        if now - start >= budget.seconds:
            return now, now, 0
        return now, start, used


def _headers(budget: Budget, used: int, seconds_left: float) -> dict[str, str]:
    return {
        "x-sib-ratelimit-limit": str(budget.limit),
        "x-sib-ratelimit-remaining": str(budget.limit - used),
        "x-sib-ratelimit-reset": str(max(1, math.ceil(seconds_left))),
    }

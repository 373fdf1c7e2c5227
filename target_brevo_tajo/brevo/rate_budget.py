"""Brevo's rate budgets: the target paces itself so that Brevo need not answer 429.

Brevo counts calls in buckets (developers.brevo.com/docs/api-limits and /docs/limit-headers), by
path: everything under ``/v3/contacts`` (contacts, and by the same rule list
membership, lists, folders and attributes) has a per-second budget, ``POST /events`` another,
and every other endpoint (process polls, companies, CRM, ``GET /events``) shares one hourly
budget. The ``brevo_rate_tier`` setting gives the budgets before Brevo has answered; after that,
every answer's ``x-sib-ratelimit-limit/-remaining/-reset`` headers are the authority, for the
limit and for the window alike: a reset of at most a second is a per-second window, a longer one
an hourly window (section 6: Brevo's windows are per second and per hour). A per-second budget
never becomes hourly: its bucket has an hourly ceiling too (36,000 an hour beside 10 a second),
which a longer reset may describe. No page lists the bucket of the ``/contacts/`` paths other
than contacts themselves, so one whose answers show an hourly window below what the per-second
budget allows in an hour moves to the hourly bucket rather than mislead the per-second one.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import httpx

Bucket = Literal["contacts", "events", "other"]
Tier = Literal["general", "advanced", "extended"]
BUCKETS: tuple[Bucket, ...] = ("contacts", "events", "other")

# (calls, window in seconds) per bucket and tier; developers.brevo.com "API limits".
TIERS: dict[str, dict[Bucket, tuple[int, float]]] = {
    "general": {"contacts": (10, 1.0), "events": (10, 1.0), "other": (100, 3600.0)},
    "advanced": {"contacts": (20, 1.0), "events": (20, 1.0), "other": (200, 3600.0)},
    "extended": {"contacts": (60, 1.0), "events": (60, 1.0), "other": (600, 3600.0)},
}
# Calls leave one by one but may arrive closer together: keep this much spare in each window.
ARRIVAL_MARGIN_SECONDS = 0.05
LONGEST_WINDOW_SECONDS = 3600.0
# Slots this close are one: a caller's slot is its reservation time plus a wait, rounded.
SAME_SLOT_SECONDS = 1e-6
# A wait this long is worth a line in the log; shorter ones are ordinary pacing.
NOTEWORTHY_WAIT_SECONDS = 5.0
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")
# Under /contacts but not contacts themselves: the paths whose bucket no page lists.
_NOT_CONTACT_RECORDS = re.compile(r"^/contacts/(lists|folders|attributes|segments)(/|$)")

logger = logging.getLogger("target-brevo-tajo")


def bucket_of(method: str, path: str) -> Bucket:
    """The bucket Brevo's documented path rule puts a call in: ``/contacts/*`` -> ``contacts``."""
    if method == "POST" and path in ("/events", "/events/batch"):
        return "events"
    if path == "/contacts" or path.startswith("/contacts/"):
        return "contacts"
    return "other"


def _endpoint(method: str, path: str) -> str:
    """``POST /contacts/lists/16/contacts/add`` -> ``POST /contacts/lists/{id}/contacts/add``."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


def window_of(reset: float) -> float:
    """The window a reset header reveals: at most a second left is a per-second window."""
    return 1.0 if reset <= 1 else LONGEST_WINDOW_SECONDS


def _describe_window(seconds: float) -> str:
    return "per-second" if seconds <= 1 else "hourly" if seconds >= 3600 else f"{seconds:g}-second"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


@dataclass
class RateBudget:
    """One bucket's budget: a sliding window of reserved call slots, corrected by Brevo's headers.

    ``reserve`` hands out the next slot and says how long to wait for it, so a caller never sends
    a call the bucket cannot take; concurrent callers get distinct slots.
    """

    bucket: Bucket
    limit: int
    window_seconds: float
    calls: int = 0
    waited_seconds: float = 0.0
    rate_limited: int = 0
    _slots: deque[float] = field(default_factory=deque, repr=False)
    _blocked_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, now: float) -> float:
        """Take the next call slot; returns the seconds to wait before sending."""
        with self._lock:
            start = max(now, self._blocked_until)
            window = self.window_seconds + ARRIVAL_MARGIN_SECONDS
            while self._slots and self._slots[0] <= start - window:
                self._slots.popleft()
            if len(self._slots) >= self.limit:
                start = max(start, self._slots[-self.limit] + window)
            self._slots.append(start)
            self.calls += 1
            wait = start - now
            self.waited_seconds += wait
        self._note_wait(wait)
        return wait

    def departed(self, slot: float, now: float) -> None:
        """A call that left later than its slot (``now``) counts from when it left.

        A call held up after its slot came (its claim written while other workers write the
        ledger, a busy machine) would otherwise arrive within a window of calls whose slots
        counted it a window earlier: Brevo would see more than the budget in that second.
        """
        if now - slot > ARRIVAL_MARGIN_SECONDS:
            with self._lock:
                self._move_slot(slot, now)

    def _move_slot(self, slot: float, now: float) -> None:
        """Move a slot to when its call left (lock held).

        The caller's slot is its reservation time plus the wait, which float rounding may set a
        hair apart from the slot kept here.
        """
        for index, kept in enumerate(self._slots):
            if abs(kept - slot) < SAME_SLOT_SECONDS:
                del self._slots[index]
                bisect.insort(self._slots, now)
                return

    def _note_wait(self, wait: float) -> None:
        """A line in the log for a wait long enough to notice; pacing waits stay quiet."""
        if wait >= NOTEWORTHY_WAIT_SECONDS:
            logger.info(
                "waiting %s for Brevo's %s budget of %s calls: %d used",
                _duration(wait),
                _describe_window(self.window_seconds),
                self.bucket,
                self.limit,
            )

    def observe(self, response: httpx.Response, now: float, sent_at: float | None = None) -> bool:
        """Learn from an answer's rate headers: the bucket's real limit and window, a spent budget.

        ``sent_at`` is when the call left (its slot); Brevo counted the call then, not ``now``
        when its answer came. Returns whether the budget now waits for Brevo's announced reset.
        """
        headers = response.headers
        limit = _number(headers.get("x-sib-ratelimit-limit"))
        remaining = _number(headers.get("x-sib-ratelimit-remaining"))
        reset = _number(headers.get("x-sib-ratelimit-reset"))
        if response.status_code == 429:
            self.rate_limited += 1
        with self._lock:
            if limit and limit >= 1 and reset is not None and reset <= self.window_seconds:
                self.limit = int(limit)
                self.window_seconds = window_of(reset)
            spent = (remaining is not None and remaining <= 0) or response.status_code == 429
            if not (spent and reset and reset > 0):
                return False
            if response.status_code != 429 and self._spent_by_own_calls(
                now if sent_at is None else min(sent_at, now)
            ):
                # Our own slots spent it, and they already hold the next call back. Waiting for
                # the reset too (whole seconds: "1" for a per-second window) would idle the
                # bucket for up to a window each time it fills.
                return False
            # Brevo's longest window is an hour: a longer reset would be a bad header.
            until = now + min(reset, LONGEST_WINDOW_SECONDS) + ARRIVAL_MARGIN_SECONDS
            self._blocked_until = max(self._blocked_until, until)
            return True

    def _spent_by_own_calls(self, sent_at: float) -> bool:
        """Whether this budget's own calls of the window up to ``sent_at`` fill it (lock held).

        Counted up to when the call left, not when its answer came: a window's last call answered
        a round trip later would otherwise find its first calls out of the window, and the
        bucket would idle for Brevo's whole-second reset while the window was nearly over.
        """
        since = sent_at - self.window_seconds - ARRIVAL_MARGIN_SECONDS
        return sum(1 for slot in self._slots if since <= slot <= sent_at) >= self.limit

    def to_dict(self) -> dict[str, object]:
        """Calls made, the budget, time spent waiting and 429 answers, for the sync report."""
        unit = "s" if self.window_seconds <= 1 else "h" if self.window_seconds >= 3600 else "window"
        return {
            "calls": self.calls,
            "budget": f"{self.limit}/{unit}",
            "waited_seconds": round(self.waited_seconds, 1),
            "answered_429": self.rate_limited,
        }


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class RateBudgets:
    """The three buckets of one Brevo account, as the tier sets them before any answer."""

    def __init__(self, tier: str = "general") -> None:
        self.tier = tier
        self.buckets = {name: RateBudget(name, *TIERS[tier][name]) for name in BUCKETS}
        self._moved: set[str] = set()  # /contacts/ endpoints whose answers showed the hourly bucket
        self._moving = threading.Lock()

    def for_call(self, method: str, path: str) -> RateBudget:
        """The budget a call to ``method path`` spends."""
        if _endpoint(method, path) in self._moved:
            return self.buckets["other"]
        return self.buckets[bucket_of(method, path)]

    def observe(
        self, method: str, path: str, response: httpx.Response, now: float, sent_at: float
    ) -> bool:
        """Learn from an answer (:meth:`RateBudget.observe`) in the bucket it shows it spent.

        A ``/contacts/`` path other than the contacts themselves (lists, folders, attributes)
        whose answer shows an hourly window smaller than the contacts budget allows in an
        hour is counted with the other endpoints: it moves to the hourly bucket, and the
        contacts budget keeps its pace for the calls that do spend it. A per-second reset on the
        hourly bucket teaches that bucket its window instead: an hourly window's last second
        also says "1", and moving a call into the contacts bucket on that would mislead its pace.
        """
        budget = self.for_call(method, path)
        if budget.bucket == "contacts" and _NOT_CONTACT_RECORDS.match(path):
            limit = _number(response.headers.get("x-sib-ratelimit-limit"))
            reset = _number(response.headers.get("x-sib-ratelimit-reset"))
            if limit and reset and reset > 1 and limit < budget.limit * LONGEST_WINDOW_SECONDS:
                with self._moving:
                    self._moved.add(_endpoint(method, path))
                budget = self.buckets["other"]
        return budget.observe(response, now, sent_at=sent_at)

    def report(self) -> dict[str, dict[str, object]]:
        """Per bucket that was used: calls, budget, waiting, 429 answers."""
        return {name: b.to_dict() for name, b in self.buckets.items() if b.calls}

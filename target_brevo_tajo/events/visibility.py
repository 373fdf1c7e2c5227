"""How long Brevo's queue keeps an accepted event out of ``GET /events``, measured.

Settling a call in doubt looks its events up; looked up too early, events Brevo did queue seem
missing and would be sent twice. Brevo documents no delay, so each run samples it: one accepted
event is looked up a few times (at a quarter, half, one, two and four settle times), and every
look-up teaches the ledger a bound: a miss at ``t`` says the delay is over ``t``, a find says it
is at most ``t``. The ledger keeps the longest, and no call is settled earlier than a margin
above it.
"""

from __future__ import annotations

import logging
import threading
import time

from target_brevo_tajo.brevo import BrevoClient
from target_brevo_tajo.events.api import EventRef, find_queued
from target_brevo_tajo.events.ledger import EventLedger

logger = logging.getLogger("target-brevo-tajo")
SAMPLE_LOOKUPS = 5  # per run, from the hourly budget that GET /events shares
FIRST_LOOK_FRACTION = 0.25  # of the settle time; each later look waits twice as long
FIRST_LOOK_FLOOR_SECONDS = 0.1  # a settle time of 0 still spreads the look-ups out
# Settling waits this much beyond the longest delay observed: half as long again, plus a second.
MARGIN_FACTOR = 1.5
MARGIN_SECONDS = 1.0


class EventsVisibility:
    """The observed delay of Brevo's events queue, and the sampling that measures it."""

    def __init__(self, client: BrevoClient, ledger: EventLedger, settle_seconds: float) -> None:
        self._client = client
        self._ledger = ledger
        self._settle_seconds = settle_seconds
        self._observed = ledger.events_visibility_delay()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def observed_seconds(self) -> float:
        """The longest delay observed, by any run on this ledger."""
        return self._observed

    def settle_seconds(self) -> float:
        """How old a call in doubt must be before its events are looked up."""
        learnt = self._observed * MARGIN_FACTOR + MARGIN_SECONDS if self._observed else 0.0
        return max(self._settle_seconds, learnt)

    def note(self, seconds: float) -> None:
        """An event showed only after ``seconds`` (or had not shown by then): keep the longest."""
        with self._lock:
            if seconds <= self._observed:
                return
            self._observed = seconds
        self._ledger.note_events_visibility_delay(seconds)

    def sample(self, event: EventRef) -> None:
        """Measure the delay on ``event``, just accepted; once a run, when the budget allows.

        ``GET /events`` spends the hourly budget: a run that used half of it samples nothing.
        """
        other = self._client.budgets.buckets["other"]
        with self._lock:
            if self._sampler is not None or other.calls * 2 >= other.limit:
                return
            self._sampler = threading.Thread(
                target=self._measure,
                args=(event, time.monotonic()),
                name="events-visibility",
                daemon=True,
            )
        self._sampler.start()

    def _measure(self, event: EventRef, accepted_at: float) -> None:
        wait = max(self._settle_seconds * FIRST_LOOK_FRACTION, FIRST_LOOK_FLOOR_SECONDS)
        for _ in range(SAMPLE_LOOKUPS):
            if self._stopped.wait(max(0.0, accepted_at + wait - time.monotonic())):
                return
            try:
                shown = bool(find_queued(self._client, [event]))
            except Exception as exc:  # a sample never fails the run
                logger.info("Sampling Brevo's events queue stopped: %s", str(exc)[:200])
                return
            self.note(time.monotonic() - accepted_at if shown else wait)
            if shown:
                return
            wait *= 2

    def stop(self) -> None:
        """End the sampling (what it learnt is kept); returns once no look-up is under way."""
        self._stopped.set()
        if self._sampler is not None:
            self._sampler.join()

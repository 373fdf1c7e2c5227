"""Settling the batch calls whose answer never came, apart from sending (:mod:`.writer`).

A call in doubt (a kill mid-call, a timeout, a reset, a 5xx after Brevo may have queued it) is
never resent blindly: once a settle time has passed its events are looked up in Brevo
(``GET /events``, by ``mp_insert_id``); those found are recorded as sent, and only the missing
ones go out again, in a new call recorded in doubt in the same transaction that settles this one.
Calls a killed worker left are taken over once their lease runs out, and settled the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from target_brevo_tajo.brevo import BrevoClient, BrevoError
from target_brevo_tajo.events.api import find_queued
from target_brevo_tajo.events.ledger import ClaimLost, EventLedger, LedgerEvent
from target_brevo_tajo.events.visibility import EventsVisibility
from target_brevo_tajo.report import EventsReport
from target_brevo_tajo.settings import Settings

logger = logging.getLogger("target-brevo-tajo")
CLAIMS_WAIT_MARGIN_SECONDS = 2.0
CLAIMS_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class OutgoingEvent:
    """An event on its way: the ledger's view of it, its Brevo name, and what a reject shows."""

    entry: LedgerEvent  # its payload is encoded once: it sizes the call and becomes its body
    brevo_name: str
    record: dict[str, Any]

    @classmethod
    def from_ledger(cls, entry: LedgerEvent) -> OutgoingEvent:
        """An event of an earlier run's call in doubt: all there is of it is its payload."""
        payload = json.loads(entry.payload)
        return cls(entry, str(payload.get("event_name")), payload)

    def ref(self) -> tuple[str, str, dt.datetime]:
        """What ``GET /events`` shows of it: Brevo name, ``mp_insert_id``, event date."""
        return (self.brevo_name, self.entry.insert_id, self.entry.event_time)


class InDoubtSettling:
    """The part of :class:`~.writer.EventWriter` that settles calls in doubt and waits on claims.

    A mixin: it shares the writer's ledger, counters and lock, and resends through its ``_post``.
    """

    _client: BrevoClient
    _events: EventLedger
    _settings: Settings
    _report: EventsReport
    _counting: threading.Lock
    _visibility: EventsVisibility
    _lease_seconds: float
    _earlier_calls_settled: bool
    _claimed_by_others: set[str]
    incomplete: str | None

    if TYPE_CHECKING:

        def _post(
            self, call_id: str, chunk: list[OutgoingEvent], attempt: int, slot: float | None = None
        ) -> None: ...

        def _raise_failure(self) -> None: ...

    def _await_claims_of_others(self) -> None:
        """Wait until the events other workers held are settled, taking over a dead one's.

        A live worker settles its calls; a killed one's lease runs out within one lease, and
        then this run settles them. Past that the run is incomplete: it says why, and passes no
        further STATE on, which would move the bookmark past events not known to be in Brevo.
        """
        with self._counting:
            watched = set(self._claimed_by_others)
        if not watched or self.incomplete is not None or self._settings.dry_run:
            return
        deadline = time.monotonic() + self._lease_seconds + CLAIMS_WAIT_MARGIN_SECONDS
        while held := self._events.claimed_by_others(watched):
            if time.monotonic() >= deadline:
                self.incomplete = (
                    f"{len(held)} events are still held in doubt by another worker after "
                    f"{self._lease_seconds:.0f} s (a lease); no STATE was passed on beyond them, "
                    "and a later run settles them"
                )
                logger.warning("The run is incomplete: %s", self.incomplete)
                return
            time.sleep(min(CLAIMS_POLL_SECONDS, self._lease_seconds / 10))
            self._settle_expired_calls()
            self._raise_failure()
        with self._counting:
            self._claimed_by_others -= watched

    def _settle_earlier_calls(self) -> None:
        """Settle the calls left in doubt by a worker that is gone (killed mid-call), first.

        Only calls whose lease has run out are taken over: a live worker settles its own, and
        the events it holds are waited for before the next STATE.
        """
        if self._earlier_calls_settled:
            return
        self._earlier_calls_settled = True
        self._settle_expired_calls()
        held = self._events.claimed_by_others()
        with self._counting:
            self._claimed_by_others |= held

    def _settle_expired_calls(self) -> None:
        """Take over the calls whose owner's lease ran out (a killed worker) and settle them."""
        calls = self._events.take_over_expired_calls(self._lease_seconds)
        if not calls:
            return
        logger.warning(
            "%d calls (%d events) were left in doubt by an earlier run; settling them",
            len(calls),
            sum(len(call.events) for call in calls),
        )
        self._report.calls_in_doubt += len(calls)
        self._report.taken_over_from_earlier_runs += sum(len(call.events) for call in calls)
        chunks = [[OutgoingEvent.from_ledger(entry) for entry in call.events] for call in calls]
        # One look-up for them all: the hourly budget of other calls is small.
        everything = [event for chunk in chunks for event in chunk]
        found = self._look_up_twice(everything, max(call.opened_at for call in calls))
        position = 0
        for call, chunk in zip(calls, chunks, strict=True):
            found_here = {i - position for i in found if position <= i < position + len(chunk)}
            position += len(chunk)
            self._settle_with(call.call_id, chunk, found_here, attempt=1, earlier=True)

    def _keep_claimed(
        self, chunk: list[OutgoingEvent], claimed: list[LedgerEvent]
    ) -> list[OutgoingEvent]:
        """The events this worker claimed; the rest another worker sent, or is sending."""
        keys = {entry.key for entry in claimed}
        with self._counting:
            self._report.left_to_another_worker += len(chunk) - len(keys)
            self._claimed_by_others.update(e.entry.key for e in chunk if e.entry.key not in keys)
        return [event for event in chunk if event.entry.key in keys]

    def _settle(
        self, call_id: str, ended_at: dt.datetime, chunk: list[OutgoingEvent], attempt: int
    ) -> None:
        """Settle a call in doubt from what Brevo shows; resend only what it does not have.

        Brevo queues batches, so its list is read only once the call is ``events_settle_seconds``
        old. The resend is recorded in doubt in the same transaction that settles this call.
        """
        if not self._events.renew(call_id, self._lease_seconds):
            self._left_to_another_worker(chunk)  # it took the call over: settling it is theirs
            return
        self._settle_with(call_id, chunk, self._look_up_twice(chunk, ended_at), attempt)

    def _look_up_twice(self, events: list[OutgoingEvent], ended_at: dt.datetime) -> set[int]:
        """Which of ``events`` Brevo shows; those it does not yet are looked up once more.

        The first look comes once the call is a settle time old (a margin above the longest
        queue delay observed), the second once it is two: an event found only then was on a
        queue slower than observed, which teaches the ledger a longer delay.
        """
        found = self._look_up(events, ended_at, self._visibility.settle_seconds())
        missing = [i for i in range(len(events)) if i not in found]
        if not missing:
            return found
        again = self._look_up(
            [events[i] for i in missing], ended_at, 2 * self._visibility.settle_seconds()
        )
        if again:
            self._visibility.note((self._events.now() - ended_at).total_seconds())
            with self._counting:
                self._report.found_at_second_look += len(again)
        return found | {missing[i] for i in again}

    def _look_up(
        self, events: list[OutgoingEvent], ended_at: dt.datetime, settle_seconds: float
    ) -> set[int]:
        """Which of ``events`` Brevo shows, once ``settle_seconds`` since ``ended_at`` passed."""
        wait = settle_seconds - (self._events.now() - ended_at).total_seconds()
        if wait > 0:
            self._client.sleep(wait)
        return find_queued(self._client, [event.ref() for event in events])

    def _settle_with(
        self,
        call_id: str,
        chunk: list[OutgoingEvent],
        found: set[int],
        attempt: int,
        *,
        earlier: bool = False,
    ) -> None:
        """Record what Brevo has as sent and resend the rest, reissued in one transaction.

        What Brevo shows of an ``earlier`` run's call was sent by that run, not by this one.
        """
        queued = [e for i, e in enumerate(chunk) if i in found]
        missing = [e for i, e in enumerate(chunk) if i not in found]
        resend_id = uuid.uuid4().hex
        reissue = (resend_id, [e.entry for e in missing], self._lease_seconds) if missing else None
        try:
            claimed = self._events.settle_call(
                call_id, accepted=[e.entry for e in queued], reissue=reissue
            )
        except ClaimLost:
            self._left_to_another_worker(chunk)
            return
        with self._counting:
            self._report.found_in_brevo_when_settling += len(queued)
            if earlier:
                self._report.sent_by_earlier_runs += len(queued)
        if not earlier:
            self._count_sent(queued)
        resend = self._keep_claimed(missing, claimed)
        if not resend:
            return
        if attempt > self._settings.max_retries:
            msg = (
                f"{len(resend)} events still unconfirmed after {attempt} attempts; they stay "
                "recorded in doubt and the next run settles them"
            )
            raise BrevoError(msg)
        with self._counting:
            self._report.resent_after_settling += len(resend)
        self._post(resend_id, resend, attempt)

    def _left_to_another_worker(self, events: list[OutgoingEvent]) -> None:
        with self._counting:
            self._report.left_to_another_worker += len(events)

    def _count_sent(self, events: list[OutgoingEvent]) -> None:
        with self._counting:
            self._report.sent += len(events)
            for event in events:
                self._report.sent_by_name[event.brevo_name] += 1

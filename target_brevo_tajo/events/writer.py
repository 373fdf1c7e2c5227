"""Mixpanel events -> Brevo custom events, each event exactly once.

A batch goes through four steps: drop what the ledger says Brevo already has; address each event
to the best-known contact identifier; fill ``/events/batch`` calls to Brevo's caps; send each
call. Every call is recorded in the ledger as a call in doubt *before* it is sent, and Brevo's
answer settles it. A call whose answer never came is never resent blindly: :mod:`.in_doubt`
settles it from what Brevo shows. Records are admitted into a batch by :mod:`.admission`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import httpx

from mixpanel_brevo_mapping import Mapping, is_anonymous
from target_brevo_tajo.batching import fill_calls
from target_brevo_tajo.brevo import BrevoClient, BrevoError, CallInDoubt, body_excerpt
from target_brevo_tajo.events.admission import Admission, EventBatch, PendingEvent
from target_brevo_tajo.events.answers import failed_indices, json_object
from target_brevo_tajo.events.in_doubt import InDoubtSettling, OutgoingEvent
from target_brevo_tajo.events.lease_heartbeat import LeaseHeartbeat
from target_brevo_tajo.events.ledger import ClaimLost, EventLedger, LedgerEvent
from target_brevo_tajo.events.payload import (
    brevo_event_date,
    brevo_properties,
    encode_json,
)
from target_brevo_tajo.events.visibility import EventsVisibility
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.lookups.tables import LookupTables
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings

logger = logging.getLogger("target-brevo-tajo")
_BATCH_ENVELOPE_BYTES = len(b'{"events":[]}')
LEASE_MARGIN_SECONDS = 5.0
_BATCH_CALL = ("POST", "/events/batch")


class EventWriter(Admission, InDoubtSettling):
    """Sends Mixpanel events to Brevo's ``POST /events/batch``, each event exactly once."""

    def __init__(
        self,
        *,
        client: BrevoClient,
        ledger: Ledger,
        mapping: Mapping,
        lookups: LookupTables,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._client = client
        self._lookups = lookups
        self._ledger = ledger
        self._events = EventLedger(ledger)
        self._mapping = mapping
        self._settings = settings
        self._run_report = report
        self._report = report.events
        self._earlier_calls_settled = False
        # Events other workers held in doubt when this run met them: its STATE waits for them.
        self._claimed_by_others: set[str] = set()
        self.incomplete: str | None = None  # why this run passes no further STATE on
        self._counting = threading.Lock()  # calls in flight report from several threads
        self._pool = ThreadPoolExecutor(
            max_workers=settings.events_calls_in_flight, thread_name_prefix="brevo-call"
        )
        self._queued: list[Future[None]] = []
        self._queued_keys: set[str] = set()  # events of calls carried, queued or in flight
        # A batch's last call, rarely full, waits to be filled by the next batch's events.
        self._carried: list[OutgoingEvent] = []
        self._failure: Exception | None = None  # once a call failed, no further call starts
        # The oldest mapped event of the input: the tap's lookback will show it again.
        self.oldest_time: dt.datetime | None = None
        # A claim outlives the longest call and its settling; then another worker may take it.
        self._lease_seconds = (
            settings.request_timeout_seconds + settings.events_settle_seconds + LEASE_MARGIN_SECONDS
        )
        self._heartbeat = LeaseHeartbeat(self._events, self._lease_seconds)
        self._visibility = EventsVisibility(client, self._events, settings.events_settle_seconds)

    # Sending --------------------------------------------------------------------------------

    def send(self, batch: EventBatch) -> None:
        """Queue the batch's new events in calls; they go out while the next batch is read.

        :meth:`wait_for_calls` returns once Brevo's answers are in the ledger, and a failed call
        is raised there, or by the next ``send``.
        """
        self._settle_earlier_calls()
        self._raise_failure()
        ledger = self._ledger
        ledger.learn_aliases(batch.aliases)
        pending = batch.pending
        if not pending:
            return
        already_sent = self._events.sent_event_keys(pending)
        self._report.deduplicated_by_ledger += len(already_sent)
        with self._counting:
            queued = {key for key in pending if key in self._queued_keys}
        self._report.deduplicated_in_run += len(queued)
        fresh = [e for key, e in pending.items() if key not in already_sent and key not in queued]
        chunks = self._chunks(self._carried + self._address(fresh))
        self._carried = chunks.pop() if chunks else []
        with self._counting:
            self._queued_keys.update(event.entry.key for event in self._carried)
        self._queue(chunks)

    def _queue(self, chunks: list[list[OutgoingEvent]]) -> None:
        """Queue the calls for ``events_calls_in_flight`` workers, each one claimed and settled.

        The rate budget paces them; more than one in flight hides Brevo's round trip. Each call
        is claimed in the ledger before it leaves and settled by its own answer, so a kill
        leaves at most the calls in flight in doubt, for the next run to settle. At most one
        batch waits behind the calls in flight: memory holds two batches, not the input.
        """
        self._wait_until_queued_at_most(self._settings.events_calls_in_flight)
        with self._counting:
            for chunk in chunks:
                self._queued_keys.update(event.entry.key for event in chunk)
                self._queued.append(self._pool.submit(self._call, chunk))

    def _call(self, chunk: list[OutgoingEvent]) -> None:
        """One queued call; none starts once another has failed, whose error is kept."""
        try:
            if self._failure is None:
                self._send(chunk)
        except Exception as exc:
            with self._counting:
                self._failure = self._failure or exc
        finally:
            with self._counting:
                self._queued_keys.difference_update(event.entry.key for event in chunk)

    def wait_for_calls(self) -> None:
        """Send the carried call, return once every call is settled; raise the first failure.

        Calls an earlier run left in doubt are settled first, even by a run that receives no
        events (a cohorts or groups job): the target waits here before each STATE and at the end.
        """
        self._settle_earlier_calls()
        self._raise_failure()
        carried, self._carried = self._carried, []
        if carried:
            self._queue([carried])
        self._wait_until_queued_at_most(0)
        self._raise_failure()
        self._await_claims_of_others()

    def calls_waiting(self) -> int:
        """Batch calls queued or in flight, for the progress log."""
        with self._counting:
            return sum(not call.done() for call in self._queued) + bool(self._carried)

    def stop(self) -> None:
        """At the end of a run, failed or not: no further call starts; those in flight settle.

        A carried call was never claimed: its events are sent by the rerun.
        """
        self._carried = []
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._heartbeat.stop()
        self._visibility.stop()
        self._report.queue_delay_observed_seconds = self._visibility.observed_seconds

    def _wait_until_queued_at_most(self, count: int) -> None:
        while True:
            with self._counting:
                self._queued = [call for call in self._queued if not call.done()]
                if len(self._queued) <= count or self._failure is not None:
                    return
                unfinished = list(self._queued)
            wait(unfinished, return_when="FIRST_COMPLETED")

    def _raise_failure(self) -> None:
        """Raise the first failed call's error, once the calls in flight have settled."""
        if self._failure is None:
            return
        self.stop()
        raise self._failure

    def _address(self, events: list[PendingEvent]) -> list[OutgoingEvent]:
        """Build payloads, identifying each contact by the best identifier the ledger knows."""
        ledger = self._ledger
        canonical = ledger.canonical_ids({e.distinct_id for e in events})
        send_anonymous = self._settings.anonymous_events == "send"
        resolved: list[tuple[PendingEvent, str]] = []
        for event in events:
            if event.identifiers is not None:  # a routed row names its contact itself
                resolved.append((event, event.distinct_id))
                continue
            contact = canonical.get(event.distinct_id, event.distinct_id)
            if contact != event.distinct_id:
                self._report.attributed_to_identified_user += 1
            if is_anonymous(contact) and not send_anonymous:
                self._report.skipped_anonymous += 1
                continue
            resolved.append((event, contact))
        emails = ledger.emails_for({c for e, c in resolved if e.identifiers is None})
        outgoing = []
        for event, contact in resolved:
            identifiers = event.identifiers or {"ext_id": contact}
            if event.identifiers is None and contact in emails:
                identifiers["email_id"] = emails[contact]
            own = event.properties if event.properties is not None else self._enriched(event.record)
            properties, changes = brevo_properties(own, insert_id=event.insert_id)
            for original, renamed in changes.renamed.items():
                self._report.renamed_properties[f"{original} -> {renamed}"] += 1
            for dropped in changes.dropped_for_size:
                self._report.dropped_properties[f"over 50 KB: {dropped}"] += 1
            payload = {
                "event_name": event.brevo_name,
                "event_date": brevo_event_date(event.time),
                "identifiers": identifiers,
                "event_properties": properties,
            }
            entry = LedgerEvent(
                event.key, event.insert_id, event.mixpanel_name, event.time, encode_json(payload)
            )
            outgoing.append(OutgoingEvent(entry, event.brevo_name, event.record))
        return outgoing

    def _enriched(self, record: dict[str, Any]) -> dict[str, Any]:
        """The event's properties with its lookup attributes; its own property of a name wins."""
        properties = record.get("properties") or {}
        extra = self._lookups.enrich(properties, "events")
        return {**extra, **properties} if extra else properties

    def _chunks(self, outgoing: list[OutgoingEvent]) -> list[list[OutgoingEvent]]:
        """Fill each call up to the configured event count and byte size."""
        settings = self._settings
        return fill_calls(
            outgoing,
            lambda event: event.entry.payload,
            max_bytes=settings.events_batch_max_bytes,
            max_items=settings.events_batch_size,
            envelope_bytes=_BATCH_ENVELOPE_BYTES,
        )

    def _send(self, chunk: list[OutgoingEvent], attempt: int = 0) -> None:
        """Once the call may leave, claim its events, then send those claimed; returns settled.

        The claim is taken after the rate-budget slot came, not before: a claim that waits for
        its slot only keeps other workers from events this one is not sending yet.
        """
        slot = None if self._settings.dry_run else self._client.wait_for_slot(*_BATCH_CALL)
        call_id = uuid.uuid4().hex
        claimed = self._events.open_call(call_id, [e.entry for e in chunk], self._lease_seconds)
        mine = self._keep_claimed(chunk, claimed)
        if mine:
            self._post(call_id, mine, attempt, slot)

    def _post(
        self,
        call_id: str,
        chunk: list[OutgoingEvent],
        attempt: int,
        slot: float | None = None,
    ) -> None:
        """One ``/events/batch`` call of a call already recorded in doubt.

        ``slot`` is the rate-budget slot the claim was taken in. Any later attempt (after a
        429, or a resend claimed before its slot came) first renews the lease, and a call that
        another worker took over meanwhile is not sent: the new owner settles and sends it.
        A dry run sends nothing and takes the call as accepted: its ledger is a private copy.
        """
        if self._settings.dry_run:
            self._accept(call_id, chunk)
            return
        body = b'{"events":[' + b",".join(e.entry.payload for e in chunk) + b"]}"
        fresh_claim = slot is not None  # taken in this very slot: no one can have taken it over

        def still_mine() -> None:
            nonlocal fresh_claim
            if fresh_claim:
                fresh_claim = False
                return
            if not self._events.renew(call_id, self._lease_seconds):
                raise ClaimLost(call_id)

        try:
            response = self._client.request(
                *_BATCH_CALL, content=body, idempotent=False, slot=slot, before_send=still_mine
            )
        except ClaimLost:
            logger.warning("Call %s was taken over by another worker: it sends it", call_id)
            self._left_to_another_worker(chunk)
            return
        except CallInDoubt as exc:
            with self._counting:
                self._report.calls_in_doubt += 1
            logger.warning("%s; looking its %d events up in Brevo", exc, len(chunk))
            # The settle time runs from when the call ended, not from when it was claimed: it
            # may have waited for its rate-budget slot, and Brevo queued it only when it arrived.
            self._settle(call_id, self._events.now(), chunk, attempt + 1)
            return
        except BrevoError:
            with contextlib.suppress(ClaimLost):
                self._events.settle_call(call_id, accepted=[])  # refused: nothing was queued
            raise
        self._settle_answer(call_id, chunk, response)

    def _settle_answer(
        self, call_id: str, chunk: list[OutgoingEvent], response: httpx.Response
    ) -> None:
        """Every documented answer of ``/events/batch`` (developers.brevo.com, Create batch events).

        202 with the count queued, 207 and 400 with per-event errors, and 400 ``out_of_range`` or
        413 for a call over Brevo's caps, which is split in halves until each part fits or one
        event is left.
        """
        status = response.status_code
        answer = json_object(response)
        if status in (200, 201, 202, 204):
            self._accept(call_id, chunk)
            if chunk:
                self._visibility.sample(chunk[0].ref())
            self._note_undetailed_shortfall(answer.get("count"), len(chunk))
            return
        failures = failed_indices(answer)
        if status in (207, 400) and failures:
            self._accept(call_id, [e for i, e in enumerate(chunk) if i not in failures])
            for index, reason in failures.items():
                if 0 <= index < len(chunk):
                    self._run_report.reject("events", f"Brevo: {reason}", chunk[index].record)
            return
        self._accept(call_id, [])  # Brevo refused the call whole
        if status == 413 or answer.get("code") == "out_of_range":
            if len(chunk) > 1:
                half = len(chunk) // 2
                self._send(chunk[:half])
                self._send(chunk[half:])
            else:
                reason = f"Brevo: {answer.get('message') or 'event over Brevo limits'}"
                self._run_report.reject("events", reason, chunk[0].record)
            return
        msg = (
            f"Brevo refused POST /events/batch with HTTP {status}: {body_excerpt(response)}; "
            "nothing of this call was marked as sent"
        )
        raise BrevoError(msg)

    def _accept(self, call_id: str, accepted: list[OutgoingEvent]) -> None:
        try:
            self._events.settle_call(call_id, accepted=[e.entry for e in accepted])
        except ClaimLost:
            # Our lease ran out while Brevo answered: the worker that took the call over finds
            # these events in Brevo and records them.
            logger.warning("Call %s was taken over by another worker before it settled", call_id)
            self._left_to_another_worker(accepted)
            return
        self._count_sent(accepted)

    def _note_undetailed_shortfall(self, count: Any, sent: int) -> None:
        """A 202 that queued fewer than were sent, without saying which: reported, not resent.

        Resending the call would double the events Brevo did queue, so the call stays accepted.
        """
        if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < sent:
            with self._counting:
                self._report.undetailed_shortfalls.append((count, sent))
            logger.warning("Brevo accepted %d of %d in one call and gave no detail", count, sent)

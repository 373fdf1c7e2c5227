"""Mixpanel events -> Brevo custom events, each ``$insert_id`` sent once.

A batch goes through four steps: drop what the ledger says Brevo already has; address each event
to the best-known contact identifier; send in ``/events/batch`` calls filled to the configured
count and byte caps; record what Brevo accepted in the ledger right after each call.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from mixpanel_brevo_mapping import IDENTITY_EVENTS, Mapping, aliases_in, is_anonymous
from target_brevo_tajo.batching import fill_calls
from target_brevo_tajo.brevo import BrevoClient, BrevoError
from target_brevo_tajo.event_payload import (
    brevo_event_date,
    brevo_properties,
    encode_json,
    parse_event_time,
)
from target_brevo_tajo.ledger import Ledger, event_key
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings

logger = logging.getLogger("target-brevo-tajo")
_BATCH_ENVELOPE_BYTES = len(b'{"events":[]}')


@dataclass(frozen=True)
class PendingEvent:
    """One mapped event waiting for its batch to drain."""

    key: str
    insert_id: str
    mixpanel_name: str
    brevo_name: str
    time: dt.datetime
    distinct_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class OutgoingEvent:
    """A Brevo event payload and the ledger row it becomes once accepted."""

    pending: PendingEvent
    encoded: bytes  # the payload's JSON, encoded once: it sizes the call and becomes its body


@dataclass
class EventBatch:
    """The events of one sink batch, by ledger key, and the identity links they revealed."""

    pending: dict[str, PendingEvent] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class EventWriter:
    """Sends Mixpanel events to Brevo's ``POST /events/batch``, each ``$insert_id`` once."""

    def __init__(
        self,
        *,
        client: BrevoClient,
        ledger: Ledger,
        mapping: Mapping,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._mapping = mapping
        self._settings = settings
        self._run_report = report
        self._report = report.events

    def admit(self, record: dict[str, Any], batch: EventBatch) -> None:
        """Keep a mapped event for the batch; count every other outcome."""
        report = self._report
        report.received += 1
        properties = record.get("properties") or {}
        batch.aliases.update(aliases_in(record))
        name = record.get("event")
        brevo_name = self._mapping.brevo_event_name(name) if name else None
        if brevo_name is None:
            if name in IDENTITY_EVENTS:
                report.identity_events += 1
            else:
                report.skipped_unmapped[str(name)] += 1
            return
        insert_id = record.get("insert_id") or properties.get("$insert_id")
        distinct_id = record.get("distinct_id") or properties.get("distinct_id")
        when = _event_time(record)
        problem = self._problem(record, insert_id, distinct_id, when)
        if problem or when is None:
            self._run_report.reject("events", problem, record)
            return
        key = event_key(name, str(insert_id))
        if key in batch.pending:
            report.deduplicated_in_run += 1
            return
        batch.pending[key] = PendingEvent(
            key=key,
            insert_id=str(insert_id),
            mixpanel_name=name,
            brevo_name=brevo_name,
            time=when,
            distinct_id=str(distinct_id),
            record=record,
        )

    @staticmethod
    def _problem(
        record: dict, insert_id: Any, distinct_id: Any, when: dt.datetime | None
    ) -> str | None:
        if not insert_id:
            return "no $insert_id: the event cannot be deduplicated"
        if not distinct_id:
            return "no distinct_id: the event belongs to no contact"
        if not record.get("time"):
            return "no time"
        if when is None:
            return "time is not an ISO 8601 date-time"
        return None

    def send(self, batch: EventBatch) -> None:
        """Send the batch's new events; returns only once Brevo's answers are in the ledger."""
        ledger = self._ledger
        ledger.learn_aliases(batch.aliases)
        pending = batch.pending
        if not pending:
            return
        already_sent = ledger.sent_event_keys(pending)
        self._report.deduplicated_by_ledger += len(already_sent)
        fresh = [event for key, event in pending.items() if key not in already_sent]
        outgoing = self._address(fresh)
        for chunk in self._chunks(outgoing):
            self._send(chunk)

    def _address(self, events: list[PendingEvent]) -> list[OutgoingEvent]:
        """Build payloads, identifying each contact by the best identifier the ledger knows."""
        ledger = self._ledger
        canonical = ledger.canonical_ids({e.distinct_id for e in events})
        send_anonymous = self._settings.anonymous_events == "send"
        resolved: list[tuple[PendingEvent, str]] = []
        for event in events:
            contact = canonical.get(event.distinct_id, event.distinct_id)
            if contact != event.distinct_id:
                self._report.attributed_to_identified_user += 1
            if is_anonymous(contact) and not send_anonymous:
                self._report.skipped_anonymous += 1
                continue
            resolved.append((event, contact))
        emails = ledger.emails_for({contact for _, contact in resolved})
        outgoing = []
        for event, contact in resolved:
            identifiers = {"ext_id": contact}
            if contact in emails:
                identifiers["email_id"] = emails[contact]
            properties, changes = brevo_properties(event.record.get("properties") or {})
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
            outgoing.append(OutgoingEvent(event, encode_json(payload)))
        return outgoing

    def _chunks(self, outgoing: list[OutgoingEvent]) -> list[list[OutgoingEvent]]:
        """Fill each call up to the configured event count and byte size."""
        settings = self._settings
        return fill_calls(
            outgoing,
            lambda event: event.encoded,
            max_bytes=settings.events_batch_max_bytes,
            max_items=settings.events_batch_size,
            envelope_bytes=_BATCH_ENVELOPE_BYTES,
        )

    def _send(self, chunk: list[OutgoingEvent]) -> None:
        """One ``/events/batch`` call; what Brevo accepted goes to the ledger before the next.

        Every documented answer is handled (reference/brevo-api.md section 4): 202 with the count
        queued, 207 and 400 with per-event errors, and 400 ``out_of_range`` or 413 for a call over
        Brevo's caps, which is split in halves until each part fits or one event is left.
        """
        if self._settings.dry_run:
            self._accept(chunk)  # the ledger is read-only in a dry run
            return
        body = b'{"events":[' + b",".join(e.encoded for e in chunk) + b"]}"
        response = self._client.request("POST", "/events/batch", content=body)
        status = response.status_code
        answer = _json_object(response)
        if status in (200, 201, 202, 204):
            self._accept(chunk)
            self._note_undetailed_shortfall(answer.get("count"), len(chunk))
            return
        failures = _failed_indices(answer)
        if status in (207, 400) and failures:
            rejected = set(failures)
            self._accept([e for i, e in enumerate(chunk) if i not in rejected])
            for index, reason in failures.items():
                if 0 <= index < len(chunk):
                    self._run_report.reject(
                        "events", f"Brevo: {reason}", chunk[index].pending.record
                    )
            return
        if status == 413 or answer.get("code") == "out_of_range":
            if len(chunk) > 1:
                half = len(chunk) // 2
                self._send(chunk[:half])
                self._send(chunk[half:])
            else:
                reason = f"Brevo: {answer.get('message') or 'event over Brevo limits'}"
                self._run_report.reject("events", reason, chunk[0].pending.record)
            return
        msg = (
            f"Brevo refused POST /events/batch with HTTP {status}: {response.text[:300]}; "
            "nothing of this call was marked as sent"
        )
        raise BrevoError(msg)

    def _note_undetailed_shortfall(self, count: Any, sent: int) -> None:
        """A 202 that queued fewer than were sent, without saying which: reported, not resent.

        Resending the call would double the events Brevo did queue, so the call stays accepted.
        """
        if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < sent:
            self._report.undetailed_shortfalls.append((count, sent))
            logger.warning("Brevo accepted %d of %d in one call and gave no detail", count, sent)

    def _accept(self, chunk: list[OutgoingEvent]) -> None:
        self._ledger.record_sent_events(
            (e.pending.key, e.pending.insert_id, e.pending.mixpanel_name, e.pending.time)
            for e in chunk
        )
        self._report.sent += len(chunk)
        for event in chunk:
            self._report.sent_by_name[event.pending.brevo_name] += 1


def _event_time(record: dict) -> dt.datetime | None:
    """The record's ``time``, parsed once per event (None when absent or unreadable)."""
    try:
        return parse_event_time(record["time"]) if record.get("time") else None
    except ValueError:
        return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """An answer's JSON object, or {} when the body is empty or not an object."""
    try:
        body = response.json() if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _failed_indices(answer: dict[str, Any]) -> dict[int, str]:
    """Brevo's per-event errors of a 207/400 batch answer: ``{index: message}``."""
    failures: dict[int, str] = {}
    for error in answer.get("errors") or []:
        if not isinstance(error, dict):
            continue
        indices = error.get("eventIndex")
        message = str(error.get("message") or "rejected by Brevo")
        for index in indices if isinstance(indices, list) else [indices]:
            if isinstance(index, int):
                failures[index] = message
    return failures

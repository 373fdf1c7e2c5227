"""Admitting Mixpanel event records into a batch: each mapped, keyed and checked once.

Every outcome is counted (mapped, identity event, unmapped, deduplicated in the run) and a
record that cannot be sent or deduplicated is rejected with its reason, before any Brevo call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mixpanel_brevo_mapping import IDENTITY_EVENTS, Mapping, aliases_in
from target_brevo_tajo.events.ledger import event_key
from target_brevo_tajo.events.payload import record_problem, record_time
from target_brevo_tajo.ledger.ids import first_id_problem
from target_brevo_tajo.report import EventsReport, SyncReport


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
    # A routed row's contact and properties, as its route made them (a Mixpanel event's come
    # from the ledger's identities and its own properties).
    identifiers: dict[str, str] | None = None
    properties: dict[str, Any] | None = None


@dataclass
class EventBatch:
    """The events of one sink batch, by ledger key, and the identity links they revealed."""

    pending: dict[str, PendingEvent] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class Admission:
    """The part of :class:`~.writer.EventWriter` that admits records into a batch (a mixin)."""

    _mapping: Mapping
    _report: EventsReport
    _run_report: SyncReport
    # The oldest mapped event of the input: the tap's lookback will show it again.
    oldest_time: dt.datetime | None

    def admit(self, record: dict[str, Any], batch: EventBatch) -> None:
        """Keep a mapped event for the batch; count every other outcome, reject poison."""
        report = self._report
        report.received += 1
        properties = record.get("properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            self._run_report.reject("events", "properties is not an object", record)
            return
        aliases = aliases_in(record)
        unstorable = first_id_problem(
            [
                ("$insert_id", record.get("insert_id") or properties.get("$insert_id")),
                ("distinct_id", record.get("distinct_id") or properties.get("distinct_id")),
                ("event name", record.get("event")),
                *(("an identity alias", alias) for pair in aliases.items() for alias in pair),
            ]
        )
        if unstorable:
            self._run_report.reject("events", unstorable, record)
            return
        batch.aliases.update(aliases)
        name = record.get("event")
        if not isinstance(name, str) or not name:
            self._run_report.reject("events", "event name is not text", record)
            return
        brevo_name = self._mapping.brevo_event_name(name)
        if brevo_name is None:
            if name in IDENTITY_EVENTS:
                report.identity_events += 1
            else:
                report.skipped_unmapped[name] += 1
            return
        insert_id = record.get("insert_id") or properties.get("$insert_id")
        distinct_id = record.get("distinct_id") or properties.get("distinct_id")
        when = record_time(record)
        problem = record_problem(record, insert_id, distinct_id, when)
        if problem or when is None:
            self._run_report.reject("events", problem or "no time", record)
            return
        pending = PendingEvent(
            key=event_key(name, str(insert_id), when),
            insert_id=str(insert_id),
            mixpanel_name=name,
            brevo_name=brevo_name,
            time=when,
            distinct_id=str(distinct_id),
            record=record,
        )
        self.keep(pending, batch)

    def keep(self, event: PendingEvent, batch: EventBatch) -> None:
        """Hold an admitted event for the batch, once: a second of its key is deduplicated."""
        if self.oldest_time is None or event.time < self.oldest_time:
            self.oldest_time = event.time
        if event.key in batch.pending:
            self._report.deduplicated_in_run += 1
            return
        batch.pending[event.key] = event

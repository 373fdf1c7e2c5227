"""The whole report of one run: its counters, its rejects file and its saved JSON file.

Rejected records are appended to a rejects file (JSON lines) when ``rejects_file`` is set: each
line carries the run id and only what a user needs to find and fix the record, since whole
profiles hold emails and phones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target_brevo_tajo.redaction import redact
from target_brevo_tajo.report.balances import unbalanced
from target_brevo_tajo.report.counters import (
    CohortMembersReport,
    CompaniesReport,
    ContactsReport,
    EventsReport,
    LookupReport,
)
from target_brevo_tajo.report.files import prune_run_files, utc_now
from target_brevo_tajo.report.text import render_report

# What a reject keeps of its record: the ids to find it by, the event name and time. The reason
# names the rejected value (``SMS left out: +33 6...``); the whole record only on request.
REJECT_FIELDS = ("insert_id", "distinct_id", "cohort_id", "event", "time")


def _as_text(value: Any) -> str:
    """JSON for what the SDK parsed out of a record: times in ISO 8601, the rest as text."""
    return value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)


@dataclass
class SyncReport:
    """Everything a run did; thread-safe enough for the SDK's parallel drains."""

    dry_run: bool = False
    status: str = "running"  # succeeded, incomplete, failed or dry_run once the run ends
    error: str | None = None
    incomplete: str | None = None  # why an incomplete run passed no further STATE on
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    job_name: str | None = None
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    events: EventsReport = field(default_factory=EventsReport)
    contacts: ContactsReport = field(default_factory=ContactsReport)
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    cohort_members: CohortMembersReport = field(default_factory=CohortMembersReport)
    companies: CompaniesReport = field(default_factory=CompaniesReport)
    lookups: LookupReport = field(default_factory=LookupReport)
    unrouted_streams: Counter[str] = field(default_factory=Counter)
    rejected_records: Counter[str] = field(default_factory=Counter)  # by stream
    api_calls: Counter[str] = field(default_factory=Counter)
    rate_budgets: dict[str, dict[str, Any]] = field(default_factory=dict)
    retries: int = 0
    rejects_file: Path | None = None
    rejects_include_record: bool = False
    # Streams routed to events: their rejects count among the events' (their balance's).
    event_streams: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reject(self, stream: str, reason: str, record: dict[str, Any]) -> None:
        """Count a rejected record under its reason; keep what identifies it in the rejects file."""
        with self._lock:
            self.rejected_records[stream] += 1
            if stream == "events" or stream in self.event_streams:
                self.events.rejected[redact(reason)] += 1
            if self.rejects_file is not None:
                self.rejects_file.parent.mkdir(parents=True, exist_ok=True)
                with self.rejects_file.open("a", encoding="utf-8") as out:
                    line = self.reject_line(stream, reason, record)
                    out.write(redact(json.dumps(line, default=_as_text)))
                    out.write("\n")

    def reject_line(self, stream: str, reason: str, record: dict[str, Any]) -> dict[str, Any]:
        """One line of the rejects file: the run, the stream, the ids, the reason."""
        line: dict[str, Any] = {"run_id": self.run_id, "stream": stream, "reason": reason}
        line |= {name: record[name] for name in REJECT_FIELDS if record.get(name) is not None}
        if self.rejects_include_record:
            line["record"] = record
        return line

    def write(self, latest: Path, keep: int | None = None) -> Path:
        """Save the report as this run's own file, and make ``latest`` a link to it.

        The run's file sits next to ``latest``, named after the job, the start time and the run
        id. ``latest`` becomes a relative symlink, or a copy where symlinks fail (Windows without
        the privilege, some network file systems). With ``keep``, only the newest ``keep`` files
        of this job stay: an hourly job would otherwise add 8,760 files a year.
        """
        job = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.job_name) + "-" if self.job_name else ""
        stamp = re.sub(r"[^0-9T]", "", self.started_at.removesuffix("+00:00")) + "Z"
        run_file = latest.with_name(f"{latest.stem}-{job}{stamp}-{self.run_id}{latest.suffix}")
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(redact(json.dumps(self.to_dict(), indent=2)) + "\n", encoding="utf-8")
        link = latest.with_name(f".{latest.name}.{self.run_id}")
        try:
            link.symlink_to(run_file.name)
            os.replace(link, latest)
        except OSError:
            link.unlink(missing_ok=True)
            shutil.copyfile(run_file, latest)
        if keep is not None:
            prune_run_files(latest, run_file, job, keep)
        return run_file

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        ev = self.events
        return {
            "status": self.status,
            "error": self.error,
            "incomplete": self.incomplete,
            "run_id": self.run_id,
            "job_name": self.job_name,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "dry_run": self.dry_run,
            "events": {
                "received": ev.received,
                "sent": ev.sent,
                "sent_by_brevo_name": dict(ev.sent_by_name.most_common()),
                "skipped_unmapped": sum(ev.skipped_unmapped.values()),
                "skipped_unmapped_by_name": dict(ev.skipped_unmapped.most_common()),
                "skipped_anonymous": ev.skipped_anonymous,
                "deduplicated": ev.deduplicated,
                "deduplicated_in_run": ev.deduplicated_in_run,
                "deduplicated_by_ledger": ev.deduplicated_by_ledger,
                "attributed_to_identified_user": ev.attributed_to_identified_user,
                "identity_events_read": ev.identity_events,
                "rejected": ev.rejected_total,
                "rejected_by_reason": dict(ev.rejected.most_common()),
                "renamed_properties": dict(ev.renamed_properties.most_common()),
                "dropped_properties": dict(ev.dropped_properties.most_common()),
                "calls_in_doubt": ev.calls_in_doubt,
                "found_in_brevo_when_settling": ev.found_in_brevo_when_settling,
                "resent_after_settling": ev.resent_after_settling,
                "left_to_another_worker": ev.left_to_another_worker,
                "taken_over_from_earlier_runs": ev.taken_over_from_earlier_runs,
                "sent_by_earlier_runs": ev.sent_by_earlier_runs,
                "found_at_second_look": ev.found_at_second_look,
                "queue_delay_observed_seconds": round(ev.queue_delay_observed_seconds, 1),
                "calls_accepted_in_part_without_detail": [
                    {"accepted": accepted, "sent": sent}
                    for accepted, sent in ev.undetailed_shortfalls
                ],
            },
            "contacts": self.contacts.to_dict(),
            "cohorts": self.cohorts,
            "cohort_members": self.cohort_members.to_dict(),
            "companies": self.companies.to_dict(),
            "lookups": self.lookups.to_dict(),
            "unrouted_streams": dict(self.unrouted_streams),
            "rejected_records": dict(self.rejected_records),
            "api_calls": {"total": sum(self.api_calls.values()), **dict(self.api_calls)},
            "rate_budgets": self.rate_budgets,
            "retries": self.retries,
        }

    def render(self) -> str:
        """A short human-readable summary for the end of the run's log."""
        return render_report(self.to_dict(), rejects_file=self.rejects_file)

    def unbalanced(self) -> dict[str, int]:
        """Each resource whose counters do not add up (:data:`BALANCES`), by how much."""
        return unbalanced(self.to_dict())

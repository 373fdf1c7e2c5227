"""The sync report: what one run of the target did, printed at the end and optionally saved.

Every record the target receives ends in exactly one bucket (sent, skipped for a reason,
deduplicated, rejected with a reason, settled...), so nothing is silently dropped: ``BALANCES``
says how each resource's counters add up, and :func:`unbalanced` checks a report against it.
Rejected records are also appended to a rejects file (JSON lines) when ``rejects_file`` is set:
each line carries the run id and only what a user needs to find and fix the record, since whole
profiles hold emails and phones.
Each run's report is its own file and ``report_file`` links to the latest: no run overwrites one.
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target_brevo_tajo.redaction import redact

# What a reject keeps of its record: the ids to find it by, the event name and time. The reason
# names the rejected value (``SMS left out: +33 6...``); the whole record only on request.
REJECT_FIELDS = ("insert_id", "distinct_id", "cohort_id", "event", "time")


def utc_now() -> str:
    """The current time as UTC ISO 8601 text, to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _as_text(value: Any) -> str:
    """JSON for what the SDK parsed out of a record: times in ISO 8601, the rest as text."""
    return value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)


def job_name_of(environ: Mapping[str, str]) -> str | None:
    """The job a run belongs to, as far as the environment tells it.

    ``MELTANO_JOB_NAME`` when the scheduler sets it, else ``MELTANO_STATE_ID`` (``meltano el``),
    else the pipeline under the state id Meltano gives it. Meltano 4.4 passes its plugins
    neither the job nor the state id, only ``MELTANO_ENVIRONMENT``, ``MELTANO_EXTRACTOR_NAME``
    and ``MELTANO_LOADER_NAME``, from which it builds that id (``prod:tap-to-target``); a suffix
    counts only from ``MELTANO_RUN_STATE_ID_SUFFIX``, as ``--state-id-suffix`` is not passed on.
    """
    named = environ.get("MELTANO_JOB_NAME") or environ.get("MELTANO_STATE_ID")
    extractor, loader = environ.get("MELTANO_EXTRACTOR_NAME"), environ.get("MELTANO_LOADER_NAME")
    if named or not (extractor and loader):
        return named or None
    parts = (
        environ.get("MELTANO_ENVIRONMENT"),
        f"{extractor}-to-{loader}",
        environ.get("MELTANO_RUN_STATE_ID_SUFFIX"),
    )
    return ":".join(part for part in parts if part)


def prune_run_files(latest: Path, run_file: Path, job: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` run files of one job, ``run_file`` included; returns them.

    A run file is ``<stem>-<job->YYYYMMDDTHHMMSSZ-<run id><suffix>`` next to ``latest``; its
    start time orders it. Files of other jobs, and anything else in the folder, stay.
    """
    name = re.compile(
        rf"{re.escape(latest.stem)}-{re.escape(job)}(\d{{8}}T\d{{6}}Z)-[0-9a-f]{{32}}"
        rf"{re.escape(latest.suffix)}"
    )
    runs = sorted(
        (match[1], path)
        for path in latest.parent.iterdir()
        if path != run_file and (match := name.fullmatch(path.name))
    )
    old = [path for _, path in runs[: max(len(runs) - (keep - 1), 0)]]
    for path in old:
        path.unlink(missing_ok=True)
    return old


@dataclass
class EventsReport:
    """Counters of the events sink."""

    received: int = 0
    sent: int = 0
    skipped_unmapped: Counter[str] = field(default_factory=Counter)
    skipped_anonymous: int = 0
    deduplicated_in_run: int = 0
    deduplicated_by_ledger: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    renamed_properties: Counter[str] = field(default_factory=Counter)
    dropped_properties: Counter[str] = field(default_factory=Counter)
    attributed_to_identified_user: int = 0
    identity_events: int = 0
    sent_by_name: Counter[str] = field(default_factory=Counter)
    # Batch calls whose answer never came (or came as a 5xx), settled by looking them up.
    calls_in_doubt: int = 0
    found_in_brevo_when_settling: int = 0
    resent_after_settling: int = 0
    left_to_another_worker: int = 0  # claimed by a worker sharing the ledger
    taken_over_from_earlier_runs: int = 0  # events of the calls in doubt an earlier run left
    sent_by_earlier_runs: int = 0  # of those, found in Brevo: that run's call delivered them
    found_at_second_look: int = 0  # in doubt, missing at the first look-up, found at the second
    queue_delay_observed_seconds: float = 0.0  # the longest Brevo events queue delay seen
    # Calls Brevo answered 202 with a lower count and no detail: (queued, sent).
    undetailed_shortfalls: list[tuple[int, int]] = field(default_factory=list)

    @property
    def deduplicated(self) -> int:
        """Events not sent because Brevo already had them (this run or an earlier one)."""
        return self.deduplicated_in_run + self.deduplicated_by_ledger

    @property
    def rejected_total(self) -> int:
        """Events Brevo or the mapping refused."""
        return sum(self.rejected.values())


@dataclass
class ContactsReport:
    """Counters of the contacts sink."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    imports: int = 0
    merged: int = 0
    values_rejected: Counter[str] = field(default_factory=Counter)
    import_issues: Counter[str] = field(default_factory=Counter)
    missing_attributes: list[str] = field(default_factory=list)
    created_attributes: list[str] = field(default_factory=list)
    gone_from_mixpanel: int = 0
    unlisted: int = 0
    deleted: int = 0
    deletion_policy: str = "keep"
    from_cohort_members: int = 0  # members written through the contacts path, not profiles
    deduplicated: int = 0  # a later record of the same profile in the batch won
    rejected: int = 0  # whole records, not synced (values left out are ``values_rejected``)
    # Not records of this run: contacts the ledger kept with values left out in an earlier run,
    # sent again now that Brevo takes them; and those still waiting at the end of the run.
    left_out_resent: int = 0
    left_out_waiting: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "received": self.received,
            "from_cohort_members": self.from_cohort_members,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deduplicated": self.deduplicated,
            "rejected": self.rejected,
            "rejected_values": sum(self.values_rejected.values()),
            "rejected_values_by_reason": dict(self.values_rejected.most_common()),
            "imports": self.imports,
            "merged_identities": self.merged,
            "brevo_import_issues": dict(self.import_issues),
            "missing_attributes": self.missing_attributes,
            "created_attributes": self.created_attributes,
            "gone_from_mixpanel": self.gone_from_mixpanel,
            "deletion_policy": self.deletion_policy,
            "unlisted": self.unlisted,
            "deleted": self.deleted,
            "left_out_resent": self.left_out_resent,
            "left_out_waiting": self.left_out_waiting,
        }


@dataclass
class CohortMembersReport:
    """Where each cohort member record ended, over every cohort (the cohorts list says each)."""

    received: int = 0
    added: int = 0
    already_in_list: int = 0
    deduplicated: int = 0  # the same member twice in a batch
    rejected: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "received": self.received,
            "added": self.added,
            "already_in_list": self.already_in_list,
            "deduplicated": self.deduplicated,
            "rejected": self.rejected,
        }


@dataclass
class CompaniesReport:
    """Counters of the companies writer, and the hourly budget its calls spent."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    recreated: int = 0  # deleted by hand in Brevo, created again (counted as they arrived)
    found_not_created: int = 0  # an earlier run's import in doubt had made them: mapped
    # Group value -> the ids of the extra companies holding it (made by an earlier run): reported.
    duplicates: dict[str, set[str]] = field(default_factory=dict)
    skipped_unmapped: int = 0  # group keys the mapping turns into no companies
    deduplicated: int = 0  # a later record of the same group in the batch won
    rejected: int = 0
    links_added: int = 0
    links_removed: int = 0
    links_verified: int = 0  # links of the companies whose links moved, read back from Brevo
    links_repaired: int = 0  # of them, linked or unlinked again: Brevo held them otherwise
    links_unverified: int = 0  # company deleted in Brevo, or repair refused: sent again next run
    members_not_in_brevo: int = 0
    imports: int = 0
    calls: int = 0  # companies and CRM calls, all in Brevo's hourly bucket of other calls
    hourly_budget: int | None = None
    values_rejected: Counter[str] = field(default_factory=Counter)
    created_attributes: list[str] = field(default_factory=list)
    missing_attributes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "recreated": self.recreated,
            "found_not_created": self.found_not_created,
            "duplicates": {value: sorted(ids) for value, ids in sorted(self.duplicates.items())},
            "skipped_unmapped": self.skipped_unmapped,
            "deduplicated": self.deduplicated,
            "rejected": self.rejected,
            "links_added": self.links_added,
            "links_removed": self.links_removed,
            "links_verified": self.links_verified,
            "links_repaired": self.links_repaired,
            "links_unverified": self.links_unverified,
            "members_not_in_brevo": self.members_not_in_brevo,
            "imports": self.imports,
            "calls": self.calls,
            "hourly_budget": self.hourly_budget,
            "rejected_values_by_reason": dict(self.values_rejected.most_common()),
            "created_attributes": self.created_attributes,
            "missing_attributes": self.missing_attributes,
        }


@dataclass
class LookupReport:
    """What the lookup tables held, and how many profiles and events they enriched."""

    rows_received: int = 0
    rows_held: int = 0  # for the joins of this run, and kept in the ledger
    rows_ignored: int = 0  # of tables no ``lookup_enrichment`` entry names
    rows_rejected: int = 0
    # By table name: its id, its rows, and where they came from ("this run" or "ledger").
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles_enriched: int = 0
    events_enriched: int = 0
    keys_not_found: Counter[str] = field(default_factory=Counter)  # by table
    tables_missing: list[str] = field(default_factory=list)  # named, but no rows anywhere
    columns_missing: list[str] = field(default_factory=list)  # "table.column" no row has

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "tables": self.tables,
            "rows_received": self.rows_received,
            "rows_held": self.rows_held,
            "rows_ignored": self.rows_ignored,
            "rows_rejected": self.rows_rejected,
            "profiles_enriched": self.profiles_enriched,
            "events_enriched": self.events_enriched,
            "keys_not_found": sum(self.keys_not_found.values()),
            "keys_not_found_by_table": dict(self.keys_not_found.most_common()),
            "tables_missing": self.tables_missing,
            "columns_missing": self.columns_missing,
        }


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reject(self, stream: str, reason: str, record: dict[str, Any]) -> None:
        """Count a rejected record under its reason; keep what identifies it in the rejects file."""
        with self._lock:
            self.rejected_records[stream] += 1
            if stream == "events":
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


# How each resource's records add up, by the report's JSON keys: what arrived equals the sum of
# where each record ended, and the text shows each non-zero term in the words given here. A new
# outcome goes in here; the test suite checks every report it renders or writes against this.
Terms = tuple[tuple[str, str], ...]
BALANCES: dict[str, tuple[Terms, Terms]] = {
    "events": (
        (
            ("received", "received"),
            ("taken_over_from_earlier_runs", "taken over in doubt from earlier runs"),
        ),
        (
            ("sent", "sent"),
            ("skipped_unmapped", "skipped as unmapped"),
            ("skipped_anonymous", "skipped as anonymous"),
            ("identity_events_read", "identity events"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
            ("left_to_another_worker", "left to another worker"),
            ("sent_by_earlier_runs", "already sent by earlier runs"),
        ),
    ),
    "contacts": (
        (("received", "received"), ("from_cohort_members", "from cohort members")),
        (
            ("created", "created"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
        ),
    ),
    "cohort_members": (
        (("received", "received"),),
        (
            ("added", "added"),
            ("already_in_list", "already in the list"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
        ),
    ),
    "companies": (
        (("received", "received"),),
        (
            ("created", "created"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("skipped_unmapped", "skipped as unmapped"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
        ),
    ),
    "lookups": (
        (("rows_received", "rows received"),),
        (("rows_held", "held"), ("rows_ignored", "ignored"), ("rows_rejected", "rejected")),
    ),
}


def unbalanced(report: dict[str, Any]) -> dict[str, int]:
    """What arrived minus what is accounted for, for each resource where it is not 0."""
    gaps = {}
    for resource, (arrived, ended) in BALANCES.items():
        section = report.get(resource) or {}
        gap = sum(section.get(key, 0) for key, _ in arrived) - sum(
            section.get(key, 0) for key, _ in ended
        )
        if gap:
            gaps[resource] = gap
    return gaps


def balance_terms(report: dict[str, Any], resource: str) -> list[str]:
    """The non-zero terms of a resource's balance as the text says them (``sent 3``)."""
    dry = bool(report.get("dry_run"))
    arrived, ended = BALANCES[resource]
    section = report.get(resource) or {}
    return [
        f"{_did(words, dry) if words in WOULD else words} {section[key]}"
        for key, words in (*arrived, *ended)
        if section.get(key)
    ]


def _with_balance(line: str, report: dict[str, Any], resource: str) -> str:
    """A resource's line, with each non-zero term of its balance the line does not say yet."""
    missing = [term for term in balance_terms(report, resource) if not says(line, term)]
    return ", ".join([line, *missing])


def says(text: str, term: str) -> bool:
    """Whether ``text`` holds ``term`` (``sent 3``) itself, not in ``resent 3`` or ``sent 30``."""
    return re.search(rf"(?<![\w-]){re.escape(term)}(?!\d)", text) is not None


def _status_lines(report: dict[str, Any]) -> list[str]:
    """What a run that did not succeed must say first: why."""
    if report.get("status") == "failed":
        return [f"  the run FAILED: {report.get('error')}; below is what it did before"]
    if report.get("status") == "incomplete":
        return [f"  the run is INCOMPLETE: {report.get('incomplete')}"]
    return []


def render_report(report: dict[str, Any], *, rejects_file: Path | None = None) -> str:
    """Render a report dict (as :meth:`SyncReport.to_dict` or the JSON file hold it) as text."""
    ev = report["events"]
    dry = bool(report["dry_run"])
    title = "Brevo sync report" + (" (dry run: nothing was written)" if dry else "")
    lines = [title, *_status_lines(report)]
    if balance_terms(report, "events"):
        line = (
            f"  events: received {ev['received']}, {_did('sent', dry)} {ev['sent']}, "
            f"skipped as unmapped {ev['skipped_unmapped']}, "
            f"skipped as anonymous {ev['skipped_anonymous']}, "
            f"deduplicated {ev['deduplicated']} (in this run {ev['deduplicated_in_run']}, "
            f"already in Brevo {ev['deduplicated_by_ledger']}), rejected {ev['rejected']}"
        )
        lines.append(_with_balance(line, report, "events"))
    lines += [
        f"    {_did('sent', dry)} {name}: {n}"
        for name, n in sorted(ev["sent_by_brevo_name"].items())
    ]
    if ev["skipped_unmapped_by_name"]:
        names = ", ".join(f"{k} ({v})" for k, v in list(ev["skipped_unmapped_by_name"].items())[:8])
        lines.append(f"    unmapped Mixpanel events: {names}")
    if ev["attributed_to_identified_user"]:
        lines.append(
            "    events of an alias (device, anonymous id) attributed to the merged user: "
            f"{ev['attributed_to_identified_user']}"
        )
    lines += [f"    rejected, {why}: {n}" for why, n in ev["rejected_by_reason"].items()]
    renamed = list(ev["renamed_properties"])
    if renamed:
        more = ", ..." if len(renamed) > 6 else ""
        lines.append(
            f"    event property names made valid for Brevo: {len(renamed)} "
            f"({', '.join(renamed[:6])}{more})"
        )
    lines += [f"    property dropped, {why}: {n}" for why, n in ev["dropped_properties"].items()]
    if ev.get("calls_in_doubt"):
        lines.append(
            f"    calls whose answer never came, settled by looking them up in Brevo: "
            f"{ev['calls_in_doubt']} ({ev['found_in_brevo_when_settling']} events found there, "
            f"{ev.get('found_at_second_look', 0)} of them at a second look; "
            f"{ev['resent_after_settling']} resent after a second look; longest queue delay "
            f"observed {ev.get('queue_delay_observed_seconds', 0)} s)"
        )
    lines += [
        f"    Brevo accepted {call['accepted']} of {call['sent']} in one call and gave no detail"
        for call in ev.get("calls_accepted_in_part_without_detail") or []
    ]
    lines += _contact_lines(report.get("contacts") or {}, dry=dry)
    if balance_terms(report, "cohort_members"):
        received = f"  cohort members: received {report['cohort_members']['received']}"
        lines.append(_with_balance(received, report, "cohort_members"))
    lines += [_cohort_line(cohort, dry=dry) for cohort in report.get("cohorts") or []]
    if company_lines := _company_lines(report.get("companies") or {}, dry=dry):
        company_lines[0] = _with_balance(company_lines[0], report, "companies")
    lines += company_lines
    if lookup_lines := _lookup_lines(report.get("lookups") or {}):
        lookup_lines[0] = _with_balance(lookup_lines[0], report, "lookups")
    lines += lookup_lines
    why = (
        "not done when the run failed (the rerun does them)"
        if report.get("status") == "failed"
        else "not accounted for by any counter (a bug: please report it)"
    )
    lines += [
        f"  {name.replace('_', ' ')}: {gap} {why}" for name, gap in unbalanced(report).items()
    ]
    lines += [
        f"  stream {name!r} is not routed to Brevo: {n} records ignored "
        "(route it with `routes:` in the mapping file)"
        for name, n in report["unrouted_streams"].items()
    ]
    rejected = report.get("rejected_records") or {}
    if rejected:
        counts = ", ".join(f"{stream} {n}" for stream, n in sorted(rejected.items()))
        lines.append(f"  rejected records, each with its reason: {counts}")
    calls = dict(report["api_calls"])
    total = calls.pop("total", 0)
    spent = ", ".join(f"{k} x{v}" for k, v in sorted(calls.items())) or "none"
    lines.append(f"  Brevo API calls: {total} ({spent}); retries {report['retries']}")
    lines += [
        f"    {bucket} budget {b['budget']}: {b['calls']} calls, waited {b['waited_seconds']} s, "
        f"answered 429: {b['answered_429']}"
        for bucket, b in (report.get("rate_budgets") or {}).items()
    ]
    if rejects_file is not None and rejected:
        lines.append(f"  rejected records written to {rejects_file}")
    return "\n".join(lines)


# What a dry run says instead of the past tense: it counted what it would have done.
WOULD = {
    "sent": "would send",
    "created": "would create",
    "updated": "would update",
    "unlisted": "would unlist",
    "deleted": "would delete",
    "added": "would add",
    "removed": "would remove",
}


def _did(verb: str, dry: bool) -> str:
    """The verb as a report line says it: done, or in a dry run only counted."""
    return WOULD[verb] if dry else verb


def _contact_lines(co: dict[str, Any], *, dry: bool) -> list[str]:
    report = {"dry_run": dry, "contacts": co}
    if not balance_terms(report, "contacts"):
        return _left_out_lines(co, dry=dry)
    line = (
        f"  contacts: received {co['received']}, {_did('created', dry)} {co['created']}, "
        f"{_did('updated', dry)} {co['updated']}, unchanged {co['unchanged']}, "
        f"values rejected {co['rejected_values']} ({co['imports']} imports)"
    )
    lines = [_with_balance(line, report, "contacts")]
    lines += [f"    rejected, {why}: {n}" for why, n in co["rejected_values_by_reason"].items()]
    if co["merged_identities"]:
        lines.append(f"    contacts carried over to a merged identity: {co['merged_identities']}")
    if co["created_attributes"]:
        lines.append(f"    attributes created in Brevo: {', '.join(co['created_attributes'])}")
    if co["missing_attributes"]:
        lines.append(
            "    attributes missing in Brevo, no contact written: "
            f"{', '.join(co['missing_attributes'])} (create them in Brevo, or set "
            "create_missing_attributes: true)"
        )
    lines += [
        f"    Brevo import reported {why}: {n}" for why, n in co["brevo_import_issues"].items()
    ]
    if co["gone_from_mixpanel"]:
        lines.append(
            f"    gone from Mixpanel at the full refresh: {co['gone_from_mixpanel']} "
            f"(deletion_policy {co['deletion_policy']}: {_did('unlisted', dry)} {co['unlisted']}, "
            f"{_did('deleted', dry)} {co['deleted']})"
        )
    return lines + _left_out_lines(co, dry=dry)


def _left_out_lines(co: dict[str, Any], *, dry: bool) -> list[str]:
    lines = []
    if co.get("left_out_resent"):
        lines.append(
            f"  contacts {_did('sent', dry)} again from the ledger, their values left out earlier "
            f"now accepted by Brevo: {co['left_out_resent']}"
        )
    if co.get("left_out_waiting"):
        lines.append(
            "  contacts with values still left out, kept by the ledger to send again once Brevo "
            f"takes them: {co['left_out_waiting']}"
        )
    return lines


def _company_lines(co: dict[str, Any], *, dry: bool) -> list[str]:
    if not (co.get("received") or co.get("links_added") or co.get("links_removed")):
        return []
    lines = [
        f"  companies: received {co['received']}, {_did('created', dry)} {co['created']}, "
        f"{_did('updated', dry)} {co['updated']}, unchanged {co['unchanged']}, "
        f"recreated {co['recreated']}; "
        f"links added {co['links_added']}, removed {co['links_removed']}, "
        f"verified {co['links_verified']} (repaired {co['links_repaired']}) "
        f"({co['imports']} imports, {co['calls']} calls of the hourly budget of "
        f"{co['hourly_budget']})"
    ]
    if co["links_unverified"]:
        lines.append(
            f"    links not verified (company deleted in Brevo, or repair refused), sent again "
            f"at the next run: {co['links_unverified']}"
        )
    if co["members_not_in_brevo"]:
        lines.append(f"    members not found in Brevo, not linked: {co['members_not_in_brevo']}")
    if co.get("found_not_created"):
        lines.append(
            "    companies found in Brevo after an earlier import's answer was lost, mapped, "
            f"not created again: {co['found_not_created']}"
        )
    if duplicates := co.get("duplicates"):
        groups = sorted(value.partition(":")[2] for value in duplicates)
        lines.append(
            "    companies duplicated in Brevo by an earlier run: "
            f"{sum(len(ids) for ids in duplicates.values())} (group ids {', '.join(groups[:10])}"
            f"{', ...' if len(groups) > 10 else ''}; left in place: delete the extra ones in Brevo)"
        )
    if co["created_attributes"]:
        lines.append(f"    company attributes created: {', '.join(co['created_attributes'])}")
    if co["missing_attributes"]:
        lines.append(
            "    company attributes missing in Brevo, values left out: "
            f"{', '.join(co['missing_attributes'])} (set create_missing_attributes: true)"
        )
    lines += [f"    rejected, {why}: {n}" for why, n in co["rejected_values_by_reason"].items()]
    return lines


def _lookup_lines(lk: dict[str, Any]) -> list[str]:
    if not (lk.get("tables") or lk.get("tables_missing") or lk.get("rows_received")):
        return []
    tables = ", ".join(
        f"{name} ({table['rows']} rows, {table['source']})"
        for name, table in sorted(lk["tables"].items())
    )
    lines = [
        f"  lookup tables: {tables or 'none'}; enriched {lk['profiles_enriched']} profiles and "
        f"{lk['events_enriched']} events; keys not found {lk['keys_not_found']}"
    ]
    lines += [
        f"    keys not found in {name}: {n}" for name, n in lk["keys_not_found_by_table"].items()
    ]
    if lk["rows_ignored"]:
        lines.append(
            f"    rows of tables no lookup_enrichment names, ignored: {lk['rows_ignored']}"
        )
    if lk["tables_missing"]:
        lines.append(
            f"    tables without rows, not enriched: {', '.join(lk['tables_missing'])} (not in "
            "this run's input nor kept from an earlier run: check the tap's lookup_tables stream)"
        )
    if lk["columns_missing"]:
        lines.append(
            f"    columns no row of their table has: {', '.join(lk['columns_missing'])} "
            "(check lookup_enrichment attributes)"
        )
    return lines


def _cohort_line(co: dict[str, Any], *, dry: bool) -> str:
    state = "" if co["snapshotComplete"] else " (snapshot incomplete: nothing removed)"
    repaired = f", reconciled: {co['repaired']} repaired" if co["reconciled"] else ""
    if co.get("membersNotIdentified"):
        repaired += f", members not identified, left in the list: {co['membersNotIdentified']}"
    return (
        f"  cohort {co['cohortName']!r} -> list {co['listId']} ({co['syncMode']}): "
        f"{co['membersCount']} members, {co['syncedToBrevo']} in Brevo, "
        f"{_did('added', dry)} {co['added']}, {_did('removed', dry)} {co['removed']}"
        f"{repaired}{state}"
    )

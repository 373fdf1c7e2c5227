"""The report as text, for the end of the run's log and ``--report`` of a saved file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from target_brevo_tajo.report.balances import balance_terms, did, unbalanced, with_balance


def _status_lines(report: dict[str, Any]) -> list[str]:
    """What a run that did not succeed must say first: why."""
    if report.get("status") == "failed":
        return [f"  the run FAILED: {report.get('error')}; below is what it did before"]
    if report.get("status") == "incomplete":
        return [f"  the run is INCOMPLETE: {report.get('incomplete')}"]
    return []


def render_report(report: dict[str, Any], *, rejects_file: Path | None = None) -> str:
    """Render a report dict (as :meth:`SyncReport.to_dict` or the JSON file hold it) as text."""
    dry = bool(report["dry_run"])
    title = "Brevo sync report" + (" (dry run: nothing was written)" if dry else "")
    lines = [title, *_status_lines(report)]
    lines += _event_lines(report, dry=dry)
    lines += _contact_lines(report.get("contacts") or {}, dry=dry)
    if balance_terms(report, "cohort_members"):
        received = f"  cohort members: received {report['cohort_members']['received']}"
        lines.append(with_balance(received, report, "cohort_members"))
    lines += [_cohort_line(cohort, dry=dry) for cohort in report.get("cohorts") or []]
    if company_lines := _company_lines(report.get("companies") or {}, dry=dry):
        company_lines[0] = with_balance(company_lines[0], report, "companies")
    lines += company_lines
    if lookup_lines := _lookup_lines(report.get("lookups") or {}):
        lookup_lines[0] = with_balance(lookup_lines[0], report, "lookups")
    lines += lookup_lines
    lines += _run_lines(report, rejects_file=rejects_file)
    return "\n".join(lines)


def _event_lines(report: dict[str, Any], *, dry: bool) -> list[str]:
    """The events' line and what it details: names sent, skipped, rejected, in doubt."""
    ev = report["events"]
    lines: list[str] = []
    if balance_terms(report, "events"):
        line = (
            f"  events: received {ev['received']}, {did('sent', dry)} {ev['sent']}, "
            f"skipped as unmapped {ev['skipped_unmapped']}, "
            f"skipped as anonymous {ev['skipped_anonymous']}, "
            f"deduplicated {ev['deduplicated']} (in this run {ev['deduplicated_in_run']}, "
            f"already in Brevo {ev['deduplicated_by_ledger']}), rejected {ev['rejected']}"
        )
        lines.append(with_balance(line, report, "events"))
    lines += [
        f"    {did('sent', dry)} {name}: {n}"
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
    return lines


def _run_lines(report: dict[str, Any], *, rejects_file: Path | None) -> list[str]:
    """What the run as a whole did: gaps, unrouted streams, rejects, API calls and budgets."""
    lines: list[str] = []
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
    return lines


def _contact_lines(co: dict[str, Any], *, dry: bool) -> list[str]:
    report = {"dry_run": dry, "contacts": co}
    if not balance_terms(report, "contacts"):
        return _left_out_lines(co, dry=dry)
    line = (
        f"  contacts: received {co['received']}, {did('created', dry)} {co['created']}, "
        f"{did('updated', dry)} {co['updated']}, unchanged {co['unchanged']}, "
        f"values rejected {co['rejected_values']} ({co['imports']} imports)"
    )
    lines = [with_balance(line, report, "contacts")]
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
            f"(deletion_policy {co['deletion_policy']}: {did('unlisted', dry)} {co['unlisted']}, "
            f"{did('deleted', dry)} {co['deleted']})"
        )
    return lines + _left_out_lines(co, dry=dry)


def _left_out_lines(co: dict[str, Any], *, dry: bool) -> list[str]:
    lines = []
    if co.get("left_out_resent"):
        lines.append(
            f"  contacts {did('sent', dry)} again from the ledger, their values left out earlier "
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
        f"  companies: received {co['received']}, {did('created', dry)} {co['created']}, "
        f"{did('updated', dry)} {co['updated']}, unchanged {co['unchanged']}, "
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
        f"{did('added', dry)} {co['added']}, {did('removed', dry)} {co['removed']}"
        f"{repaired}{state}"
    )

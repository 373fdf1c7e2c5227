"""The sync report: every outcome counted, rendered in a few readable lines."""

from __future__ import annotations

import json

from target_brevo_tajo.report import SyncReport, render_report


def test_the_report_names_every_outcome_and_is_json_ready(tmp_path):
    report = SyncReport(rejects_file=tmp_path / "rejects.jsonl")
    report.events.received = 5
    report.events.sent = 2
    report.events.sent_by_name["order_completed"] = 2
    report.events.skipped_unmapped["Search"] = 1
    report.events.deduplicated_by_ledger = 1
    report.reject("events", "Brevo: invalid event_date", {"insert_id": "x"})
    report.contacts.received = 3
    report.contacts.created = 1
    report.contacts.updated = 1
    report.contacts.unchanged = 1
    report.cohorts = [
        {
            "cohortId": 1001,
            "cohortName": "Engaged Users (Last 7 Days)",
            "membersCount": 3200,
            "syncedToBrevo": 3200,
            "listId": 16,
            "syncMode": "mirror",
            "added": 12,
            "removed": 3,
            "createdContacts": 0,
            "snapshotComplete": True,
            "reconciled": False,
            "repaired": 0,
        }
    ]
    report.api_calls.update({"POST /events/batch": 1, "POST /contacts/import": 1})

    text = render_report(json.loads(json.dumps(report.to_dict())), rejects_file=report.rejects_file)

    assert "events: received 5, sent 2, skipped as unmapped 1" in text
    assert "rejected, Brevo: invalid event_date: 1" in text
    assert "contacts: received 3, created 1, updated 1, unchanged 1" in text
    assert (
        "cohort 'Engaged Users (Last 7 Days)' -> list 16 (mirror): 3200 members, 3200 in Brevo, "
        "added 12, removed 3" in text
    )
    assert "Brevo API calls: 2" in text
    assert "rejected records written to" in text
    (line,) = (tmp_path / "rejects.jsonl").read_text().splitlines()
    assert json.loads(line) == {
        "run_id": report.run_id,
        "stream": "events",
        "reason": "Brevo: invalid event_date",
        "insert_id": "x",
    }


def test_a_run_that_touched_only_cohorts_reports_only_cohorts():
    report = SyncReport()

    text = render_report(report.to_dict())

    assert "events:" not in text
    assert "contacts:" not in text
    assert "Brevo API calls: 0 (none)" in text

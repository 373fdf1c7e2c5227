"""Reports that add up: for every resource, what arrived = the sum of where each record ended.

Issue 17: ``received 7890, sent 7787`` left out 103 identity events; after a kill,
``sent 4787, deduplicated 2200`` left 800 "left to another worker" out of the text; the settling
run said "sent 800" with no batch call; the cohorts job's 1,032 contact updates were missing from
the text. Every report the test suite renders or writes is checked (``conftest.reports_add_up``).
"""

from __future__ import annotations

import httpx
import respx

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.events.ledger import EventLedger, LedgerEvent, event_key
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.target import TargetBrevoTajo
from tests.brevo_sandbox import sandbox_config
from tests.report_checks import report_problems
from tests.singer_messages import EVENT_TIME, cohort, cohorts_input, event, member, singer_input

BREVO = "https://api.brevo.com/v3"


def accepted(request: httpx.Request) -> httpx.Response:
    count = request.content.count(b'"event_name"')
    return httpx.Response(202, json={"count": count, "message": "Events queued"})


def test_a_report_that_leaves_records_out_does_not_add_up():
    report = SyncReport()
    report.events.received, report.events.sent = 7890, 7787

    assert report.unbalanced() == {"events": 103}

    report.events.identity_events = 103
    assert report.unbalanced() == {}


def test_the_suites_check_refuses_a_report_whose_text_hides_a_count():
    report = SyncReport()
    report.events.received, report.events.sent = 7787, 4787
    report.events.deduplicated_by_ledger = 2200
    report.events.left_to_another_worker = 800
    data = report.to_dict()

    assert report_problems(data, "events: received 7787, sent 4787, deduplicated 2200") == [
        "the text does not say 'left to another worker 800' (events)"
    ]
    assert report_problems(data, report.render()) == []


def test_the_text_shows_every_count_that_is_not_zero():
    report = SyncReport()
    report.events.received = 103
    report.events.identity_events = 103
    report.contacts.from_cohort_members = 1032
    report.contacts.updated = 1032

    text = report.render()

    assert "events: received 103, sent 0," in text
    assert "identity events 103" in text
    assert "contacts: received 0, created 0, updated 1032" in text
    assert "from cohort members 1032" in text


def test_a_failed_run_says_what_it_left_for_the_rerun():
    report = SyncReport(status="failed", error="Brevo unreachable")
    report.events.received, report.events.sent = 10, 4

    assert "events: 6 not done when the run failed (the rerun does them)" in report.render()


@respx.mock(base_url=BREVO)
def test_identity_events_are_counted_in_the_balance_and_the_text(respx_mock, config):
    respx_mock.post("/events/batch").mock(side_effect=accepted)
    target = TargetBrevoTajo(config=config, parse_env_config=False)

    target.listen(
        singer_input(
            event("$identify", "i-1", "user-1", **{"$anon_id": "$device:d", "$identified_id": "u"}),
            event("Purchase", "p-1"),
        )
    )

    report = target.run.report
    assert report.unbalanced() == {}
    assert "events: received 2, sent 1," in report.render()
    assert "identity events 1" in report.render()


@respx.mock(base_url=BREVO)
def test_events_another_worker_claimed_are_counted_and_said(respx_mock, config):
    # The run waits one lease for the other worker's claim: 6 s here, not the default's 185 s.
    config = {**config, "request_timeout_seconds": 1, "events_settle_seconds": 0}
    respx_mock.post("/events/batch").mock(side_effect=accepted)
    key = event_key("Purchase", "a", EVENT_TIME)
    worker = Ledger(config["ledger_url"])  # alive, within its lease
    EventLedger(worker).open_call(
        "theirs", [LedgerEvent(key, "a", "Purchase", EVENT_TIME, b"{}")], 600
    )
    target = TargetBrevoTajo(config=config, parse_env_config=False)

    target.listen(singer_input(event("Purchase", "a"), event("Purchase", "b")))

    report = target.run.report
    assert (report.events.sent, report.events.left_to_another_worker) == (1, 1)
    assert report.unbalanced() == {}
    assert "left to another worker 1" in report.render()


def test_the_contacts_a_cohorts_job_writes_are_in_the_report(mapping_file, tmp_path):
    with SandboxServer(profiles=0, events=0, days=1) as sandbox:
        config = sandbox_config(
            sandbox, mapping_file, tmp_path, create_missing_attributes=True, import_poll_seconds=0
        )
        target = TargetBrevoTajo(config=config, parse_env_config=False)
        engaged = cohort(1, "Engaged Users (Last 7 Days)", "engaged_users")

        target.listen(cohorts_input(engaged, member(1, "user-1"), member(1, "user-2")))

    report = target.run.report
    assert report.unbalanced() == {}
    text = report.render()
    assert "contacts: received 0, created 2, updated 0" in text
    assert "from cohort members 2" in text
    assert "cohort members: received 2, added 2" in text

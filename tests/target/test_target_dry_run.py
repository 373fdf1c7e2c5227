"""A dry run changes nothing: no Brevo write, no ledger row, and no STATE that moves a bookmark.

Issue 10: a dry run passed the tap's STATE on, Meltano stored it, and the next dry run skipped
what the first had only counted. Its report also said "sent 6008, created 500".
"""

from __future__ import annotations

import json

import httpx
import respx

from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import event, singer_input

BREVO = "https://api.brevo.com/v3"
STATE = {"bookmarks": {"events": {"replication_key_value": "2026-11-20T00:00:00Z"}}}


def target_stdout(capsys, tmp_path, mapping_file, *, dry_run: bool) -> list[dict]:
    """The Singer messages the target writes for one event and a closing STATE."""
    config = {
        "api_key": "xkeysib-test",
        "mapping_file": str(mapping_file),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "dry_run": dry_run,
    }
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    capsys.readouterr()
    target.listen(singer_input(event("Purchase", "dry-1"), state=STATE))
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_a_dry_run_emits_no_state(respx_mock, capsys, tmp_path, mapping_file):
    route = respx_mock.post("/events/batch")

    emitted = target_stdout(capsys, tmp_path, mapping_file, dry_run=True)

    assert emitted == []
    assert route.call_count == 0


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_a_real_run_passes_the_state_on(respx_mock, capsys, tmp_path, mapping_file):
    """Pins the SDK internal the dry run overrides: every STATE goes through it."""
    respx_mock.post("/events/batch").mock(
        return_value=httpx.Response(202, json={"count": 1, "message": "Events queued"})
    )

    emitted = target_stdout(capsys, tmp_path, mapping_file, dry_run=False)

    assert emitted == [STATE]


def test_a_dry_run_report_says_what_it_would_have_done():
    report = SyncReport(dry_run=True)
    report.events.received = 2
    report.events.sent = 2
    report.events.sent_by_name["order_completed"] = 2
    report.contacts.received = 3
    report.contacts.created = 1
    report.contacts.updated = 2

    text = report.render()

    assert "events: received 2, would send 2," in text
    assert "would send order_completed: 2" in text
    assert "contacts: received 3, would create 1, would update 2" in text
    assert " sent " not in text
    assert "created" not in text
    assert report.to_dict()["events"]["sent"] == 2  # the JSON keeps its keys


def test_a_real_run_report_says_what_it_did():
    report = SyncReport()
    report.events.received = 1
    report.events.sent = 1
    report.contacts.received = 1
    report.contacts.created = 1

    text = report.render()

    assert "events: received 1, sent 1," in text
    assert "contacts: received 1, created 1, updated 0" in text
    assert "would" not in text

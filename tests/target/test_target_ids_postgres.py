"""On a PostgreSQL ledger, a record whose id the ledger cannot store is a reject, not a failed run.

Issue 17 item 11: an ``insert_id`` over 255 characters or a NUL in a ``distinct_id`` made
PostgreSQL refuse the statement of the whole batch, and every rerun failed at the same record.
"""

from __future__ import annotations

import json

import httpx
import respx

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import event, profile, profiles_input, singer_input
from tests.target.postgres import new_database

BREVO = "https://api.brevo.com/v3"


def queued(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"count": len(json.loads(request.content)["events"])})


def test_an_event_id_too_long_or_holding_nul_is_rejected_and_the_rest_is_sent(
    postgres,
    mapping_file,
    tmp_path,
):
    config = {
        "api_key": "xkeysib-test-secret",
        "mapping_file": str(mapping_file),
        "ledger_url": new_database(postgres),
        "rejects_file": str(tmp_path / "rejects.jsonl"),
    }
    records = [
        event("Purchase", "i" * 256),
        event("Purchase", "nul-1", "user-\x00-1"),
        event("Purchase", "good-1"),
    ]
    with respx.mock(base_url=BREVO) as brevo:
        brevo.post("/events/batch").mock(side_effect=queued)
        target = TargetBrevoTajo(config=config, parse_env_config=False)
        target.listen(singer_input(*records))
        target.finish()

    report = target.run.report
    assert report.status == "succeeded"
    assert report.events.sent == 1
    cannot_store = "which the ledger cannot store: fix the source"
    assert dict(report.events.rejected) == {
        f"$insert_id is longer than 255 characters, {cannot_store}": 1,
        f"distinct_id holds a NUL character, {cannot_store}": 1,
    }


def test_a_profile_whose_distinct_id_holds_nul_is_rejected_and_the_rest_imported(
    postgres,
    mapping_file,
    tmp_path,
):
    with SandboxServer(profiles=2, events=2, days=1) as sandbox:
        config = {
            "api_key": "sandbox-brevo-key",
            "base_url": f"{sandbox.url}/brevo/v3",
            "mapping_file": str(mapping_file),
            "ledger_url": new_database(postgres),
            "create_missing_attributes": True,
            "import_poll_seconds": 0,
        }
        target = TargetBrevoTajo(config=config, parse_env_config=False)
        target.listen(
            profiles_input(
                profile("user-\x00", **{"$email": "a@example.com"}),
                profile("user-2", **{"$email": "b@example.com"}),
            )
        )
        target.finish()

    assert target.run.report.status == "succeeded"
    assert target.run.report.rejected_records == {"profiles": 1}
    assert target.run.report.contacts.created == 1

"""The dry run is the plan: on the same input and ledger it counts what the real run then does.

Issue 17: a dry run said "would send 6225, skipped as anonymous 1562"; the real run then sent
7787. The dry run rolled back each ledger write, so the identity merges it read were gone when it
addressed the anonymous events, and nothing it "sent" deduplicated its later records.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import sandbox_config
from tests.singer_messages import (
    CHECKPOINTS_SCHEMA,
    COHORT_SCHEMAS,
    EVENTS_SCHEMA,
    GROUPS_SCHEMA,
    PROFILES_SCHEMA,
    checkpoint,
    cohort,
    event,
    member,
    profile,
)

# What differs between a dry run's report and the real run's without being a count.
NOT_COUNTS = {
    "status",
    "error",
    "run_id",
    "job_name",
    "started_at",
    "finished_at",
    "dry_run",
    "api_calls",
    "rate_budgets",
    "retries",
}
ENGAGED = cohort(1, "Engaged Users (Last 7 Days)", "engaged_users")  # lists.engaged_users: 16


pytestmark = pytest.mark.sandbox(profiles=0, events=0, days=1)


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    return sandbox_config(
        sandbox, mapping_file, tmp_path, create_missing_attributes=True, import_poll_seconds=0
    )


def singer(*records: dict[str, Any], complete_cohorts: dict[int, str] | None = None) -> io.StringIO:
    """Every schema, the records, the cohort snapshots confirmed complete, and a STATE."""
    confirmed = [
        checkpoint("cohort_members", str(cohort_id), "cohort_snapshot", snapshot)
        for cohort_id, snapshot in (complete_cohorts or {}).items()
    ]
    messages = [
        EVENTS_SCHEMA,
        PROFILES_SCHEMA,
        *COHORT_SCHEMAS,
        CHECKPOINTS_SCHEMA,
        *records,
        *confirmed,
        {"type": "STATE", "value": {"bookmarks": {}}},
    ]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def run(config: dict, messages: io.StringIO, **settings: Any) -> dict:
    target = TargetBrevoTajo(config={**config, **settings}, parse_env_config=False)
    target.listen(messages)
    return target.run.report.to_dict()


def without(report: dict, keys: set[str]) -> dict:
    return {key: value for key, value in report.items() if key not in keys}


def counts(report: dict) -> dict:
    return without(report, NOT_COUNTS)


def brevo_writes(sandbox: SandboxServer) -> list[str]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return [f"{c['method']} {c['path']}" for c in calls if c["method"] != "GET"]


EARLIER_RUN = (
    event("Purchase", "p-1", "user-1"),
    profile("$device:d9", **{"$email": "nine@example.com"}),
    profile("user-2", **{"$first_name": "Bo"}),
    ENGAGED,
    member(1, "user-2"),
    member(1, "user-5"),
)

THIS_INPUT = (
    # Anonymous events of a device that the $identify below ties to user-1: attributed to her.
    event("Page View", "v-1", "$device:d1"),
    event("Page View", "v-2", "$device:d1", time="2026-11-20T10:01:00Z"),
    event("$identify", "i-1", "user-1", **{"$anon_id": "$device:d1", "$identified_id": "user-1"}),
    event("Page View", "v-3", "$device:d2"),  # a device nobody identified: skipped
    event("Purchase", "p-1", "user-1"),  # the earlier run sent it
    event("Purchase", "p-2", "user-1"),
    event("Purchase", "p-2", "user-1"),  # the same event twice in the input
    event("Clicked Banner", "u-1", "user-1"),  # not in event_mapping
    event("Purchase", "", "user-1"),  # no $insert_id: rejected
    event("Sign Up", "s-1", "user-9", device_id="d9", user_id="user-9"),  # merges $device:d9
    profile("user-9", **{"$first_name": "Nina"}),  # the contact of $device:d9, carried over
    profile("user-2", **{"$first_name": "Bo"}),  # as the earlier run sent it
    profile("user-3", **{"$first_name": "Cy"}),
    profile("user-3", **{"$first_name": "Cyd"}),  # a later record of the same profile wins
    profile("", **{"$first_name": "Nobody"}),  # no distinct id: rejected
    ENGAGED,
    member(1, "user-2"),  # already in the list
    member(1, "user-3"),  # a contact this run creates
    member(1, "user-4"),  # not a contact yet: created through the contacts path
    member(1, "user-4"),
)


@pytest.mark.parametrize("list_reconcile_days", [7, 0], ids=["mirror", "reconciled"])
def test_a_dry_run_counts_what_the_real_run_then_does_on_the_same_input(
    sandbox, config, list_reconcile_days
):
    run(config, singer(*EARLIER_RUN, complete_cohorts={1: "S1"}))
    http.delete(f"{sandbox.url}/_sandbox/calls")
    config = {**config, "list_reconcile_days": list_reconcile_days}

    dry = run(config, singer(*THIS_INPUT, complete_cohorts={1: "S1"}), dry_run=True)
    writes_of_the_dry_run = brevo_writes(sandbox)
    real = run(config, singer(*THIS_INPUT, complete_cohorts={1: "S1"}))

    assert writes_of_the_dry_run == []
    assert (dry["status"], real["status"]) == ("dry_run", "succeeded")
    assert counts(dry) == counts(real)
    events = real["events"]
    assert (events["sent"], events["attributed_to_identified_user"]) == (4, 2)
    assert (events["skipped_anonymous"], events["deduplicated"], events["rejected"]) == (1, 2, 1)
    contacts = real["contacts"]
    assert (contacts["merged_identities"], contacts["unchanged"]) == (1, 1)
    assert (contacts["created"], contacts["from_cohort_members"]) == (2, 1)
    assert real["cohorts"][0]["removed"] == 1  # user-5 left the cohort (mirror)


def test_a_dry_run_leaves_the_ledger_file_as_it_found_it(config, tmp_path):
    run(config, singer(*EARLIER_RUN, complete_cohorts={1: "S1"}))
    ledger = tmp_path / "ledger.sqlite"
    before = ledger.read_bytes()
    files_before = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ledger"))

    run(config, singer(*THIS_INPUT, complete_cohorts={1: "S1"}), dry_run=True)

    assert ledger.read_bytes() == before
    files_after = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ledger"))
    assert files_after == files_before
    assert "ledger.sqlite-wal" not in files_after


def test_a_dry_run_counts_companies_as_the_real_run_then_does(config, mapping_file, tmp_path):
    groups_mapping = tmp_path / "groups.yml"
    groups_mapping.write_text(mapping_file.read_text().replace("groups: false", "groups: true"))
    config = {**config, "mapping_file": str(groups_mapping), "batch_size_rows": 2}
    run(config, companies_input(group("g1", "Acme"), profile("u1", company_id="g1")))
    # In batches of 2 records, g2 arrives again in a later batch, as it was.
    records = (
        group("g1", "Acme Corp"),
        group("g2", "Globex"),
        group("g3", "Initech"),
        group("g2", "Globex"),
        profile("u1", company_id="g1"),
        profile("u2", company_id="g2"),
    )

    dry = run(config, companies_input(*records), dry_run=True)
    real = run(config, companies_input(*records))

    calls = {"imports", "calls"}  # Brevo calls, like api_calls: a dry run makes none
    assert without(dry["companies"], calls) == without(real["companies"], calls)
    assert (real["companies"]["created"], real["companies"]["unchanged"]) == (2, 1)


def group(group_id: str, name: str) -> dict:
    record = {"group_key": "company_id", "group_id": group_id, "properties": {"$name": name}}
    return {"type": "RECORD", "stream": "groups", "record": record}


def companies_input(*records: dict) -> io.StringIO:
    messages = [GROUPS_SCHEMA, PROFILES_SCHEMA, *records, {"type": "STATE", "value": {}}]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))

"""End to end: `meltano run tap-mixpanel-tajo target-brevo-tajo` against the sandbox, twice.

Every mapped event of an identified user reaches Brevo exactly once; the second run re-reads the
lookback window, picks up the events that arrived late, and sends nothing again.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from mixpanel_brevo_sandbox.demo import (
    COHORTS_EXTRACTOR,
)
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.e2e.meltano import brevo_events, expected_in_brevo, meltano_run

pytestmark = pytest.mark.e2e


def test_every_mapped_event_reaches_brevo_exactly_once_across_two_runs(sandbox, tmp_path):
    suffix = f"e2e-{uuid.uuid4().hex[:8]}"
    today = dt.datetime.now(dt.timezone.utc).date()
    window = ((today - dt.timedelta(days=9)).isoformat(), today.isoformat())

    first = meltano_run(sandbox, tmp_path, suffix, 1)

    in_brevo = brevo_events(sandbox)
    assert set(in_brevo) == expected_in_brevo(sandbox, *window)
    assert max(in_brevo.values()) == 1
    assert first["events"]["sent"] == sum(in_brevo.values())
    assert first["events"]["skipped_anonymous"] > 0
    assert first["api_calls"]["POST /events/batch"] < first["events"]["sent"] / 100

    http.post(f"{sandbox.url}/_sandbox/clock", json={"advance_hours": 48}, timeout=30)
    second = meltano_run(sandbox, tmp_path, suffix, 2)

    after = brevo_events(sandbox)
    assert max(after.values()) == 1, "an event reached Brevo twice"
    late = set(after) - set(in_brevo)
    assert late, "the lookback re-read picked up no late-arriving event"
    assert set(after) == expected_in_brevo(sandbox, *window)
    assert second["events"]["sent"] == len(late)
    assert second["events"]["deduplicated_by_ledger"] > 0


def test_a_run_that_dies_midway_and_is_rerun_neither_loses_nor_doubles_an_event(sandbox, tmp_path):
    suffix = f"e2e-crash-{uuid.uuid4().hex[:8]}"
    today = dt.datetime.now(dt.timezone.utc).date()
    window = ((today - dt.timedelta(days=9)).isoformat(), today.isoformat())
    outage = {"api": "brevo", "path": "/events/batch", "kind": "status", "status": 503}
    http.post(f"{sandbox.url}/_sandbox/faults", json={**outage, "times": -1, "after": 5})

    failed = meltano_run(sandbox, tmp_path, suffix, 1, expect_failure=True, max_retries="1")

    assert "still unconfirmed" in failed["stderr"]  # looked up, then left in doubt
    partial = brevo_events(sandbox)
    assert 0 < sum(partial.values()) < len(expected_in_brevo(sandbox, *window))

    http.delete(f"{sandbox.url}/_sandbox/faults")
    rerun = meltano_run(sandbox, tmp_path, suffix, 2)

    in_brevo = brevo_events(sandbox)
    assert set(in_brevo) == expected_in_brevo(sandbox, *window)
    assert max(in_brevo.values()) == 1
    # The call left in doubt is settled first (its events resent), then recognised in the input.
    assert rerun["events"]["calls_in_doubt"] >= 1  # one per call in flight when it failed
    settled = rerun["events"]["resent_after_settling"]
    assert rerun["events"]["deduplicated_by_ledger"] == sum(partial.values()) + settled


def brevo_contacts(sandbox: SandboxServer) -> dict[str, dict]:
    contacts = http.get(f"{sandbox.url}/_sandbox/brevo/contacts", timeout=60).json()["contacts"]
    return {c["attributes"]["EXT_ID"]: c for c in contacts if "EXT_ID" in c["attributes"]}


def contact_imports(sandbox: SandboxServer) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=60).json()["calls"]
    http.delete(f"{sandbox.url}/_sandbox/calls", timeout=60)
    return sum(1 for c in calls if c["path"] == "/contacts/import")


def test_profiles_become_typed_contacts_and_only_changes_travel(sandbox, tmp_path):
    suffix = f"e2e-contacts-{uuid.uuid4().hex[:8]}"
    profiles = sandbox.state.mixpanel.profiles

    first = meltano_run(sandbox, tmp_path, suffix, 1)

    contacts = brevo_contacts(sandbox)
    assert set(contacts) == set(profiles)  # EXT_ID = the canonical distinct id, for everyone
    assert first["contacts"]["created"] == len(profiles)
    typed = next(c for c in contacts.values() if "SIGNUP_DATE" in c["attributes"])
    assert len(typed["attributes"]["SIGNUP_DATE"]) == 10  # YYYY-MM-DD
    assert all(isinstance(c["attributes"].get("LTV", 0.0), float) for c in contacts.values())
    assert all(c["attributes"].get("SMS", "+").startswith("+") for c in contacts.values())
    assert all(15 in c["listIds"] for c in contacts.values())  # lists.all_users
    contact_imports(sandbox)

    second = meltano_run(sandbox, tmp_path, suffix, 2)

    assert contact_imports(sandbox) == 0
    assert second["contacts"]["created"] + second["contacts"]["updated"] == 0

    changed = sorted(profiles)[0]
    clock = http.get(f"{sandbox.url}/_sandbox/clock").json()["now"][:19]
    http.post(
        f"{sandbox.url}/_sandbox/mixpanel/profiles",
        json={
            "profiles": [
                {
                    "$distinct_id": changed,
                    "$properties": {"plan": "enterprise", "$last_seen": clock},
                }
            ]
        },
    )
    third = meltano_run(sandbox, tmp_path, suffix, 3)

    assert third["contacts"]["updated"] == 1
    assert third["contacts"]["created"] == 0
    assert brevo_contacts(sandbox)[changed]["attributes"]["PLAN_TYPE"] == "enterprise"


def brevo_list(sandbox: SandboxServer, list_id: int) -> set[str]:
    lists = http.get(f"{sandbox.url}/_sandbox/brevo/lists", timeout=60).json()["lists"]
    members = next(lst["contactIds"] for lst in lists if lst["id"] == list_id)
    contacts = http.get(f"{sandbox.url}/_sandbox/brevo/contacts", timeout=60).json()["contacts"]
    ext_ids = {c["id"]: c["attributes"].get("EXT_ID") for c in contacts}
    return {ext_ids[m] for m in members}


def cohort_members(sandbox: SandboxServer, cohort_id: int) -> set[str]:
    """The cohort's members with a profile (what Engage returns with include_all_users=false)."""
    state = sandbox.state
    with state.lock:
        members = state.mixpanel.cohort_members(cohort_id, state.now) or []
        return {m for m in members if m in state.mixpanel.profiles}


def list_writes(sandbox: SandboxServer) -> list[str]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=60).json()["calls"]
    http.delete(f"{sandbox.url}/_sandbox/calls", timeout=60)
    writes = ("/contacts/import", "/contacts/add", "/contacts/remove")
    return [c["path"] for c in calls if c["path"].endswith(writes)]


def test_each_mapped_cohort_is_mirrored_into_its_list_and_only_changes_travel(sandbox, tmp_path):
    suffix = f"e2e-cohorts-{uuid.uuid4().hex[:8]}"
    engaged, at_risk = 1001, 1002  # the seed mapping's engaged_users -> 16, at_risk -> 17

    first = meltano_run(sandbox, tmp_path, suffix, 1, extractor=COHORTS_EXTRACTOR)

    assert brevo_list(sandbox, 16) == cohort_members(sandbox, engaged)
    assert brevo_list(sandbox, 17) == cohort_members(sandbox, at_risk)
    by_list = {c["listId"]: c for c in first["cohorts"]}
    assert by_list[16]["cohortName"] == "Engaged Users (Last 7 Days)"
    assert by_list[16]["membersCount"] == by_list[16]["syncedToBrevo"] > 0
    list_writes(sandbox)

    meltano_run(sandbox, tmp_path, suffix, 2, extractor=COHORTS_EXTRACTOR)
    assert list_writes(sandbox) == []

    leaver = sorted(cohort_members(sandbox, at_risk))[0]
    clock = http.get(f"{sandbox.url}/_sandbox/clock").json()["now"][:19]
    back = {"$distinct_id": leaver, "$properties": {"$last_seen": clock}}
    http.post(f"{sandbox.url}/_sandbox/mixpanel/profiles", json={"profiles": [back]})
    before = brevo_list(sandbox, 17)

    third = meltano_run(sandbox, tmp_path, suffix, 3, extractor=COHORTS_EXTRACTOR)

    assert before - brevo_list(sandbox, 17) == {leaver}
    assert brevo_list(sandbox, 17) == cohort_members(sandbox, at_risk)
    assert {c["listId"]: c["removed"] for c in third["cohorts"]}[17] == 1


def test_additive_cohort_sync_never_removes(sandbox, tmp_path):
    suffix = f"e2e-additive-{uuid.uuid4().hex[:8]}"
    meltano_run(
        sandbox, tmp_path, suffix, 1, extractor=COHORTS_EXTRACTOR, cohort_sync_mode="additive"
    )
    leaver = sorted(cohort_members(sandbox, 1002))[0]
    clock = http.get(f"{sandbox.url}/_sandbox/clock").json()["now"][:19]
    back = {"$distinct_id": leaver, "$properties": {"$last_seen": clock}}
    http.post(f"{sandbox.url}/_sandbox/mixpanel/profiles", json={"profiles": [back]})

    meltano_run(
        sandbox, tmp_path, suffix, 2, extractor=COHORTS_EXTRACTOR, cohort_sync_mode="additive"
    )

    assert leaver in brevo_list(sandbox, 17)

"""Creations in doubt: a companies import (or a list, an attribute) whose answer never came.

Brevo companies have no external id, so an import that creates them is not idempotent: resent
blindly after a lost answer, it makes every company twice. Its groups are recorded in the ledger
before it leaves; when the answer never comes (this run, or a run killed mid-import), the
companies are looked up by the group attribute, the found ones mapped, only the missing imported.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.brevo import BrevoClient, CallInDoubt
from target_brevo_tajo.companies.ledger import CompanyLedger
from target_brevo_tajo.companies.lookup import FILTERED_LOOKUPS
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.ledger.schema import companies
from target_brevo_tajo.lists.api import BrevoLists
from target_brevo_tajo.report import render_report
from tests.admin_http import http
from tests.brevo_sandbox import add_fault, run, target_config
from tests.conftest import MAPPING_FILE
from tests.singer_messages import profile, profiles_input
from tests.target.companies_messages import ADA, group, member, pipeline

ROOT = Path(__file__).resolve().parents[2]
GROUP_ATTRIBUTE = "mixpanel_group"  # the internal name Brevo gives the label "Mixpanel group"


pytestmark = pytest.mark.sandbox(profiles=5, events=10, days=1)


@pytest.fixture
def config(sandbox, tmp_path: Path) -> dict:
    config = target_config(
        sandbox, tmp_path, MAPPING_FILE.read_text().replace("groups: false", "groups: true")
    )
    settle_at_once = {"events_settle_seconds": 0, "request_timeout_seconds": 5}
    return {**config, **settle_at_once, "max_retries": 1, "max_retry_wait_seconds": 0.01}


def clear_faults(sandbox: SandboxServer) -> None:
    http.delete(f"{sandbox.url}/_sandbox/faults")


def companies_per_group(sandbox: SandboxServer) -> Counter[str]:
    """How many Brevo companies hold each Mixpanel group."""
    with sandbox.state.lock:
        companies = sandbox.state.brevo.crm.companies.values()
        return Counter(str(c["attributes"].get(GROUP_ATTRIBUTE)) for c in companies)


def imports_sent(sandbox: SandboxServer) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return sum(1 for c in calls if c["method"] == "POST" and c["path"] == "/companies/import")


def group_filters(sandbox: SandboxServer) -> list[str]:
    """The group values ``GET /companies`` calls were filtered by."""
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    key = f"filters[attributes.{GROUP_ATTRIBUTE}]"
    return [c["query"][key] for c in calls if c["path"] == "/companies" and key in c["query"]]


@pytest.mark.parametrize("groups", [2, 40], ids=["looked-up-one-by-one", "looked-up-by-listing"])
def test_a_companies_import_whose_answer_is_lost_leaves_exactly_one_company_per_group(
    sandbox, config, groups
):
    add_fault(sandbox, method="POST", path="/companies/import", kind="after_processing",
              status=502)  # fmt: skip
    records = [group(f"c-{n}", f"Company {n}") for n in range(groups)]
    users = [member(f"u-{n}", f"c-{n}") for n in range(groups)]

    target = run(config, pipeline(records, users))

    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(groups)}
    report = target.run.report.companies
    assert (report.created, report.links_added) == (groups, groups)
    if groups <= FILTERED_LOOKUPS:  # each group looked up by the attribute the target sets
        assert set(group_filters(sandbox)) >= {f"company_id:c-{n}" for n in range(groups)}
    rerun = run(config, pipeline(records, users))  # every group mapped: nothing to create
    assert (rerun.run.report.companies.created, rerun.run.report.companies.unchanged) == (0, groups)
    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(groups)}


def test_an_import_brevo_never_processed_is_sent_again_once_two_looks_found_none_of_it(
    sandbox, config
):
    add_fault(sandbox, method="POST", path="/companies/import", kind="status", status=502)
    records = [group(f"c-{n}", f"Company {n}") for n in range(10)]

    target = run(config, pipeline(records, []))

    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(10)}
    assert target.run.report.companies.created == 10
    assert imports_sent(sandbox) == 2  # the one lost, then the one after two looks


def test_an_import_brevo_refused_leaves_no_group_in_doubt_for_the_next_run_to_wait_on(
    sandbox, config
):
    add_fault(sandbox, method="POST", path="/companies/import", kind="status", status=400)

    with pytest.raises(Exception, match="HTTP 400"):
        run(config, pipeline([group("c-1", "Acme")], []))

    assert CompanyLedger(Ledger(config["ledger_url"])).in_doubt("company_id") == {}


def stopped_mid_import(sandbox: SandboxServer, config: dict, groups: int) -> io.StringIO:
    """A run that stops with its import in doubt in the ledger, Brevo holding the companies.

    The import is processed, its answer lost, and the look-up fails: no group is mapped, as
    after a kill. Returns the same input, for the rerun.
    """
    add_fault(sandbox, method="POST", path="/companies/import", kind="after_processing",
              status=502)  # fmt: skip
    add_fault(sandbox, method="GET", path="/companies", kind="status", status=503, times=-1)
    records = [group(f"c-{n}", f"Company {n}") for n in range(groups)]
    users = [member(f"u-{n}", f"c-{n}") for n in range(groups)]
    with pytest.raises(Exception, match="HTTP 503"):
        run(config, pipeline(records, users))
    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(groups)}
    in_doubt = CompanyLedger(Ledger(config["ledger_url"])).in_doubt("company_id")
    assert sorted(in_doubt) == sorted(f"c-{n}" for n in range(groups))
    clear_faults(sandbox)
    http.delete(f"{sandbox.url}/_sandbox/calls")
    return pipeline(records, users)


def test_a_dry_run_after_a_stopped_import_plans_what_the_rerun_finds_and_leaves_it_to_it(
    sandbox, config
):
    again = stopped_mid_import(sandbox, config, 5)

    dry = run({**config, "dry_run": True}, again)

    assert (dry.run.report.companies.found_not_created, dry.run.report.companies.created) == (5, 0)
    assert imports_sent(sandbox) == 0
    again.seek(0)
    real = run(config, again)
    assert (real.run.report.companies.found_not_created, real.run.report.companies.created) == (
        5,
        0,
    )
    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(5)}


def test_a_run_stopped_mid_import_is_settled_by_the_rerun_which_finds_the_companies_and_makes_none(
    sandbox, config
):
    again = stopped_mid_import(sandbox, config, 30)

    rerun = run(config, again)

    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(30)}
    report = rerun.run.report.companies
    assert (report.found_not_created, report.created, report.unchanged) == (30, 0, 30)
    assert report.links_added == 30
    assert imports_sent(sandbox) == 1  # the links only: no company imported again
    text = render_report(rerun.run.report.to_dict())
    assert (
        "found in Brevo after an earlier import's answer was lost, mapped, not created again: 30"
        in text
    )


def test_a_target_killed_while_brevo_answers_its_import_is_settled_by_the_rerun(
    sandbox, config, tmp_path
):
    # Brevo processes the import at once and holds its answer 5 s: the kill lands before it.
    add_fault(sandbox, method="POST", path="/companies/import", kind="after_processing",
              delay_seconds=5)  # fmt: skip
    records = [group(f"c-{n}", f"Company {n}") for n in range(50)]
    users = [member(f"u-{n}", f"c-{n}") for n in range(50)]
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "input.jsonl").write_text(pipeline(records, users).getvalue())
    command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(tmp_path / "config.json"),
               "--input", str(tmp_path / "input.jsonl")]  # fmt: skip
    process = subprocess.Popen(
        command, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while sum(companies_per_group(sandbox).values()) < 50:
        assert process.poll() is None, "the target ended before its import was answered"
        assert time.monotonic() < deadline, "the import never reached Brevo"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    clear_faults(sandbox)

    rerun = run(config, pipeline(records, users))

    assert companies_per_group(sandbox) == {f"company_id:c-{n}": 1 for n in range(50)}
    report = rerun.run.report.companies
    assert (report.found_not_created, report.created, report.links_added) == (50, 0, 50)


def linked_then_in_doubt(sandbox: SandboxServer, config: dict) -> CompanyLedger:
    """Three companies linked to a user each; then an import of c-9 in doubt, as a groups run
    that is importing it right now (or was killed doing so) leaves it."""
    records = [group(f"c-{n}", f"Company {n}") for n in range(3)]
    run(config, pipeline(records, [member(f"u-{n}", f"c-{n}") for n in range(3)]))
    ledger = CompanyLedger(Ledger(config["ledger_url"]))
    ledger.record_in_doubt("company_id", {"c-9": "sent"})
    http.delete(f"{sandbox.url}/_sandbox/calls")
    return ledger


def test_a_profiles_run_moves_links_without_waiting_for_another_runs_import_still_going(
    sandbox, config
):
    ledger = linked_then_in_doubt(sandbox, config)
    patient = {**config, "request_timeout_seconds": 60}  # the import's answer may take 60 s
    started = time.monotonic()

    moved = run(patient, pipeline([], [member("u-0", "c-1")]))  # u-0 moves from c-0 to c-1

    assert time.monotonic() - started < 30, "the run waited for the other run's import"
    report = moved.run.report.companies
    assert (report.links_removed, report.links_added) == (1, 1)
    assert set(ledger.in_doubt("company_id")) == {"c-9"}  # left to the run importing it
    assert "company_id:c-9" not in group_filters(sandbox)


def test_a_profiles_run_settles_an_import_in_doubt_older_than_its_answer_could_take(
    sandbox, config
):
    ledger = linked_then_in_doubt(sandbox, config)
    with Ledger(config["ledger_url"]).engine.begin() as conn:  # recorded 10 s ago: timed out
        conn.execute(
            sa.update(companies)
            .where(companies.c.group_id == "c-9")
            .values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=10))
        )

    moved = run(config, pipeline([], [member("u-0", "c-1")]))

    assert (moved.run.report.companies.links_removed, moved.run.report.companies.links_added) == (
        1,
        1,
    )
    assert ledger.in_doubt("company_id") == {}  # Brevo holds no c-9: imported anew next time
    assert "company_id:c-9" in group_filters(sandbox)


def test_duplicates_an_earlier_run_made_are_reported_by_group_and_left_in_place(sandbox, config):
    run(config, pipeline([group("c-1", "Acme"), group("c-2", "Globex")], []))
    with sandbox.state.lock:  # an earlier run resent an import blindly: c-1 twice
        companies = sandbox.state.brevo.crm.companies
        (acme,) = [c for c in companies.values() if c["attributes"]["name"] == "Acme"]
        twin = {**acme, "id": "f" * 24, "attributes": {**acme["attributes"]}}
        companies[twin["id"]] = twin

    refresh = [group("c-1", "Acme", "R2"), group("c-2", "Globex", "R2")]
    target = run(config, pipeline(refresh, [], complete_refresh="R2"))

    assert companies_per_group(sandbox) == {"company_id:c-1": 2, "company_id:c-2": 1}  # kept
    report = target.run.report.to_dict()
    assert report["companies"]["duplicates"] == {"company_id:c-1": ["f" * 24]}
    text = render_report(report)
    assert "companies duplicated in Brevo by an earlier run: 1 (group ids c-1;" in text


def brevo_lists(sandbox: SandboxServer, name: str) -> list[dict]:
    lists = http.get(f"{sandbox.url}/_sandbox/brevo/lists").json()["lists"]
    return [lst for lst in lists if lst["name"] == name]


@pytest.mark.parametrize("lost", ["/contacts/lists", "/contacts/folders"])
def test_a_list_creation_whose_answer_is_lost_creates_one_list(sandbox, lost):
    add_fault(sandbox, method="POST", path=lost, kind="after_processing", status=502)
    client = BrevoClient(f"{sandbox.url}/brevo/v3", "sandbox-brevo-key", sleep=lambda _: None)

    list_id = BrevoLists(client, dry_run=False).find_or_create("Churn risk", "Mixpanel cohorts")

    (created,) = brevo_lists(sandbox, "Churn risk")
    assert created["id"] == list_id
    folders = http.get(f"{sandbox.url}/_sandbox/brevo/lists").json()["folders"]
    assert [f["name"] for f in folders].count("Mixpanel cohorts") == 1


def test_a_company_attribute_whose_creation_answer_is_lost_is_created_once(sandbox, config):
    add_fault(sandbox, method="POST", path="/crm/attributes", kind="after_processing", status=502)

    target = run(config, pipeline([group("c-1", "Acme")], []))

    with sandbox.state.lock:
        labels = [a["label"] for a in sandbox.state.brevo.crm.attributes]
    assert labels.count("Mixpanel group") == 1
    assert target.run.report.companies.created == 1


def test_a_contact_attribute_whose_creation_answer_is_lost_is_created_once(sandbox, config):
    add_fault(sandbox, method="POST", path="/contacts/attributes/normal/LTV",
              kind="after_processing", status=502)  # fmt: skip

    target = run(config, profiles_input(profile("user-1", **ADA)))

    with sandbox.state.lock:
        listed = list(sandbox.state.brevo.attributes)
    assert [a["name"] for a in listed].count("LTV") == 1
    assert target.run.report.contacts.created == 1


def test_a_post_whose_answer_is_lost_is_in_doubt_unless_it_says_it_is_idempotent(respx_mock):
    route = respx_mock.post("https://brevo.test/v3/contacts/lists").mock(
        return_value=httpx.Response(502)
    )
    client = BrevoClient("https://brevo.test/v3", "k", sleep=lambda _: None, max_retries=2)

    with pytest.raises(CallInDoubt):
        client.call("POST", "/contacts/lists", json={"name": "x", "folderId": 1})
    assert route.call_count == 1  # never resent blindly

    with pytest.raises(Exception, match="after 3 attempts"):
        client.call("POST", "/contacts/lists", json={"name": "x"}, idempotent=True)
    assert route.call_count == 1 + 3  # a POST that says it is idempotent is retried


def test_the_sandbox_filters_companies_by_attribute_in_the_specs_json_form_and_brevo_nodes(
    sandbox, config
):
    run(config, pipeline([group("c-1", "Acme"), group("c-2", "Globex")], []))
    base, headers = f"{sandbox.url}/brevo/v3/companies", {"api-key": "sandbox-brevo-key"}
    spec_form = {"filters": json.dumps({f"attributes.{GROUP_ATTRIBUTE}": "company_id:c-2"})}
    node_form = {f"filters[attributes.{GROUP_ATTRIBUTE}]": "company_id:c-2"}
    for params in (spec_form, node_form):
        items = http.get(base, params=params, headers=headers).json()["items"]
        assert [c["attributes"]["name"] for c in items] == ["Globex"]

"""Cohort lists against the sandbox's Brevo: the target acts only on what Brevo answered."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.lists.ledger import ListLedger
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import add_fault, run, target_config
from tests.singer_messages import cohort, cohorts_input, member, profile, profiles_input

ENGAGED = cohort(1, "Engaged Users (Last 7 Days)", "engaged_users")  # lists.engaged_users: 16
LISTING = "/contacts/lists/16/contacts"


pytestmark = pytest.mark.sandbox(profiles=5, events=20, days=1)


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    config = target_config(sandbox, tmp_path, mapping_file.read_text())
    return {**config, "report_file": str(tmp_path / "report.json")}


def members(*ids: str, snapshot: str = "S1") -> list[dict]:
    return [member(1, i, snapshot, **{"$email": f"{i}@example.com"}) for i in ids]


def cohort_report(target: TargetBrevoTajo) -> dict:
    (line,) = target.run.report.to_dict()["cohorts"]
    return line


def list_16(sandbox: SandboxServer) -> set[str]:
    lists = http.get(f"{sandbox.url}/_sandbox/brevo/lists").json()["lists"]
    contacts = http.get(f"{sandbox.url}/_sandbox/brevo/contacts").json()["contacts"]
    ext_ids = {c["id"]: c["attributes"]["EXT_ID"] for c in contacts}
    (engaged,) = [lst for lst in lists if lst["id"] == 16]
    return {ext_ids[i] for i in engaged["contactIds"]}


def calls(sandbox: SandboxServer, suffix: str) -> list[dict]:
    logged = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return [c for c in logged if c["path"].endswith(suffix)]


def test_a_listing_without_attributes_removes_no_member_it_cannot_identify(sandbox, config):
    ids = [f"m{i:03d}" for i in range(516)]
    add_fault(sandbox, method="GET", path=LISTING, kind="without_attributes", times=-1)

    target = run(config, cohorts_input(ENGAGED, *members(*ids), complete={1: "S1"}))

    assert list_16(sandbox) == set(ids)
    assert calls(sandbox, "/contacts/remove") == []
    assert cohort_report(target)["reconciled"] is True
    assert cohort_report(target)["membersNotIdentified"] == 516
    assert "members not identified, left in the list: 516" in target.run.report.render()


def test_members_are_reconciled_by_brevo_id_through_the_ledger_when_attributes_are_not_listed(
    sandbox, config
):
    run(config, cohorts_input(ENGAGED, *members("a", "b", "c"), complete={1: "S1"}))
    add_fault(sandbox, method="GET", path=LISTING, kind="without_attributes", times=-1)

    target = run(
        {**config, "list_reconcile_days": 0},
        cohorts_input(ENGAGED, *members("a", "b", snapshot="S2"), complete={1: "S2"}),
    )

    assert list_16(sandbox) == {"a", "b"}
    assert cohort_report(target)["removed"] == 1
    assert cohort_report(target)["membersNotIdentified"] == 0


def test_an_add_brevo_refuses_for_another_reason_stops_the_run_instead_of_reimporting(
    sandbox, config
):
    run(config, profiles_input(profile("a", **{"$email": "a@example.com"})))
    imports_before = len(calls(sandbox, "/contacts/import"))
    add_fault(
        sandbox,
        method="POST",
        path="/contacts/lists/16/contacts/add",
        kind="status",
        status=400,
        headers={"Content-Type": "application/json"},
        body='{"code": "permission_denied", "message": "Lists are locked on this account"}',
    )

    with pytest.raises(SystemExit) as stopped:
        TargetBrevoTajo.invoke(
            config=SimpleNamespace(config=config, parse_env=False),
            file_input=cohorts_input(ENGAGED, *members("a"), complete={1: "S1"}),
        )

    assert "POST /brevo/v3/contacts/lists/16/contacts/add with HTTP 400" in str(stopped.value)
    assert "permission_denied" in str(stopped.value)
    assert len(calls(sandbox, "/contacts/import")) == imports_before
    assert "a" not in list_16(sandbox)


def test_only_the_ids_brevo_answers_as_failures_are_imported_into_the_list(sandbox, config):
    run(
        config,
        profiles_input(*(profile(i, **{"$email": f"{i}@example.com"}) for i in ("a", "b"))),
    )
    contacts = http.get(f"{sandbox.url}/_sandbox/brevo/contacts").json()["contacts"]
    b_id = next(c["id"] for c in contacts if c["attributes"]["EXT_ID"] == "b")
    http.delete(  # deleted by hand in Brevo: the ledger still knows b as a contact
        f"{sandbox.url}/brevo/v3/contacts/{b_id}", headers={"api-key": "sandbox-brevo-key"}
    ).raise_for_status()

    target = run(config, cohorts_input(ENGAGED, *members("a", "b"), complete={1: "S1"}))

    assert list_16(sandbox) == {"a", "b"}
    assert cohort_report(target)["createdContacts"] == 1  # b, Brevo's only failure


def test_a_removal_brevo_refuses_stops_the_run_and_the_ledger_keeps_the_member(sandbox, config):
    run(config, cohorts_input(ENGAGED, *members("a", "b", "c"), complete={1: "S1"}))
    add_fault(
        sandbox,
        method="POST",
        path="/contacts/lists/16/contacts/remove",
        kind="status",
        status=400,
        headers={"Content-Type": "application/json"},
        body='{"code": "permission_denied", "message": "Lists are locked on this account"}',
    )

    with pytest.raises(SystemExit, match="contacts/remove with HTTP 400"):
        TargetBrevoTajo.invoke(
            config=SimpleNamespace(config=config, parse_env=False),
            file_input=cohorts_input(
                ENGAGED, *members("a", "b", snapshot="S2"), complete={1: "S2"}
            ),
        )

    assert list_16(sandbox) == {"a", "b", "c"}
    assert ListLedger(Ledger(config["ledger_url"])).list_members(16) == {
        "a",
        "b",
        "c",
    }  # c: removed next run

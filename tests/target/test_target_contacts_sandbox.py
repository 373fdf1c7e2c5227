"""Contacts against the sandbox's Brevo: missing attributes stop the run, left-out values return."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import run, target_config
from tests.singer_messages import event, profile, profiles_input, singer_input
from tests.target.companies_messages import ADA

# The shipped mapping's attributes a fresh Brevo account lacks (it has FIRSTNAME, LASTNAME, SMS).
MISSING_ON_A_FRESH_ACCOUNT = ("CITY", "REGION", "COUNTRY", "PLAN_TYPE", "COMPANY", "SIGNUP_DATE")


pytestmark = pytest.mark.sandbox(profiles=5, events=20, days=1)


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    """The shipped mapping, ``create_missing_attributes`` left at its default (off)."""
    config = target_config(sandbox, tmp_path, mapping_file.read_text())
    del config["create_missing_attributes"]
    return {**config, "report_file": str(tmp_path / "report.json")}


def invoke(config: dict, messages) -> None:
    TargetBrevoTajo.invoke(
        config=SimpleNamespace(config=config, parse_env=False), file_input=messages
    )


def calls(sandbox: SandboxServer) -> list[dict]:
    return http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]


def contacts(sandbox: SandboxServer) -> dict[str, dict]:
    listed = http.get(f"{sandbox.url}/_sandbox/brevo/contacts").json()["contacts"]
    return {c["attributes"]["EXT_ID"]: c for c in listed}


def create_attributes(sandbox: SandboxServer, *names: str) -> None:
    for name in names:
        kind = {"SIGNUP_DATE": "date", "LTV": "float"}.get(name, "text")
        response = http.post(
            f"{sandbox.url}/brevo/v3/contacts/attributes/normal/{name}",
            headers={"api-key": "sandbox-brevo-key"},
            json={"type": kind},
        )
        assert response.status_code == 201, response.text


def test_the_shipped_mapping_on_a_fresh_account_stops_before_any_contact_write_naming_them_all(
    sandbox, config
):
    with pytest.raises(SystemExit) as stopped:
        invoke(config, profiles_input(profile("user-1", **ADA)))

    message = str(stopped.value)
    assert "\n" not in message
    for name in (*MISSING_ON_A_FRESH_ACCOUNT, "LTV"):
        assert name in message
    assert "create them in Brevo" in message
    assert "create_missing_attributes: true" in message
    assert contacts(sandbox) == {}
    assert not [c for c in calls(sandbox) if c["method"] != "GET"]


def test_once_the_attributes_exist_the_same_profiles_are_sent_whole(sandbox, config):
    with pytest.raises(SystemExit):
        invoke(config, profiles_input(profile("user-1", **ADA)))
    create_attributes(sandbox, *MISSING_ON_A_FRESH_ACCOUNT, "LTV")

    invoke(config, profiles_input(profile("user-1", **ADA)))

    attributes = contacts(sandbox)["user-1"]["attributes"]
    assert attributes["CITY"] == "Paris"
    assert attributes["PLAN_TYPE"] == "pro"
    assert attributes["LTV"] == 1234.5


def test_an_events_only_run_never_reads_the_contact_attributes(sandbox, config):
    run({**config, "anonymous_events": "send"}, singer_input(event("Purchase", "p-1", "user-1")))

    assert [c for c in calls(sandbox) if c["path"].endswith("/events/batch")]
    assert not [c for c in calls(sandbox) if "/contacts/attributes" in c["path"]]


def test_a_value_left_out_is_sent_at_the_next_run_once_brevo_can_take_it(sandbox, config):
    create_attributes(sandbox, *MISSING_ON_A_FRESH_ACCOUNT, "LTV")
    shared_phone = "+33612345678"
    run(
        config,
        profiles_input(
            profile("owner", **{"$email": "owner@example.com", "$phone": shared_phone}),
            profile("second", **{"$email": "second@example.com", "$phone": shared_phone}),
        ),
    )
    assert "SMS" not in contacts(sandbox)["second"]["attributes"]  # the owner holds the number

    unchanged = run(config, profiles_input())  # nothing new: the number is still taken
    assert not [c for c in calls(sandbox) if c["path"].endswith("/contacts/import")][1:]
    assert unchanged.run.report.contacts.left_out_waiting == 1

    # The owner changes number; the second profile is not read again (it did not change).
    moved = run(
        config,
        profiles_input(
            profile("owner", **{"$email": "owner@example.com", "$phone": "+33699999999"})
        ),
    )

    assert contacts(sandbox)["second"]["attributes"]["SMS"] == shared_phone
    assert moved.run.report.contacts.left_out_resent == 1
    assert moved.run.report.contacts.left_out_waiting == 0
    assert "sent again from the ledger" in moved.run.report.render()

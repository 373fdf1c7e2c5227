"""The target against the sandbox's Brevo: real HTTP, every request checked against the spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.brevo_sandbox import run, sandbox_config
from tests.singer_messages import event, profile, profiles_input, singer_input

pytestmark = pytest.mark.sandbox(profiles=20, events=200, days=2)


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    settings = {"create_missing_attributes": True, "anonymous_events": "send"}
    return sandbox_config(sandbox, mapping_file, tmp_path, import_poll_seconds=0, **settings)


def contacts(sandbox: SandboxServer) -> list[dict]:
    return http.get(f"{sandbox.url}/_sandbox/brevo/contacts").json()["contacts"]


def test_an_anonymous_contact_becomes_the_user_who_logged_in_not_a_second_contact(sandbox, config):
    run(config, profiles_input(profile("$device:d1", **{"$email": "anon@example.com"})))
    run(config, singer_input(event("Sign Up", "i-1", "user-1", device_id="d1", user_id="user-1")))

    target = run(config, profiles_input(profile("user-1", **{"$first_name": "Ada"})))

    (contact,) = contacts(sandbox)
    assert contact["attributes"]["EXT_ID"] == "user-1"
    assert contact["email"] == "anon@example.com"
    assert target.run.report.contacts.merged == 1


def test_every_request_the_target_sends_passes_the_sandboxs_spec_checks(sandbox, config):
    run(config, profiles_input(profile("user-2", **{"$email": "b@example.com", "plan": "pro"})))
    run(config, singer_input(event("Purchase", "p-1", "user-2", price=1.5)))

    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    assert calls
    assert all(c["status"] < 400 for c in calls), [c for c in calls if c["status"] >= 400]

"""The target authenticated by Brevo OAuth alone (issue 21 item 5): one way to authenticate, a run
against the sandbox whose tokens expire mid-run, and no secret or token in what a run writes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import respx

from mixpanel_brevo_sandbox.brevo_oauth import CLIENT_ID, CLIENT_SECRET
from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.settings.credentials import credentials_problem
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import add_fault, in_brevo, run, sandbox_config
from tests.singer_messages import event, singer_input
from tests.target.cli import assert_one_line_error, run_cli

# Tokens of 2 s (renewed 0.2 s before they expire) and batches of 5 events paced to 10 calls a
# second: 150 events take 30 calls, about 3 s, so the run renews its token at least once.
LIFETIME = 2
EVENTS = 150
pytestmark = pytest.mark.sandbox(
    profiles=5, events=10, days=1, brevo_token_lifetime_seconds=LIFETIME
)
OAUTH = {"brevo_oauth_client_id": CLIENT_ID, "brevo_oauth_client_secret": CLIENT_SECRET}


@pytest.fixture
def oauth_config(sandbox: SandboxServer, mapping_file: Path, tmp_path: Path) -> dict:
    config = sandbox_config(
        sandbox,
        mapping_file,
        tmp_path,
        events_batch_size=5,
        report_file=str(tmp_path / "report.json"),
        rejects_file=str(tmp_path / "rejects.jsonl"),
        **OAUTH,
    )
    del config["api_key"]
    return config


def purchases(count: int) -> list[dict]:
    return [event("Purchase", f"p-{i}", f"user-{i % 7}", price=i) for i in range(count)]


def test_a_run_with_oauth_only_renews_its_token_mid_run_and_sends_every_event_once(
    sandbox, oauth_config, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)

    TargetBrevoTajo.invoke(
        config=SimpleNamespace(config=oauth_config, parse_env=False),
        file_input=singer_input(*purchases(EVENTS)),
    )

    assert in_brevo(sandbox) == {f"p-{i}": 1 for i in range(EVENTS)}
    tokens = sandbox.state.brevo_tokens
    assert tokens.issued >= 2, "the run never renewed its token"
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    api_calls = [c for c in calls if c["api"] == "brevo"]
    assert [c for c in api_calls if c["status"] >= 400] == []  # renewed before, never refused
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["events"]["sent"] == EVENTS
    assert report["api_calls"]["total"] == len(api_calls)  # token calls are not API calls
    assert "/brevo/realms/partner/oauth/token" in caplog.text  # the DEBUG lines of token calls
    written = [caplog.text, (tmp_path / "report.json").read_text()]
    for secret in [CLIENT_SECRET, *tokens.expiry]:
        assert all(secret not in text for text in written)


def test_a_token_endpoint_failing_for_a_while_is_retried_and_the_run_completes(
    sandbox, oauth_config
):
    add_fault(sandbox, api="brevo_oauth", kind="status", status=503, times=2)

    target = run({**oauth_config, "max_retry_wait_seconds": 0.1}, singer_input(*purchases(3)))

    assert in_brevo(sandbox) == {"p-0": 1, "p-1": 1, "p-2": 1}
    assert target.run.client.retries == 2
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    assert [c["status"] for c in calls if c["api"] == "brevo_oauth"] == [503, 503, 200]


def test_an_answer_echoing_the_token_is_redacted_in_the_log_the_report_and_the_exit_line(
    config, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    config = {k: v for k, v in config.items() if k != "api_key"} | OAUTH
    config |= {"report_file": str(tmp_path / "report.json"), "max_retries": 0}
    issued = "brevo-access-token-0123456789"
    with respx.mock(base_url="https://api.brevo.com") as brevo:
        brevo.post("/realms/partner/oauth/token").mock(
            return_value=httpx.Response(200, json={"access_token": issued, "expires_in": 3600})
        )
        echo = {"code": "unauthorized", "message": f"token {issued} refused for {CLIENT_SECRET}"}
        brevo.post("/v3/events/batch").mock(return_value=httpx.Response(401, json=echo))
        with pytest.raises(SystemExit) as ended:
            TargetBrevoTajo.invoke(
                config=SimpleNamespace(config=config, parse_env=False),
                file_input=singer_input(*purchases(1)),
            )

    exit_line = str(ended.value)
    assert "Brevo rejected a fresh OAuth token (HTTP 401: token *** refused for ***)" in exit_line
    for text in (caplog.text, (tmp_path / "report.json").read_text(), exit_line):
        assert issued not in text
        assert CLIENT_SECRET not in text


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, "no Brevo credentials: set api_key, or brevo_oauth_client_id and"),
        (
            {"brevo_oauth_client_id": CLIENT_ID},
            "brevo_oauth_client_id is set without brevo_oauth_client_secret: set both, or api_key",
        ),
        (
            {"brevo_oauth_client_secret": CLIENT_SECRET},
            "brevo_oauth_client_secret is set without brevo_oauth_client_id: set both, or api_key",
        ),
        (
            {"api_key": "xkeysib-k", **OAUTH},
            "api_key and brevo_oauth_client_id and brevo_oauth_client_secret are set: "
            "authenticate one way",
        ),
    ],
)
def test_missing_half_or_two_ways_to_authenticate_end_in_one_error_line(
    config, tmp_path, credentials, expected
):
    config = {k: v for k, v in config.items() if k != "api_key"} | credentials

    result = run_cli(config, tmp_path, b"")

    assert_one_line_error(result, expected)
    assert CLIENT_SECRET not in result.stderr


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"api_key": "k", "brevo_oauth_token_url": "https://x.test/t"}, "unset it"),
        ({**OAUTH, "base_url": "https://proxy.test/brevo"}, "set brevo_oauth_token_url"),
        ({**OAUTH, "base_url": "https://proxy.test/brevo", "brevo_oauth_token_url": "h"}, None),
        (OAUTH, None),
        ({"api_key": "k"}, None),
    ],
)
def test_the_token_url_is_needed_only_where_it_cannot_be_derived(config, expected):
    problem = credentials_problem(config)

    assert problem == expected if expected is None else expected in (problem or "")

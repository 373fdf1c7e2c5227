"""The sandbox's Brevo OAuth token endpoint, and Bearer tokens on its Brevo API beside the key."""

from __future__ import annotations

import httpx
import pytest

from mixpanel_brevo_sandbox.__main__ import build_parser
from mixpanel_brevo_sandbox.brevo_oauth import CLIENT_ID, CLIENT_SECRET
from mixpanel_brevo_sandbox.server import SandboxServer

pytestmark = pytest.mark.sandbox(profiles=5, events=10, days=1, brevo_token_lifetime_seconds=60)

TOKEN = "/brevo/realms/partner/oauth/token"
CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
}


def token(client: httpx.Client) -> str:
    answer = client.post(TOKEN, data=CREDENTIALS)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def account(client: httpx.Client, access_token: str) -> httpx.Response:
    return client.get("/brevo/v3/account", headers={"Authorization": f"Bearer {access_token}"})


def test_the_client_credentials_get_a_bearer_token_of_the_configured_lifetime(client):
    answer = client.post(TOKEN, data=CREDENTIALS)

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 60
    assert len(body["access_token"]) >= 32
    assert token(client) != body["access_token"]  # each fetch issues a new token


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({**CREDENTIALS, "client_secret": "wrong"}, 401, "invalid_client"),
        ({**CREDENTIALS, "client_id": "someone-else"}, 401, "invalid_client"),
        ({**CREDENTIALS, "grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_the_token_endpoint_refuses_as_oauth_says(client, form, status, error):
    answer = client.post(TOKEN, data=form)

    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "access_token" not in answer.json()


def test_the_brevo_api_takes_a_valid_bearer_token_as_well_as_the_api_key(client):
    assert account(client, token(client)).status_code == 200
    keyed = client.get("/brevo/v3/account", headers={"api-key": "sandbox-brevo-key"})
    assert keyed.status_code == 200


def test_an_expired_or_unknown_token_is_answered_401_unauthorized(client, clock):
    issued = token(client)
    clock.advance(59)
    assert account(client, issued).status_code == 200

    clock.advance(1)
    expired = account(client, issued)
    unknown = account(client, "not-a-token-the-sandbox-issued")

    for answer in (expired, unknown):
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized"
        assert "x-sib-ratelimit-limit" in answer.headers
    assert account(client, token(client)).status_code == 200


def test_a_reset_forgets_the_tokens_issued(client, server: SandboxServer):
    issued = token(client)

    server.state.reset()

    assert account(client, issued).status_code == 401


def test_the_call_log_shows_token_calls_apart_from_brevo_api_calls(client):
    account(client, token(client))

    calls = client.get("/_sandbox/calls").json()["calls"]
    assert [(c["api"], c["method"], c["path"], c["status"]) for c in calls] == [
        ("brevo_oauth", "POST", "/", 200),
        ("brevo", "GET", "/account", 200),
    ]
    assert calls[0]["bucket"] is None  # token calls spend none of Brevo's API budgets


@pytest.mark.parametrize("lifetime", ["0", "-5", "1.5", "an hour"])
def test_serve_refuses_a_token_lifetime_that_is_not_whole_seconds(lifetime, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--brevo-token-lifetime", lifetime])

    assert "--brevo-token-lifetime: expected whole seconds, 1 or more" in capsys.readouterr().err


def test_serve_takes_a_token_lifetime_and_defaults_to_an_hour():
    assert build_parser().parse_args(["serve"]).brevo_token_lifetime == 3600
    args = build_parser().parse_args(["serve", "--brevo-token-lifetime", "2"])
    assert args.brevo_token_lifetime == 2

"""Brevo OAuth client credentials in the API client: tokens fetched lazily, renewed before they
expire and once after a 401, shared by concurrent callers, refused credentials in one line.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from target_brevo_tajo.brevo import BrevoClient, BrevoError, TokenError
from target_brevo_tajo.brevo.oauth import OAuthClient, default_token_url

BREVO = "https://api.brevo.com/v3"
TOKEN_URL = "https://api.brevo.com/realms/partner/oauth/token"
CLIENT = OAuthClient(TOKEN_URL, "client-7", "client-secret-7")


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """Brevo's token endpoint: a new token per fetch, ``lifetime`` seconds each."""

    def __init__(self, lifetime: int = 3600, delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.forms: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay)
        self.forms.append(parse_qs(request.content.decode()))
        body = {
            "access_token": f"token-{len(self.forms)}",
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }
        return httpx.Response(200, json=body)


def bearer_of(request: httpx.Request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(sleeps: list[float], clock: Clock) -> BrevoClient:
    return BrevoClient(BREVO, None, oauth=CLIENT, sleep=sleeps.append, clock=clock)


def test_the_token_url_is_derived_from_a_base_url_ending_in_v3():
    assert default_token_url("https://api.brevo.com/v3") == TOKEN_URL
    assert default_token_url("http://127.0.0.1:81/brevo/v3/") == (
        "http://127.0.0.1:81/brevo/realms/partner/oauth/token"
    )
    assert default_token_url("https://proxy.example.com/brevo") is None


@respx.mock
def test_a_token_is_fetched_at_the_first_call_only_and_sent_as_bearer(client):
    endpoint = TokenEndpoint()
    token = respx.post(TOKEN_URL).mock(side_effect=endpoint)
    account = respx.get(f"{BREVO}/account").mock(return_value=httpx.Response(200, json={}))

    assert token.call_count == 0  # lazily: a client that makes no call fetches nothing
    client.call("GET", "/account")
    client.call("GET", "/account")

    assert token.call_count == 1
    assert endpoint.forms == [
        {
            "grant_type": ["client_credentials"],
            "client_id": ["client-7"],
            "client_secret": ["client-secret-7"],
        }
    ]
    sent = [call.request for call in account.calls]
    assert [bearer_of(request) for request in sent] == ["token-1", "token-1"]
    assert all("api-key" not in request.headers for request in sent)
    # Token calls are not API calls: the report's calls and the rate budgets never see them.
    assert client.calls == {"GET /account": 2}


@pytest.mark.parametrize(("lifetime", "margin"), [(3600, 300), (20, 2)])
@respx.mock
def test_a_token_is_renewed_a_margin_before_it_expires(client, clock, lifetime, margin):
    respx.post(TOKEN_URL).mock(side_effect=TokenEndpoint(lifetime))
    account = respx.get(f"{BREVO}/account").mock(return_value=httpx.Response(200, json={}))

    client.call("GET", "/account")
    clock.now += lifetime - margin - 0.5
    client.call("GET", "/account")
    clock.now += 1
    client.call("GET", "/account")

    assert [bearer_of(c.request) for c in account.calls] == ["token-1", "token-1", "token-2"]


@respx.mock
def test_a_401_renews_the_token_once_and_resends_the_call(client):
    respx.post(TOKEN_URL).mock(side_effect=TokenEndpoint())
    refused = httpx.Response(401, json={"code": "unauthorized", "message": "Invalid token"})
    batch = respx.post(f"{BREVO}/events/batch").mock(
        side_effect=[refused, httpx.Response(202, json={})]
    )

    client.call("POST", "/events/batch", json=[])

    assert [bearer_of(c.request) for c in batch.calls] == ["token-1", "token-2"]


@respx.mock
def test_a_401_to_a_fresh_token_ends_in_one_line_without_a_third_try(client):
    token = respx.post(TOKEN_URL).mock(side_effect=TokenEndpoint())
    account = respx.get(f"{BREVO}/account").mock(
        return_value=httpx.Response(401, json={"code": "unauthorized", "message": "no access"})
    )

    with pytest.raises(BrevoError, match="Brevo rejected a fresh OAuth token") as refused:
        client.call("GET", "/account")

    assert (token.call_count, account.call_count) == (2, 2)
    assert "\n" not in str(refused.value)
    assert "brevo_oauth_client_id" in str(refused.value)


@pytest.mark.parametrize("status", [400, 401])
@respx.mock
def test_refused_client_credentials_are_one_line_naming_the_settings(client, sleeps, status):
    body = {"error": "invalid_client", "error_description": "Invalid client credentials"}
    token = respx.post(TOKEN_URL).mock(return_value=httpx.Response(status, json=body))
    account = respx.get(f"{BREVO}/account").mock(return_value=httpx.Response(200, json={}))

    with pytest.raises(TokenError) as refused:
        client.call("GET", "/account")

    message = str(refused.value)
    assert message == (
        f"Brevo's OAuth token endpoint refused the client (HTTP {status} invalid_client): set "
        "brevo_oauth_client_id and brevo_oauth_client_secret to the credentials of a Brevo "
        "OAuth client"
    )
    assert isinstance(refused.value, BrevoError)  # a user error: one line, as any Brevo refusal
    assert (token.call_count, account.call_count, sleeps) == (1, 0, [])


@respx.mock
def test_transient_token_failures_are_retried_with_backoff(client, sleeps):
    endpoint = TokenEndpoint()
    respx.post(TOKEN_URL).mock(
        side_effect=[httpx.ConnectError("down"), httpx.Response(503), endpoint]
    )
    respx.get(f"{BREVO}/account").mock(return_value=httpx.Response(200, json={}))

    client.call("GET", "/account")

    assert len(sleeps) == 2
    assert client.retries == 2
    assert len(endpoint.forms) == 1


@respx.mock
def test_a_token_endpoint_that_keeps_failing_ends_in_one_line(sleeps, clock):
    client = BrevoClient(BREVO, None, oauth=CLIENT, sleep=sleeps.append, clock=clock, max_retries=2)
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(502))

    with pytest.raises(TokenError, match=r"failed 3 times \(OAuth token: HTTP 502\); rerun later"):
        client.call("GET", "/account")

    assert len(sleeps) == 2


@respx.mock
def test_an_answer_without_a_token_names_the_token_url(client):
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(404, text="not found"))

    with pytest.raises(TokenError, match="without an access token: check brevo_oauth_token_url"):
        client.call("GET", "/account")


@respx.mock
def test_concurrent_callers_share_one_fetch(client):
    endpoint = TokenEndpoint(delay=0.2)
    respx.post(TOKEN_URL).mock(side_effect=endpoint)
    account = respx.get(f"{BREVO}/account").mock(return_value=httpx.Response(200, json={}))
    start = threading.Barrier(8)

    def call() -> None:
        start.wait()
        client.call("GET", "/account")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(endpoint.forms) == 1
    assert {bearer_of(c.request) for c in account.calls} == {"token-1"}
    assert account.call_count == 8


@respx.mock
def test_concurrent_401s_to_one_token_renew_it_once(client):
    endpoint = TokenEndpoint()
    respx.post(TOKEN_URL).mock(side_effect=endpoint)
    client.tokens.current()  # token-1, which Brevo now refuses
    refused = httpx.Response(401, json={"code": "unauthorized", "message": "expired"})

    def answer(request: httpx.Request) -> httpx.Response:
        return refused if bearer_of(request) == "token-1" else httpx.Response(200, json={})

    account = respx.get(f"{BREVO}/account").mock(side_effect=answer)
    threads = [threading.Thread(target=client.call, args=("GET", "/account")) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(endpoint.forms) == 2
    assert sum(1 for c in account.calls if c.response.status_code == 200) == 6

"""Brevo OAuth 2.0 client credentials: the access token every call carries instead of an API key.

Brevo issues machine-to-machine tokens (``grant_type=client_credentials``) that last about an
hour. One :class:`AccessTokens` per run fetches a token at the first call, fetches the next one
shortly before it expires, and shares it between the threads that call Brevo. Token calls go to
the token endpoint, not the API: they spend none of the API's rate budgets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import httpx

from target_brevo_tajo.brevo.errors import BrevoError
from target_brevo_tajo.redaction import add_secret

BREVO_TOKEN_PATH = "/realms/partner/oauth/token"  # noqa: S105 - a path, not a password
# A token is renewed this long before it expires: 5 minutes, or a tenth of a short lifetime.
RENEW_MARGIN_SECONDS = 300.0
RENEW_MARGIN_SHARE = 0.1
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_REFUSED_STATUSES = frozenset({400, 401, 403})
CREDENTIAL_SETTINGS = "brevo_oauth_client_id and brevo_oauth_client_secret"


class TokenError(BrevoError):
    """The token endpoint refused the client or gave no usable token; one line saying what to do."""


def default_token_url(base_url: str) -> str | None:
    """Brevo's token URL beside an API base ending in ``/v3``; None when the base has no ``/v3``.

    ``https://api.brevo.com/v3`` gives ``https://api.brevo.com/realms/partner/oauth/token``, and
    a sandbox's ``<url>/brevo/v3`` gives ``<url>/brevo/realms/partner/oauth/token``.
    """
    base = base_url.rstrip("/")
    if not base.endswith("/v3"):
        return None
    return base.removesuffix("/v3") + BREVO_TOKEN_PATH


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client's credentials and where to trade them for tokens."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    renew_at: float


class AccessTokens(httpx.Auth):
    """The run's current access token, as the ``Authorization: Bearer`` header of each call.

    Thread-safe: the first caller that finds no token, or one due for renewal, fetches the next
    while the others wait for it, so concurrent callers share one fetch. Transient failures of
    the token endpoint (network errors, 429, 5xx) are retried with ``back_off(attempt, why)``,
    the API client's backoff, at most ``max_retries`` times.
    """

    def __init__(
        self,
        client: OAuthClient,
        *,
        back_off: Callable[[int, str], None],
        max_retries: int,
        clock: Callable[[], float],
        timeout_seconds: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        add_secret(client.client_secret)
        self._client = client
        self._back_off = back_off
        self._max_retries = max_retries
        self._clock = clock
        self._http = httpx.Client(timeout=timeout_seconds, transport=transport)
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send each API call with the current token (httpx's hook)."""
        request.headers["Authorization"] = f"Bearer {self.current()}"
        yield request

    def current(self) -> str:
        """A token that is not due for renewal: the one held, or a fresh one."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._token = self._fetch()
            return token.value

    def renew(self, refused: httpx.Request) -> None:
        """Drop the token Brevo refused (HTTP 401) so the next call fetches another.

        Only that token: when several calls come back refused, the first renews and the others,
        whose token is already replaced, keep the new one.
        """
        sent = refused.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            if self._token is not None and self._token.value == sent:
                self._token = None

    def close(self) -> None:
        """Release the token endpoint's connections."""
        self._http.close()

    def _fetch(self) -> _Token:
        failures = 0
        while True:
            asked_at = self._clock()
            try:
                response = self._http.post(self._client.token_url, data=self._form())
            except httpx.TransportError as exc:
                failures += 1
                self._retry(failures, f"OAuth token: {type(exc).__name__}", exc)
                continue
            if response.status_code in _TRANSIENT_STATUSES:
                failures += 1
                self._retry(failures, f"OAuth token: HTTP {response.status_code}", None)
                continue
            return self._token_of(response, asked_at)

    def _form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self._client.client_id,
            "client_secret": self._client.client_secret,
        }

    def _retry(self, failures: int, why: str, exc: Exception | None) -> None:
        if failures > self._max_retries:
            msg = f"Brevo's OAuth token endpoint failed {failures} times ({why}); rerun later"
            raise TokenError(msg) from exc
        self._back_off(failures, why)

    def _token_of(self, response: httpx.Response, asked_at: float) -> _Token:
        """The answer's token, registered as a secret, renewed a margin before it expires."""
        status = response.status_code
        body = _json_object(response)
        if status in _REFUSED_STATUSES:
            error = str(body.get("error") or "refused")
            msg = (
                f"Brevo's OAuth token endpoint refused the client (HTTP {status} {error}): set "
                f"{CREDENTIAL_SETTINGS} to the credentials of a Brevo OAuth client"
            )
            raise TokenError(msg)
        value, lifetime = body.get("access_token"), body.get("expires_in")
        if status >= 300 or not isinstance(value, str) or not value:
            msg = (
                f"Brevo's OAuth token endpoint answered HTTP {status} without an access token: "
                f"check brevo_oauth_token_url ({self._client.token_url})"
            )
            raise TokenError(msg)
        add_secret(value)
        seconds = float(lifetime) if isinstance(lifetime, (int, float)) else 3600.0
        margin = min(RENEW_MARGIN_SECONDS, seconds * RENEW_MARGIN_SHARE)
        return _Token(value, asked_at + seconds - margin)


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

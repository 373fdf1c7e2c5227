"""Brevo's OAuth 2.0 token endpoint (``client_credentials``) and the Bearer tokens it issues.

Mounted at ``/brevo/realms/partner/oauth/token``, beside ``/brevo/v3`` as Brevo's is beside its
API (``https://api.brevo.com/realms/partner/oauth/token``, Brevo changelog 2026-10-13). One
sandbox client may fetch tokens; each lasts ``lifetime`` seconds of the Brevo clock (an hour by
default, as Brevo's), after which the API answers it 401 like a token it never issued.
"""

from __future__ import annotations

import secrets
import threading

from .brevo_limits import Clock
from .wire import Request, Response, json_response

CLIENT_ID = "sandbox-brevo-client"
CLIENT_SECRET = "sandbox-brevo-client-secret"  # noqa: S105 - the sandbox's published secret
DEFAULT_LIFETIME_SECONDS = 3600
TOKEN_PATH = "/realms/partner/oauth/token"  # noqa: S105 - a path


def check_lifetime(seconds: int) -> int:
    """A token lifetime the sandbox can issue: whole seconds (OAuth's ``expires_in``), 1 or more."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError(
            f"a token lifetime must be a whole number of seconds, 1 or more: {seconds}"
        )
    return seconds


class TokenIssuer:
    """The tokens issued to the sandbox client, each valid until its ``expiry`` on ``clock``."""

    def __init__(self, lifetime_seconds: int, clock: Clock) -> None:
        self.lifetime_seconds = check_lifetime(lifetime_seconds)
        self._clock = clock
        self.expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def reset(self) -> None:
        """Forget every token issued: none is valid any more."""
        with self._lock:
            self.expiry.clear()
            self.issued = 0

    def valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            expiry = self.expiry.get(token)
        return expiry is not None and self._clock() < expiry

    def refusal(self, request: Request, api_key: str) -> str | None:
        """Why Brevo's API answers the call 401, or None: its ``api-key``, else its Bearer token."""
        key = request.header("api-key")
        scheme, _, token = request.header("authorization").partition(" ")
        if not key and scheme.lower() == "bearer":
            return None if self.valid(token.strip()) else "Invalid or expired access token"
        return None if key == api_key else "Key not found"

    def handle(self, request: Request) -> Response:
        """``POST`` a form ``grant_type=client_credentials&client_id=..&client_secret=..``.

        Answers as OAuth 2.0 (RFC 6749 §5): a token, or 400/401 with an ``error`` code.
        """
        if request.path != "/" or request.method != "POST":
            return json_response(404, {"error": "not_found"})
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return _refused(400, "unsupported_grant_type", "Only client_credentials is supported")
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _refused(401, "invalid_client", "Invalid client or Invalid client credentials")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.expiry[token] = self._clock() + self.lifetime_seconds
            self.issued += 1
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.lifetime_seconds,
        }
        return json_response(200, body, {"Cache-Control": "no-store"})


def _refused(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})

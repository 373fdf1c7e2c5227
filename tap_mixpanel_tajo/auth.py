"""Mixpanel's three auth schemes: the ``Authorization`` header, and the secrets to redact."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from tap_mixpanel_tajo.http_errors import MixpanelError


@dataclass(frozen=True)
class Credentials:
    """Resolved Mixpanel credentials (``mode``: ``service_account``, ``oauth``, ``api_secret``)."""

    service_account_username: str | None = None
    service_account_secret: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    project_id: str | None = None

    @property
    def mode(self) -> str:
        """Which auth scheme these credentials use (service account wins, then OAuth)."""
        if self.service_account_username and self.service_account_secret:
            return "service_account"
        if self.oauth_token:
            return "oauth"
        if self.api_secret:
            return "api_secret"
        return "none"

    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        mode = self.mode
        if mode == "service_account":
            pair = f"{self.service_account_username}:{self.service_account_secret}"
            return "Basic " + base64.b64encode(pair.encode()).decode()
        if mode == "oauth":
            return f"Bearer {self.oauth_token}"
        if mode == "api_secret":
            return "Basic " + base64.b64encode(f"{self.api_secret}:".encode()).decode()
        msg = "no Mixpanel credentials configured"
        raise MixpanelError(msg)

    def secrets(self) -> list[str]:
        """Every secret value, for redaction."""
        values = [self.service_account_secret, self.api_secret, self.oauth_token]
        return [value for value in values if value]

    def basic_pairs(self) -> list[str]:
        """The ``user:secret`` texts Basic auth sends base64-encoded, for redaction."""
        pairs = []
        if self.service_account_username and self.service_account_secret:
            pairs.append(f"{self.service_account_username}:{self.service_account_secret}")
        if self.api_secret:
            pairs.append(f"{self.api_secret}:")
        return pairs

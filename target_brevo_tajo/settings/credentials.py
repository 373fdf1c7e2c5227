"""How the target authenticates to Brevo: an API key, or an OAuth client, never both or half."""

from __future__ import annotations

from collections import abc
from typing import Any

from target_brevo_tajo.brevo.client import DEFAULT_BASE_URL
from target_brevo_tajo.brevo.oauth import default_token_url

OAUTH_PAIR = ("brevo_oauth_client_id", "brevo_oauth_client_secret")
EITHER = "set api_key, or brevo_oauth_client_id and brevo_oauth_client_secret (Brevo OAuth)"


def credentials_problem(config: abc.Mapping[str, Any]) -> str | None:
    """What is wrong with the credentials the config names, as one line, or None.

    Exactly one way to authenticate: ``api_key``, or both OAuth client settings; the token URL
    is derived from ``base_url`` unless set.
    """
    has_key = bool(config.get("api_key"))
    present = [name for name in OAUTH_PAIR if config.get(name)]
    if has_key and present:
        return (
            f"api_key and {' and '.join(present)} are set: authenticate one way, unset api_key "
            "to use Brevo OAuth, or unset brevo_oauth_client_id and brevo_oauth_client_secret"
        )
    if len(present) == 1:
        (missing,) = set(OAUTH_PAIR) - set(present)
        return f"{present[0]} is set without {missing}: set both, or api_key instead"
    if not has_key and not present:
        return f"no Brevo credentials: {EITHER}"
    if present:
        return _token_url_problem(config)
    if config.get("brevo_oauth_token_url"):
        return "brevo_oauth_token_url is set but api_key is used: unset it, or use Brevo OAuth"
    return None


def _token_url_problem(config: abc.Mapping[str, Any]) -> str | None:
    base_url = config.get("base_url") or DEFAULT_BASE_URL
    if config.get("brevo_oauth_token_url") or default_token_url(base_url):
        return None
    return (
        f"base_url {base_url} does not end in /v3, so the OAuth token URL cannot be derived "
        "from it: set brevo_oauth_token_url"
    )

"""What every resource shares of the Brevo API: the client, its rate budgets and paging."""

from target_brevo_tajo.brevo.client import (
    DEFAULT_BASE_URL,
    BrevoClient,
    BrevoError,
    CallInDoubt,
    body_excerpt,
    ok_json,
)
from target_brevo_tajo.brevo.oauth import TokenError

__all__ = [
    "DEFAULT_BASE_URL",
    "BrevoClient",
    "BrevoError",
    "CallInDoubt",
    "TokenError",
    "body_excerpt",
    "ok_json",
]

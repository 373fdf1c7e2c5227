"""Everything the target knows about the Brevo API: the client, paging, lists and imports."""

from target_brevo_tajo.brevo.client import (
    DEFAULT_BASE_URL,
    BrevoClient,
    BrevoError,
    CallInDoubt,
    body_excerpt,
    ok_json,
)
from target_brevo_tajo.brevo.events import find_queued
from target_brevo_tajo.brevo.imports import ContactImports
from target_brevo_tajo.brevo.lists import BrevoLists

__all__ = [
    "DEFAULT_BASE_URL",
    "BrevoClient",
    "BrevoError",
    "BrevoLists",
    "CallInDoubt",
    "ContactImports",
    "body_excerpt",
    "find_queued",
    "ok_json",
]

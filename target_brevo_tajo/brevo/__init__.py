"""Everything the target knows about the Brevo API: client, paging, lists, imports, companies."""

from target_brevo_tajo.brevo.client import (
    DEFAULT_BASE_URL,
    BrevoClient,
    BrevoError,
    CallInDoubt,
    body_excerpt,
    ok_json,
)
from target_brevo_tajo.brevo.companies import BrevoCompanies
from target_brevo_tajo.brevo.events import find_queued
from target_brevo_tajo.brevo.imports import ContactImports
from target_brevo_tajo.brevo.lists import BrevoLists

__all__ = [
    "DEFAULT_BASE_URL",
    "BrevoClient",
    "BrevoCompanies",
    "BrevoError",
    "BrevoLists",
    "CallInDoubt",
    "ContactImports",
    "body_excerpt",
    "find_queued",
    "ok_json",
]

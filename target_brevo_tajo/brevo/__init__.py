"""Everything the target knows about the Brevo API: the client, paging, lists and imports."""

from target_brevo_tajo.brevo.client import DEFAULT_BASE_URL, BrevoClient, BrevoError, ok_json
from target_brevo_tajo.brevo.imports import ContactImports
from target_brevo_tajo.brevo.lists import BrevoLists

__all__ = [
    "DEFAULT_BASE_URL",
    "BrevoClient",
    "BrevoError",
    "BrevoLists",
    "ContactImports",
    "ok_json",
]

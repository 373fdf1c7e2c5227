"""Credentials blanked out of every log line, report and reject: one helper for every form.

A Brevo error body may echo the ``api-key`` header, an ``Authorization`` value or the key cut
short. Known secrets (the run's api_key, as is, base64-encoded or URL-quoted) and anything shaped
like a credential (Brevo keys, bearer and basic tokens) become ``***``.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any
from urllib.parse import quote

MASK = "***"
_SHORTEST_SECRET = 6  # shorter values would blank out ordinary words
_known: set[str] = set()
_CREDENTIAL = re.compile(
    r"\b(?:xkeysib|xsmtpsib)-[A-Za-z0-9-]+"  # Brevo API and SMTP keys, whole or cut short
    r"|(?P<scheme>\b(?:[Bb]earer|BEARER|[Bb]asic|BASIC)\s+)[A-Za-z0-9._~+/-]+=*"
)


def add_secret(secret: str | None) -> None:
    """Blank ``secret`` out from now on, in each form it may take in a message."""
    if not secret or len(secret) < _SHORTEST_SECRET:
        return
    encoded = base64.b64encode(secret.encode()).decode()
    _known.update({secret, quote(secret, safe=""), encoded, encoded.rstrip("=")})


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``***``."""
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return _CREDENTIAL.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    return (match.group("scheme") or "") + MASK


def install_log_redaction() -> None:
    """Redact every log record of the process as it is made (once, whatever logs it)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # logging reports a bad format itself
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return record

    redacting_record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_record)

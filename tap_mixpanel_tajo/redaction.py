"""Credentials out of every line the tap logs or raises, in each form a credential takes.

Mixpanel may echo a request back in an error body: the ``Authorization`` header (the base64 of
``user:secret``, or a bearer token), a query string (the secret percent-encoded), a proxy URL
with a password. The run's own secrets are replaced in all those forms; ``Basic``/``Bearer``
credentials and URL passwords are replaced even when they are not the run's.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
#: An HTTP credential after its scheme: ``Basic dXNlcjpzZWNyZXQ=``, ``Bearer eyJ...``.
_AUTH_SCHEME = re.compile(r"(?i)\b(basic|bearer)(\s+|%20|\+)([A-Za-z0-9+/_.~=-]{4,})")
#: The password of a URL: ``https://user:password@host``.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


def _credential(match: re.Match[str]) -> str:
    """A Basic or Bearer credential masked; an ordinary word after "basic" or "bearer" kept.

    A Basic credential is base64 of ``user:password``; a bearer token is a word holding more
    than letters (a JWT, an opaque token): "basic checks", "bearer of news" stay.
    """
    scheme, space, token = match.groups()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except ValueError:
            return match.group(0)
        is_credential = b":" in decoded
    else:
        is_credential = len(token) >= 8 and not token.isalpha()
    return f"{scheme}{space}{MASK}" if is_credential else match.group(0)


def _encodings(secret: str) -> set[str]:
    """The forms one secret may take in an HTTP exchange: plain, base64, percent-encoded."""
    encoded = base64.b64encode(secret.encode()).decode()
    return {secret, encoded, encoded.rstrip("="), quote(secret, safe=""), quote_plus(secret)}


class Redactor:
    """Replaces every known secret (and any Basic/Bearer credential or URL password) by ``***``."""

    def __init__(self, secrets: Iterable[str | None], *, pairs: Iterable[str] = ()) -> None:
        """``secrets``: values to hide; ``pairs``: ``user:secret`` texts sent base64-encoded."""
        forms: set[str] = set()
        for value in [*secrets, *pairs]:
            if value:
                forms |= _encodings(value)
        # Longest first: a secret inside its own base64 or pair must not leave a tail behind.
        self._forms = sorted((form for form in forms if len(form) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` without a credential."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        text = _AUTH_SCHEME.sub(_credential, text)
        return _URL_PASSWORD.sub(rf"\1{MASK}@", text)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message before any formatter sees it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; one that held a credential keeps its message redacted."""
        message = record.getMessage()
        clean = self.redactor(message)
        if clean != message:  # else untouched: formatters may read msg and args apart (METRIC)
            record.msg, record.args = clean, None
        return True


def redact_logs(redactor: Redactor) -> None:
    """Redact every record the root logger's handlers write (the tap's, the SDK's, httpx's).

    Filters on a logger miss its children's records; filters on the handlers see them all. A
    filter installed by an earlier tap in the same process is replaced by this one.
    """
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(RedactingFilter(redactor))

"""The one place where the target talks HTTP to Brevo.

Owns the base URL, the ``api-key`` header, retries and Brevo's rate-limit headers, and the
one-line messages for errors a user must act on. Every call is counted per endpoint so the sync
report can say what a run spent.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://api.brevo.com/v3"
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")

logger = logging.getLogger("target-brevo-tajo")


class BrevoError(Exception):
    """An error the user must act on; ``str()`` is one line that says what to do."""


def _endpoint_label(method: str, path: str) -> str:
    """``POST /contacts/lists/16/contacts/add`` -> ``POST /contacts/lists/{id}/contacts/add``."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


def fatal_message(response: httpx.Response) -> str | None:
    """The one-line, actionable message for a status no retry can fix, or None."""
    status = response.status_code
    detail = _error_detail(response)
    if status == 401:
        return (
            f"Brevo rejected the API key (HTTP 401{detail}): set api_key to a v3 API key from "
            "Brevo > SMTP & API > API keys"
        )
    if status == 402:
        return (
            f"Brevo answered 402 Payment Required{detail}: the account lacks credits or a plan "
            "feature for this call; check the Brevo plan"
        )
    if status == 403:
        return (
            f"Brevo refused the call (HTTP 403{detail}): the key lacks permission, or the "
            "machine's IP is not authorised under Brevo > Security > Authorised IPs"
        )
    return None


def ok_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful answer ({} when empty); any other answer is a BrevoError."""
    if response.status_code >= 300:
        request = response.request
        msg = (
            f"Brevo refused {request.method} {request.url.path} with HTTP "
            f"{response.status_code}: {response.text[:300]}"
        )
        raise BrevoError(msg)
    return response.json() if response.content else {}


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("message"):
        return f": {str(body['message'])[:200]}"
    return ""


class BrevoClient:
    """A small httpx client for Brevo API v3 with retries that respect its rate limits.

    Brevo sends ``x-sib-ratelimit-remaining`` / ``x-sib-ratelimit-reset`` on rate-limited
    endpoints and no ``Retry-After``; the reset unit is documented as "typically seconds", so
    waits are clamped to ``max_wait_seconds``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_retries: int = 5,
        backoff_base_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "api-key": api_key,
                "accept": "application/json",
                "user-agent": "target-brevo-tajo",
            },
            timeout=timeout_seconds,
            transport=transport,
        )
        self.max_retries = max_retries
        self.backoff_base_seconds = backoff_base_seconds
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self._exhausted_until = 0.0

    def sleep(self, seconds: float) -> None:
        """Wait (tests swap the clock out); used for process polling too."""
        self._sleep(seconds)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one call, retrying 429/5xx and transport errors; return the final response.

        Raises :class:`BrevoError` for 401/402/403 and when retries are exhausted. Other 4xx
        responses are returned: the caller knows which of them are per-record rejections.
        """
        label = _endpoint_label(method, path)
        headers = {"content-type": "application/json"} if content is not None else None
        attempt = 0
        while True:
            self._wait_for_rate_limit_reset()
            self.calls[label] += 1
            try:
                response = self._http.request(
                    method, path, json=json, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                attempt += 1
                if attempt > self.max_retries:
                    msg = f"Brevo unreachable after {attempt} attempts ({label}): {exc}"
                    raise BrevoError(msg) from exc
                self._back_off(attempt, None, f"{label}: {type(exc).__name__}")
                continue
            self._remember_rate_limit(response)
            message = fatal_message(response)
            if message:
                raise BrevoError(message)
            if response.status_code not in RETRIABLE_STATUSES:
                return response
            attempt += 1
            if attempt > self.max_retries:
                msg = (
                    f"Brevo kept answering HTTP {response.status_code} to {label} after "
                    f"{attempt} attempts; rerun later (nothing unsent was marked as sent)"
                )
                raise BrevoError(msg)
            self._back_off(attempt, response, f"{label}: HTTP {response.status_code}")

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call that must succeed: its JSON body, or a :class:`BrevoError` naming it."""
        return ok_json(self.request(method, path, **kwargs))

    def _back_off(self, attempt: int, response: httpx.Response | None, why: str) -> None:
        wait = self.backoff_base_seconds * 2 ** (attempt - 1)
        reset = _reset_seconds(response) if response is not None else None
        if reset is not None and response is not None and response.status_code == 429:
            wait = reset
        wait = min(wait, self.max_wait_seconds) + random.uniform(0, self.backoff_base_seconds / 4)
        self.retries += 1
        logger.warning("Retrying %s in %.1fs (attempt %d/%d)", why, wait, attempt, self.max_retries)
        self._sleep(wait)

    def _remember_rate_limit(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-sib-ratelimit-remaining")
        reset = _reset_seconds(response)
        if remaining is not None and remaining.strip() == "0" and reset:
            self._exhausted_until = time.monotonic() + min(reset, self.max_wait_seconds)

    def _wait_for_rate_limit_reset(self) -> None:
        """Pause before a call when the last response said the budget is spent."""
        wait = self._exhausted_until - time.monotonic()
        if wait > 0:
            logger.info("Brevo rate limit reached; waiting %.1fs for it to reset", wait)
            self._sleep(wait)
        self._exhausted_until = 0.0


def _reset_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("x-sib-ratelimit-reset")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None

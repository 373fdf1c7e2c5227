"""The one place where the target talks HTTP to Brevo.

Owns the base URL, the credentials (the ``api-key`` header, or OAuth tokens: :mod:`.oauth`),
retries, pacing to Brevo's rate budgets, and the one-line messages for errors a user must act
on. Every call is counted per endpoint so the sync report can say what a run spent.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from target_brevo_tajo.brevo.errors import BrevoError
from target_brevo_tajo.brevo.oauth import AccessTokens, OAuthClient
from target_brevo_tajo.brevo.rate_budget import RateBudgets

DEFAULT_BASE_URL = "https://api.brevo.com/v3"
RETRIABLE_STATUSES = frozenset({500, 502, 503, 504})
# 429s in a row, each after waiting for the announced reset: past this, another client spends it.
MAX_RATE_LIMITED_ANSWERS = 10
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")

logger = logging.getLogger("target-brevo-tajo")


# Failures that happen before a request's body leaves: nothing can have reached Brevo.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class CallInDoubt(BrevoError):
    """A non-idempotent call whose answer never came, or came as a 5xx: Brevo may have queued it.

    It is never resent blindly; its caller settles it by asking Brevo what arrived.
    """


class _CallLinesAtDebug(logging.Filter):
    """httpx's line per call ("HTTP Request: POST ...") as DEBUG: a long run makes millions."""

    def __init__(self, shown_by: logging.Logger) -> None:
        super().__init__()
        self._shown_by = shown_by

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self._shown_by.isEnabledFor(logging.DEBUG)
        return True


def log_calls_at_debug(shown_by: logging.Logger) -> None:
    """Show httpx's line per call only when ``shown_by`` logs DEBUG (installed once)."""
    http = logging.getLogger("httpx")
    if not any(isinstance(f, _CallLinesAtDebug) for f in http.filters):
        http.addFilter(_CallLinesAtDebug(shown_by))


def body_excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The start of an answer's body on one line, with the API key blanked out."""
    return _redacted(" ".join(response.text.split()), response)[:limit]


def _redacted(text: str, response: httpx.Response) -> str:
    try:
        key = response.request.headers.get("api-key")
    except RuntimeError:  # an answer built without a request (tests)
        key = None
    return text.replace(key, "***") if key else text


def _endpoint_label(method: str, path: str) -> str:
    """``POST /contacts/lists/16/contacts/add`` -> ``POST /contacts/lists/{id}/contacts/add``."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


def fatal_message(response: httpx.Response) -> str | None:
    """The one-line, actionable message for a status no retry can fix, or None."""
    status = response.status_code
    detail = _error_detail(response)
    if status == 401 and _sent_bearer(response):
        return (
            f"Brevo rejected a fresh OAuth token (HTTP 401{detail}): check that the OAuth client "
            "of brevo_oauth_client_id may use the API"
        )
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
            f"{response.status_code}: {body_excerpt(response)}"
        )
        raise BrevoError(msg)
    return response.json() if response.content else {}


def _sent_bearer(response: httpx.Response) -> bool:
    try:
        return response.request.headers.get("authorization", "").startswith("Bearer ")
    except RuntimeError:  # an answer built without a request (tests)
        return False


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("message"):
        return f": {_redacted(str(body['message']), response)[:200]}"
    return ""


class BrevoClient:
    """A small httpx client for Brevo API v3 that paces itself to Brevo's rate budgets.

    Each call first takes a slot of its bucket's budget (:mod:`.rate_budget`), so Brevo rarely
    has to answer 429; when it does, the answer's reset header says how long to wait. 5xx answers
    and network errors are retried with exponential backoff and jitter. It authenticates with
    ``api_key``, or with ``oauth``'s tokens, renewed once when Brevo answers 401 to one.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        oauth: OAuthClient | None = None,
        rate_tier: str = "general",
        max_retries: int = 5,
        backoff_base_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.tokens = None if oauth is None else AccessTokens(
            oauth, back_off=self._back_off, max_retries=max_retries, clock=clock,
            timeout_seconds=timeout_seconds, transport=transport,
        )  # fmt: skip
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                **({"api-key": api_key} if api_key else {}),
                "accept": "application/json",
                "user-agent": "target-brevo-tajo",
            },
            auth=self.tokens,
            timeout=timeout_seconds,
            transport=transport,
        )
        self.max_retries = max_retries
        self.backoff_base_seconds = backoff_base_seconds
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self._clock = clock
        self.budgets = RateBudgets(rate_tier)
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self._counting = threading.Lock()  # calls may be in flight from several threads

    def sleep(self, seconds: float) -> None:
        """Wait (tests swap the clock out); used for process polling too."""
        self._sleep(seconds)

    def close(self) -> None:
        """Release the connection pools."""
        self._http.close()
        if self.tokens is not None:
            self.tokens.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        idempotent: bool | None = None,
        slot: float | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """Send one call within its rate budget, retrying 429/5xx and transport errors.

        Raises :class:`BrevoError` for 401/402/403 and when retries are exhausted. Other 4xx
        responses are returned: the caller knows which of them are per-record rejections.
        ``files`` and ``data`` send a multipart form (``POST /companies/import``).
        A call that is not ``idempotent`` is retried only when Brevo cannot have processed it
        (429, or a failure before the body left); otherwise it raises :class:`CallInDoubt`, for
        the caller to settle. Unless told, a POST is not idempotent (it creates: a company, a
        list, an attribute, events), and every other method is: a POST that only adds or upserts
        by key (list membership, contact imports) says ``idempotent=True``.
        ``slot`` is a slot already waited for (:meth:`wait_for_slot`), the first attempt's;
        ``before_send`` runs right before each attempt leaves, once its slot came, and may raise
        to stop the call (a claim another worker took over while a 429's reset ran).
        """
        idempotent = method.upper() != "POST" if idempotent is None else idempotent
        label = _endpoint_label(method, path)
        payload = {"json": json, "params": params, "content": content, "files": files, "data": data}
        failures = rate_limited = renewals = 0
        while True:
            sent_at = slot if slot is not None else self.wait_for_slot(method, path)
            slot = None
            if before_send is not None:
                before_send()
            # Counted from when it left: a call held up past its slot has its slot moved there,
            # and a window its own calls filled must count it (else it waits for Brevo's reset).
            left_at = max(sent_at, self._clock())
            self.budgets.for_call(method, path).departed(sent_at, left_at)
            try:
                response = self._send(method, path, label, payload)
            except httpx.TransportError as exc:
                failures += 1
                self._after_no_answer(exc, label, idempotent, failures)
                continue
            waits_for_reset = self.budgets.observe(
                method, path, response, self._clock(), sent_at=left_at
            )
            if not renewals and self._renew_refused_token(response):
                renewals += 1
                continue
            message = fatal_message(response)
            if message:
                raise BrevoError(message)
            if response.status_code == 429:
                rate_limited += 1
                self._after_rate_limited(label, rate_limited, waits_for_reset)
                continue
            if response.status_code not in RETRIABLE_STATUSES:
                return response
            failures += 1
            self._after_server_error(response, label, idempotent, failures)

    def _renew_refused_token(self, response: httpx.Response) -> bool:
        """Whether Brevo refused an OAuth token (401) and the call may go again with a new one.

        Brevo refuses a 401 call before processing it, so even a POST is safe to resend.
        """
        if response.status_code != 401 or self.tokens is None:
            return False
        self.tokens.renew(response.request)
        return True

    def _send(self, method: str, path: str, label: str, payload: dict[str, Any]) -> httpx.Response:
        """One attempt, counted under its endpoint's label for the sync report.

        A raw ``content`` body is JSON already serialised by the caller.
        """
        with self._counting:
            self.calls[label] += 1
        raw_json = payload["content"] is not None
        headers = {"content-type": "application/json"} if raw_json else None
        return self._http.request(method, path, headers=headers, **payload)

    def _after_no_answer(
        self, exc: httpx.TransportError, label: str, idempotent: bool, failures: int
    ) -> None:
        """Back off before another attempt, unless the call is in doubt or out of retries.

        A call that is not idempotent may have reached Brevo unless it failed before its body
        left (:data:`_NOT_SENT`): it is then in doubt, never resent blindly.
        """
        if not idempotent and not isinstance(exc, _NOT_SENT):
            msg = f"{label} got no answer ({type(exc).__name__}: {exc})"
            raise CallInDoubt(msg) from exc
        if failures > self.max_retries:
            msg = f"Brevo unreachable after {failures} attempts ({label}): {exc}"
            raise BrevoError(msg) from exc
        self._back_off(failures, f"{label}: {type(exc).__name__}")

    def _after_rate_limited(self, label: str, rate_limited: int, waits_for_reset: bool) -> None:
        """Count a 429 as a retry; back off only when no reset header set the budget's wait.

        Past :data:`MAX_RATE_LIMITED_ANSWERS` in a row, another client spends the budget.
        """
        if rate_limited > MAX_RATE_LIMITED_ANSWERS:
            msg = (
                f"Brevo answered 429 to {label} {rate_limited} times in a row although "
                "the target waited for each reset; another client may share the API key"
            )
            raise BrevoError(msg)
        with self._counting:
            self.retries += 1
        if not waits_for_reset:
            self._back_off(rate_limited, f"{label}: HTTP 429 without reset header")

    def _after_server_error(
        self, response: httpx.Response, label: str, idempotent: bool, failures: int
    ) -> None:
        """Back off after a 5xx, unless the call is in doubt or out of retries."""
        status = response.status_code
        if not idempotent:
            raise CallInDoubt(f"{label} was answered HTTP {status}: {body_excerpt(response)}")
        if failures > self.max_retries:
            msg = (
                f"Brevo kept answering HTTP {status} to {label} after "
                f"{failures} attempts; rerun later (nothing unsent was marked as sent)"
            )
            raise BrevoError(msg)
        self._back_off(failures, f"{label}: HTTP {status}")

    def wait_for_slot(self, method: str, path: str) -> float:
        """Take the next slot of the call's rate budget and wait for it; returns when it is.

        A caller that must prepare a call only once it can leave (claim its events) waits here
        first, then passes the slot to :meth:`request`.
        """
        reserved_at = self._clock()
        wait = self.budgets.for_call(method, path).reserve(reserved_at)
        if wait > 0:
            self._sleep(wait)
        return reserved_at + wait

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call that must succeed: its JSON body, or a :class:`BrevoError` naming it."""
        return ok_json(self.request(method, path, **kwargs))

    def _back_off(self, attempt: int, why: str) -> None:
        wait = min(self.backoff_base_seconds * 2 ** (attempt - 1), self.max_wait_seconds)
        wait += random.uniform(0, self.backoff_base_seconds / 4)
        with self._counting:
            self.retries += 1
        logger.warning("Retrying %s in %.1fs (attempt %d/%d)", why, wait, attempt, self.max_retries)
        self._sleep(wait)

"""What each failed Mixpanel answer means: retry it, or stop with a one-line message.

:func:`check_status` reads an HTTP status (and its body, redacted) and raises either a
:class:`RetryableError` (429, 5xx, 408: the retry policy decides how long to wait) or a
:class:`MixpanelError` that says what to do (credentials, plan, timezone, base URL). Secrets
never reach a message: the body passes through the run's :class:`~.redaction.Redactor` first.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tap_mixpanel_tajo.errors import TapError


class MixpanelError(TapError):
    """A Mixpanel call that failed for good; ``str(error)`` is one line saying what to do."""


class RefusedError(MixpanelError):
    """Mixpanel refused a call it may refuse (an undocumented App API): the caller falls back."""


class JqlFailure(MixpanelError):
    """A JQL query that fails on its own (JQL unavailable, the script threw): its stream ends."""


#: What Mixpanel's JQL answers when the project cannot use JQL (the sandbox's stand-in: 403).
JQL_UNAVAILABLE_TEXT = "jql is not available"
#: What Mixpanel's JQL answers (400) when the script throws.
JQL_SCRIPT_ERROR_TEXT = "uncaught exception"


class RetryableError(Exception):
    """An attempt failed in a way worth retrying (429, 5xx, dropped stream, truncated export)."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited


def transport_problem(exc: Exception) -> RetryableError:
    """A transport error as a retryable failure, unless no retry can fix it (a bad base_url)."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        msg = (
            f"cannot call Mixpanel ({type(exc).__name__}): check base_url "
            "(it must look like https://host[:port])"
        )
        raise MixpanelError(msg) from exc
    return RetryableError(f"connection problem ({type(exc).__name__})")


def check_status(
    response: httpx.Response,
    what: str,
    redact: Callable[[str], str],
    refused: frozenset[int] = frozenset(),
) -> None:
    """Return on a 2xx, else raise what the status means (``refused``: :class:`RefusedError`)."""
    status = response.status_code
    if status < 300:
        return
    body = redact(" ".join(response.text.split()))[:200]
    if status in refused:
        msg = f"Mixpanel refused {what} (HTTP {status})"
        raise RefusedError(msg)
    jql = _jql_failure(status, redact(_error_text(response, body))[:300], what)
    if jql:
        raise JqlFailure(jql)
    if status == 429:
        raise RetryableError(
            "HTTP 429 Too Many Requests",
            retry_after=_retry_after(response),
            rate_limited=True,
        )
    if status >= 500 or status == 408:
        raise RetryableError(f"HTTP {status}", retry_after=_retry_after(response))
    raise MixpanelError(_refusal(status, body, what))


def _error_text(response: httpx.Response, body: str) -> str:
    """The Query API body's ``error`` (its ``{request, error}`` object), else the body."""
    try:
        decoded = response.json()
    except ValueError:
        return body
    error = decoded.get("error") if isinstance(decoded, dict) else None
    return " ".join(error.split()) if isinstance(error, str) else body


def _jql_failure(status: int, error: str, what: str) -> str | None:
    """The one line of a JQL answer that fails only its query; None for any other answer."""
    lowered = error.lower()
    if status == 403 and JQL_UNAVAILABLE_TEXT in lowered:
        return f"Mixpanel answered that JQL is not available to this project ({what}): {error}"
    if status == 400 and lowered.startswith(JQL_SCRIPT_ERROR_TEXT):
        return f"the JQL script threw ({what}, HTTP 400): {error}"
    return None


def _refusal(status: int, body: str, what: str) -> str:
    """The one-line message of a status no retry can fix, saying what to change."""
    if status in {401, 403} or "unable to authenticate" in body.lower():
        return (
            f"Mixpanel rejected the credentials (HTTP {status}) for {what}: check "
            "service_account_username/service_account_secret (or api_secret/oauth_token) "
            "and project_id, and that the service account has access to the project; "
            "if the project is EU- or India-resident set data_residency to EU or IN"
        )
    if status == 402:
        return (
            "Mixpanel answered 402 Payment Required: this project's plan has no API access "
            "(or its data limits are exceeded); upgrade the Mixpanel plan or deselect the "
            "stream that needs it"
        )
    if status == 400 and "to_date cannot be later than today" in body:
        return (
            f"Mixpanel refused {what}: 'to_date cannot be later than today' in the project's "
            "timezone; set project_timezone to the project's timezone (projects created "
            "before 2023 export in local time) or set an earlier end_date"
        )
    if status == 404:
        return f"Mixpanel answered 404 Not Found for {what}: check base_url and data_residency"
    return f"Mixpanel refused {what} (HTTP {status}): {body or '(empty body)'}"


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` seconds Mixpanel asked for, if it sent a plain number of them."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if re.fullmatch(r"\d{1,6}", value) else None

"""The one HTTP client of the tap: Mixpanel hosts, auth, retries and error messages.

Every Mixpanel call goes through :class:`MixpanelClient` (httpx). It knows the host of each
API family per data residency (or one ``base_url`` for all of them), builds the auth header,
retries 429/5xx/transport errors with exponential backoff (honouring ``Retry-After``), counts
the calls it spends against Mixpanel's hourly budget, and turns every failure it cannot fix
into a :class:`MixpanelError` whose one-line message says what to do. Secrets never reach a
message or a log line.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import msgspec

from tap_mixpanel_tajo.errors import TapError
from tap_mixpanel_tajo.lone_surrogates import without_lone_surrogates
from tap_mixpanel_tajo.query_budget import QueryBudget
from tap_mixpanel_tajo.redaction import Redactor

EXPORT_HOSTS = {
    "US": "https://data.mixpanel.com",
    "EU": "https://data-eu.mixpanel.com",
    "IN": "https://data-in.mixpanel.com",
}
QUERY_HOSTS = {
    "US": "https://mixpanel.com",
    "EU": "https://eu.mixpanel.com",
    "IN": "https://in.mixpanel.com",
}
#: The ingestion hosts, where the documented lookup-tables list lives.
INGESTION_HOSTS = {
    "US": "https://api.mixpanel.com",
    "EU": "https://api-eu.mixpanel.com",
    "IN": "https://api-in.mixpanel.com",
}
EXPORT_PATH = "/api/2.0/export"
QUERY_PATH = "/api/query"
#: The App API (on the query hosts); undocumented, used by Mixpanel's own mixpanel-headless.
APP_PATH = "/api/app"
#: What an App API answers when it will not serve this caller (or does not exist here).
APP_API_REFUSED = frozenset({401, 403, 404})
#: Engage answers pages of this many profiles unless its response says otherwise.
ENGAGE_PAGE_SIZE = 1000

#: Final lines Mixpanel writes into a 200 body when it aborted the export part-way.
TERMINATED_EARLY = (b"terminated early", b"export terminated early")

_LOGGER = logging.getLogger("tap-mixpanel-tajo")


_DECODERS: dict[type, msgspec.json.Decoder] = {}


def _line_decoder(line_type: type) -> msgspec.json.Decoder:
    """One decoder per line type, built on its first use and kept."""
    if line_type not in _DECODERS:
        _DECODERS[line_type] = msgspec.json.Decoder(line_type)
    return _DECODERS[line_type]


class MixpanelError(TapError):
    """A Mixpanel call that failed for good; ``str(error)`` is one line saying what to do."""


class RefusedError(MixpanelError):
    """Mixpanel refused a call it may refuse (an undocumented App API): the caller falls back."""


class _NotUtf8Error(Exception):
    """An export line whose bytes are not UTF-8: skipped and counted, never fatal."""


class _CallsAtDebug(logging.Filter):
    """httpx logs every request at INFO: one line per call is detail, shown at DEBUG only."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote INFO to DEBUG; keep the record only if its logger is enabled for it."""
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= logging.getLogger(record.name).getEffectiveLevel()


def _http_calls_at_debug() -> None:
    """Install :class:`_CallsAtDebug` on httpx's logger, once per process."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _CallsAtDebug) for f in httpx_logger.filters):
        httpx_logger.addFilter(_CallsAtDebug())


class _RetryableError(Exception):
    """An attempt failed in a way worth retrying (429, 5xx, dropped stream, truncated export)."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited


def _default_sleep(seconds: float) -> None:
    time.sleep(seconds)


@dataclass(frozen=True)
class Credentials:
    """Resolved Mixpanel credentials (``mode``: ``service_account``, ``oauth``, ``api_secret``)."""

    service_account_username: str | None = None
    service_account_secret: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    project_id: str | None = None

    @property
    def mode(self) -> str:
        """Which auth scheme these credentials use (service account wins, then OAuth)."""
        if self.service_account_username and self.service_account_secret:
            return "service_account"
        if self.oauth_token:
            return "oauth"
        if self.api_secret:
            return "api_secret"
        return "none"

    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        mode = self.mode
        if mode == "service_account":
            pair = f"{self.service_account_username}:{self.service_account_secret}"
            return "Basic " + base64.b64encode(pair.encode()).decode()
        if mode == "oauth":
            return f"Bearer {self.oauth_token}"
        if mode == "api_secret":
            return "Basic " + base64.b64encode(f"{self.api_secret}:".encode()).decode()
        msg = "no Mixpanel credentials configured"
        raise MixpanelError(msg)

    def secrets(self) -> list[str]:
        """Every secret value, for redaction."""
        values = [self.service_account_secret, self.api_secret, self.oauth_token]
        return [value for value in values if value]

    def basic_pairs(self) -> list[str]:
        """The ``user:secret`` texts Basic auth sends base64-encoded, for redaction."""
        pairs = []
        if self.service_account_username and self.service_account_secret:
            pairs.append(f"{self.service_account_username}:{self.service_account_secret}")
        if self.api_secret:
            pairs.append(f"{self.api_secret}:")
        return pairs


@dataclass
class _Attempts:
    """Retry bookkeeping for one logical call (a request or a whole export window)."""

    what: str
    failures: int = 0
    last_reason: str = ""
    rate_limited: bool = False


class MixpanelClient:
    """Calls Mixpanel over httpx with residency-aware hosts, auth and retries."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        data_residency: str = "US",
        base_url: str | None = None,
        max_retries: int = 5,
        max_retry_wait_seconds: float = 300.0,
        backoff_base_seconds: float = 2.0,
        rate_limit_base_seconds: float = 30.0,
        timeout_seconds: float = 300.0,
        sleep: Callable[[float], None] | None = None,
        logger: logging.Logger | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: QueryBudget | None = None,
    ) -> None:
        residency = (data_residency or "US").upper()
        if residency not in EXPORT_HOSTS:
            msg = f"data_residency must be US, EU or IN, not {data_residency!r}"
            raise MixpanelError(msg)
        self.credentials = credentials
        self.data_residency = residency
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_retries = max_retries
        self.max_retry_wait_seconds = max_retry_wait_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.rate_limit_base_seconds = rate_limit_base_seconds
        self.logger = logger or _LOGGER
        self._sleep = sleep or _default_sleep
        #: The run's Query API budget, which every Query API request takes a slot from.
        self.budget = budget
        #: Requests sent to Mixpanel (retries included): the budget is ~60 per hour.
        self.calls = 0
        self._redact = Redactor(credentials.secrets(), pairs=credentials.basic_pairs())
        _http_calls_at_debug()
        self._http = httpx.Client(
            headers={
                "Authorization": credentials.authorization(),
                "Accept-Encoding": "gzip",
                "User-Agent": "tap-mixpanel-tajo",
            },
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 30.0)),
            transport=transport,
            follow_redirects=False,
        )

    # Hosts and parameters

    @property
    def export_url(self) -> str:
        """The Raw Export endpoint for this residency (or ``base_url``)."""
        return (self.base_url or EXPORT_HOSTS[self.data_residency]) + EXPORT_PATH

    def query_url(self, endpoint: str) -> str:
        """A Query API endpoint, e.g. ``query_url("engage")``."""
        host = self.base_url or QUERY_HOSTS[self.data_residency]
        return f"{host}{QUERY_PATH}/{endpoint.lstrip('/')}"

    def ingestion_url(self, path: str) -> str:
        """An ingestion API endpoint, e.g. ``ingestion_url("lookup-tables")``."""
        host = self.base_url or INGESTION_HOSTS[self.data_residency]
        return f"{host}/{path.lstrip('/')}"

    def app_url(self, path: str) -> str:
        """A project-scoped App API endpoint; needs ``project_id`` (its path carries it)."""
        project_id = self.credentials.project_id
        if not project_id:
            msg = "the App API needs project_id (it is part of the App API's paths)"
            raise RefusedError(msg)
        host = self.base_url or QUERY_HOSTS[self.data_residency]
        return f"{host}{APP_PATH}/projects/{project_id}/{path.lstrip('/')}"

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        if self.credentials.project_id:
            merged["project_id"] = self.credentials.project_id
        merged.update({key: value for key, value in (params or {}).items() if value is not None})
        return merged

    # Public calls

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        what: str = "Mixpanel request",
        refused: frozenset[int] = frozenset(),
    ) -> Any:
        """Send one (retried) request and return its decoded JSON body.

        A status in ``refused`` raises :class:`RefusedError` (never retried).
        """
        attempts = _Attempts(what)
        while True:
            try:
                self.calls += 1
                send = partial(
                    self._http.request, method, url, params=self._params(params), data=data
                )
                response = self.budget.send(url, send, data) if self.budget else send()
                self._check_status(response, what, refused)
                return msgspec.json.decode(response.content)
            except _RetryableError as exc:
                self._back_off(attempts, exc)
            except msgspec.DecodeError as exc:
                msg = f"{what}: Mixpanel answered with a body that is not JSON"
                raise MixpanelError(msg) from exc
            except httpx.TransportError as exc:
                self._back_off(attempts, self._transport_problem(exc))

    def iter_export(
        self,
        from_date: str,
        to_date: str,
        *,
        event_names: list[str] | None = None,
        where: str | None = None,
        on_restart: Callable[[], None] | None = None,
        line_type: type[Any] = dict,
    ) -> Iterator[Any]:
        r"""Stream one Raw Export window (inclusive dates), yielding each event as ``line_type``.

        ``line_type`` is a dict, or a ``msgspec.Struct`` that may leave parts of a line encoded
        (``msgspec.Raw``). The body is read chunk by chunk and split on ``b"\\n"`` only, so a
        JSON string holding U+2028 (or any other character ``str.splitlines`` would split on)
        stays in its record.
        A ``terminated early`` line or a transport error mid-stream fails the window: it is
        fetched again from the start, after a backoff, counted against ``max_retries``.
        ``on_restart`` is called before each refetch, so the caller can drop records it has
        already emitted.
        """
        params = {"from_date": from_date, "to_date": to_date}
        if event_names:
            params["event"] = msgspec.json.encode(event_names).decode()
        if where:
            params["where"] = where
        what = f"export {from_date}..{to_date}"
        attempts = _Attempts(what)
        while True:
            try:
                self.calls += 1
                with self._http.stream("GET", self.export_url, params=self._params(params)) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        self._check_status(resp, what)
                    yield from self._iter_jsonl(resp, what, _line_decoder(line_type))
                return
            except _RetryableError as exc:
                self._back_off(attempts, exc)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                self._back_off(attempts, self._transport_problem(exc))
            if on_restart is not None:
                on_restart()

    def iter_engage(
        self,
        form: dict[str, Any] | None = None,
        *,
        what: str = "engage",
        on_restart: Callable[[], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Page through one Engage query (``POST``, form body), yielding each response page.

        Page 0 opens a session; later pages repeat the query with page 0's ``session_id`` and
        ``page=N``. Paging stops on a short page (fewer results than ``page_size``), an empty
        page or a missing ``session_id``. The session lives only inside this call. A later page
        that still fails after retries (the session may have expired) restarts the query from
        page 0 once, after calling ``on_restart``; a second such failure is raised.
        """
        base = {key: value for key, value in (form or {}).items() if value is not None}
        url = self.query_url("engage")
        restarted = False
        while True:
            page, session_id = 0, None
            try:
                while True:
                    data = {**base, "session_id": session_id, "page": page} if page else base
                    body = self.request_json("POST", url, data=data, what=f"{what} page {page}")
                    results = body.get("results") if isinstance(body, dict) else None
                    if not isinstance(results, list):
                        msg = f"{what} page {page}: Mixpanel answered without a results list"
                        raise MixpanelError(msg)
                    yield body
                    page_size = body.get("page_size")
                    if not isinstance(page_size, int) or page_size <= 0:
                        page_size = ENGAGE_PAGE_SIZE
                    session_id = body.get("session_id")
                    if len(results) < page_size or not session_id:
                        return
                    page += 1
            except MixpanelError as exc:
                if page == 0 or restarted:
                    raise
                restarted = True
                self.logger.warning(
                    "%s page %d failed (%s); restarting the query from page 0 once",
                    what,
                    page,
                    exc,
                )
                if on_restart is not None:
                    on_restart()

    def daily_event_counts(
        self, from_date: str, to_date: str, event_names: list[str]
    ) -> dict[str, int]:
        """Mixpanel's own count of ``event_names`` per day (inclusive dates), summed over names.

        ``GET /api/query/events`` with ``type=general`` and ``unit=day``: Mixpanel's daily
        totals, as its reports count them. A day the answer leaves out counted nothing.
        """
        what = f"event counts {from_date}..{to_date}"
        params = {
            "event": msgspec.json.encode(event_names).decode(),
            "type": "general",
            "unit": "day",
            "from_date": from_date,
            "to_date": to_date,
        }
        body = self.request_json("GET", self.query_url("events"), params=params, what=what)
        data = body.get("data") if isinstance(body, dict) else None
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            msg = f"{what}: Mixpanel answered without data.values of daily counts per event"
            raise MixpanelError(msg)
        totals: dict[str, int] = {}
        for per_day in values.values():
            for day, count in per_day.items():
                if isinstance(count, bool) or not isinstance(count, int):
                    msg = f"{what}: Mixpanel answered a count that is not an integer ({count!r})"
                    raise MixpanelError(msg)
                totals[day] = totals.get(day, 0) + count
        return totals

    def list_cohorts(self) -> list[dict[str, Any]]:
        """The project's cohorts (``POST /api/query/cohorts/list``, a bare JSON array)."""
        what = "cohorts list"
        body = self.request_json("POST", self.query_url("cohorts/list"), data={}, what=what)
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            msg = f"{what}: Mixpanel answered with something other than a list of cohorts"
            raise MixpanelError(msg)
        return body

    def list_lookup_tables(self) -> list[dict[str, Any]]:
        """The project's lookup tables (documented ``GET /lookup-tables``): ``[{id, name}]``."""
        what = "lookup tables list"
        body = self.request_json("GET", self.ingestion_url("lookup-tables"), what=what)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            msg = f"{what}: Mixpanel answered without a results list of tables"
            raise MixpanelError(msg)
        return results

    def list_lookup_table_groups(self) -> list[dict[str, Any]]:
        """The lookup tables as data groups (undocumented App API): ``[{id, name, ...}]``.

        ``id`` is the table's data-group-id, which the download needs. mixpanel-headless reads
        the entries from ``results``; a bare list is accepted too.
        """
        what = "App API lookup tables list"
        url = self.app_url("data-definitions/lookup-tables/")
        body = self.request_json("GET", url, what=what, refused=APP_API_REFUSED)
        results = body.get("results") if isinstance(body, dict) else body
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            msg = f"{what}: Mixpanel answered without a list of tables"
            raise RefusedError(msg)
        return results

    def iter_lookup_table(self, data_group_id: str) -> Iterator[bytes]:
        """Stream one lookup table's CSV (undocumented App API download), chunk by chunk.

        Failures before the body starts are retried as any call is; 401/403/404 raise
        :class:`RefusedError`. A body that breaks off part-way raises :class:`MixpanelError`:
        the caller has already read rows, so it decides (another source, or stop the table).
        """
        what = f"lookup table download (data-group-id {data_group_id})"
        url = self.app_url("data-definitions/lookup-tables/download/")
        params = {"data-group-id": data_group_id}
        attempts = _Attempts(what)
        while True:
            try:
                self.calls += 1
                with self._http.stream("GET", url, params=self._params(params)) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        self._check_status(resp, what, APP_API_REFUSED)
                    try:
                        yield from resp.iter_bytes()
                    except (httpx.TransportError, httpx.DecodingError) as exc:
                        msg = f"{what} broke off part-way ({type(exc).__name__})"
                        raise MixpanelError(msg) from exc
                return
            except _RetryableError as exc:
                self._back_off(attempts, exc)
            except httpx.TransportError as exc:
                self._back_off(attempts, self._transport_problem(exc))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # Internals

    def _iter_jsonl(
        self, response: httpx.Response, what: str, decoder: msgspec.json.Decoder
    ) -> Iterator[Any]:
        not_utf8 = 0
        repaired = [0]
        for line in _split_lines(response.iter_bytes()):
            try:
                record = self._decode_line(line, what, decoder, repaired)
            except _NotUtf8Error:
                not_utf8 += 1
                continue
            if record is not None:
                yield record
        if not_utf8:
            self.logger.warning(
                "%s: skipped %d line(s) that are not UTF-8 text (Mixpanel exports UTF-8 JSON)",
                what,
                not_utf8,
            )
        if repaired[0]:
            self.logger.warning(
                "%s: %d event(s) held a broken \\u escape (a lone UTF-16 surrogate); passed on "
                "with U+FFFD in its place",
                what,
                repaired[0],
            )

    def _decode_line(
        self, line: bytes, what: str, decoder: msgspec.json.Decoder, repaired: list[int]
    ) -> Any:
        line = line.strip()
        if not line:
            return None
        if line in TERMINATED_EARLY:
            msg = "Mixpanel ended the export early ('terminated early')"
            raise _RetryableError(msg)
        # Checked first: msgspec does not check the text of the parts it leaves encoded.
        if not (line.isascii() or _is_utf8(line)):
            raise _NotUtf8Error
        if b"\\ud" in line or b"\\uD" in line:
            fixed = without_lone_surrogates(line)
            if fixed is not line:
                repaired[0] += 1
                line = fixed
        try:
            return decoder.decode(line)
        except msgspec.ValidationError as exc:
            msg = f"{what}: Mixpanel sent a line that is not a JSON object"
            raise MixpanelError(msg) from exc
        except msgspec.DecodeError as exc:
            snippet = self._redact(line[:80].decode("utf-8", "replace"))
            msg = f"{what}: Mixpanel sent a line that is not JSON ({snippet!r})"
            raise MixpanelError(msg) from exc

    def _transport_problem(self, exc: Exception) -> _RetryableError:
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            msg = (
                f"cannot call Mixpanel ({type(exc).__name__}): check base_url "
                "(it must look like https://host[:port])"
            )
            raise MixpanelError(msg) from exc
        return _RetryableError(f"connection problem ({type(exc).__name__})")

    def _check_status(
        self, response: httpx.Response, what: str, refused: frozenset[int] = frozenset()
    ) -> None:
        status = response.status_code
        if status < 300:
            return
        body = self._redact(" ".join(response.text.split()))[:200]
        if status in refused:
            msg = f"Mixpanel refused {what} (HTTP {status})"
            raise RefusedError(msg)
        if status == 429:
            raise _RetryableError(
                "HTTP 429 Too Many Requests",
                retry_after=_retry_after(response),
                rate_limited=True,
            )
        if status >= 500 or status == 408:
            raise _RetryableError(f"HTTP {status}", retry_after=_retry_after(response))
        if status in {401, 403} or "unable to authenticate" in body.lower():
            msg = (
                f"Mixpanel rejected the credentials (HTTP {status}) for {what}: check "
                "service_account_username/service_account_secret (or api_secret/oauth_token) "
                "and project_id, and that the service account has access to the project; "
                "if the project is EU- or India-resident set data_residency to EU or IN"
            )
            raise MixpanelError(msg)
        if status == 402:
            msg = (
                "Mixpanel answered 402 Payment Required: this project's plan has no API access "
                "(or its data limits are exceeded); upgrade the Mixpanel plan or deselect the "
                "stream that needs it"
            )
            raise MixpanelError(msg)
        if status == 400 and "to_date cannot be later than today" in body:
            msg = (
                f"Mixpanel refused {what}: 'to_date cannot be later than today' in the project's "
                "timezone; set project_timezone to the project's timezone (projects created "
                "before 2023 export in local time) or set an earlier end_date"
            )
            raise MixpanelError(msg)
        if status == 404:
            msg = f"Mixpanel answered 404 Not Found for {what}: check base_url and data_residency"
            raise MixpanelError(msg)
        msg = f"Mixpanel refused {what} (HTTP {status}): {body or '(empty body)'}"
        raise MixpanelError(msg)

    def _back_off(self, attempts: _Attempts, exc: _RetryableError) -> None:
        attempts.failures += 1
        attempts.last_reason = exc.reason
        if attempts.failures > self.max_retries:
            hint = "try again later or raise max_retries"
            if exc.rate_limited:
                hint = (
                    "Mixpanel allows ~60 queries per hour per project: wait for the hourly "
                    "budget to refill, use a larger window_days, or raise max_retries / "
                    "max_retry_wait_seconds"
                )
            msg = (
                f"{attempts.what} still failing after {self.max_retries} "
                f"{'retry' if self.max_retries == 1 else 'retries'} "
                f"({exc.reason}); {hint}"
            )
            raise MixpanelError(msg) from None
        base = self.rate_limit_base_seconds if exc.rate_limited else self.backoff_base_seconds
        delay = base * 2 ** (attempts.failures - 1)
        if exc.retry_after is not None:
            delay = exc.retry_after
        delay = max(0.0, min(delay, self.max_retry_wait_seconds))
        self.logger.warning(
            "%s: %s; retry %d of %d in %.1f s (%d API calls so far)",
            attempts.what,
            exc.reason,
            attempts.failures,
            self.max_retries,
            delay,
            self.calls,
        )
        self._sleep(delay)


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    r"""The lines of a body read in chunks, split on ``b"\n"`` only (the last may be empty)."""
    buffer = b""
    for chunk in chunks:
        if b"\n" not in chunk:
            buffer += chunk
            continue
        *lines, buffer = (buffer + chunk).split(b"\n")
        yield from lines
    yield buffer


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if re.fullmatch(r"\d{1,6}", value) else None

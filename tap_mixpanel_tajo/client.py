"""The one HTTP client of the tap: Mixpanel hosts, auth, retries and error messages.

Every Mixpanel call goes through :class:`MixpanelClient` (httpx). It knows the host of each
API family per data residency (or one ``base_url`` for all of them), sends the auth header of
:mod:`.auth`, retries what :mod:`.http_errors` calls retryable as :mod:`.retry` says (counting
the calls it spends against Mixpanel's hourly budget), and turns every failure it cannot fix
into a :class:`MixpanelError` whose one-line message says what to do. Secrets never reach a
message or a log line. Export bodies are read by :mod:`.export_body`, Engage pages by
:mod:`.engage_paging`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import msgspec

from tap_mixpanel_tajo.auth import Credentials
from tap_mixpanel_tajo.engage_paging import engage_pages
from tap_mixpanel_tajo.export_body import ExportBody, line_decoder
from tap_mixpanel_tajo.http_errors import (
    MixpanelError,
    RefusedError,
    RetryableError,
    check_status,
    transport_problem,
)
from tap_mixpanel_tajo.query_budget import QueryBudget
from tap_mixpanel_tajo.redaction import Redactor
from tap_mixpanel_tajo.retry import Attempts, RetryPolicy

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
_LOGGER = logging.getLogger("tap-mixpanel-tajo")


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


def _default_sleep(seconds: float) -> None:
    time.sleep(seconds)


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
        self.retry = RetryPolicy(
            max_retries, max_retry_wait_seconds, backoff_base_seconds, rate_limit_base_seconds
        )
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
        attempts = Attempts(what)
        while True:
            try:
                self.calls += 1
                send = partial(
                    self._http.request, method, url, params=self._params(params), data=data
                )
                response = self.budget.send(url, send, data) if self.budget else send()
                check_status(response, what, self._redact, refused)
                return msgspec.json.decode(response.content)
            except RetryableError as exc:
                self._back_off(attempts, exc)
            except msgspec.DecodeError as exc:
                msg = f"{what}: Mixpanel answered with a body that is not JSON"
                raise MixpanelError(msg) from exc
            except httpx.TransportError as exc:
                self._back_off(attempts, transport_problem(exc))

    def iter_export(self, from_date: str, to_date: str, **options: Any) -> Iterator[Any]:
        """Stream one Raw Export window (inclusive dates), yielding its events one by one.

        The events of :meth:`export_blocks` (which takes the same ``options``), one at a time.
        """
        for events in self.export_blocks(from_date, to_date, **options):
            yield from events

    def export_blocks(
        self,
        from_date: str,
        to_date: str,
        *,
        event_names: list[str] | None = None,
        where: str | None = None,
        on_restart: Callable[[], None] | None = None,
        line_type: type[Any] = dict,
    ) -> Iterator[list[Any]]:
        r"""Stream one Raw Export window (inclusive dates), yielding its events block by block.

        Each event is a ``line_type``: a dict, or a ``msgspec.Struct`` that may leave parts of
        a line encoded (``msgspec.Raw``). The body is read chunk by chunk and split on
        ``b"\\n"`` only, so a JSON string holding U+2028 (or any other character
        ``str.splitlines`` would split on) stays in its record; a list holds the events of the
        lines one chunk completed (:meth:`ExportBody.blocks`).
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
        body = ExportBody(what, line_decoder(line_type), self._redact, self.logger)
        attempts = Attempts(what)
        while True:
            try:
                self.calls += 1
                with self._http.stream("GET", self.export_url, params=self._params(params)) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        check_status(resp, what, self._redact)
                    yield from body.blocks(resp.iter_bytes())
                return
            except RetryableError as exc:
                self._back_off(attempts, exc)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                self._back_off(attempts, transport_problem(exc))
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
        return engage_pages(self, form, what=what, on_restart=on_restart)

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
        attempts = Attempts(what)
        while True:
            try:
                self.calls += 1
                with self._http.stream("GET", url, params=self._params(params)) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        check_status(resp, what, self._redact, APP_API_REFUSED)
                    try:
                        yield from resp.iter_bytes()
                    except (httpx.TransportError, httpx.DecodingError) as exc:
                        msg = f"{what} broke off part-way ({type(exc).__name__})"
                        raise MixpanelError(msg) from exc
                return
            except RetryableError as exc:
                self._back_off(attempts, exc)
            except httpx.TransportError as exc:
                self._back_off(attempts, transport_problem(exc))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _back_off(self, attempts: Attempts, exc: RetryableError) -> None:
        """Wait before the next attempt of a failed call, saying why (or raise when spent)."""
        delay = self.retry.next_delay(attempts, exc)
        self.logger.warning(
            "%s: %s; retry %d of %d in %.1f s (%d API calls so far)",
            attempts.what,
            exc.reason,
            attempts.failures,
            self.retry.max_retries,
            delay,
            self.calls,
        )
        self._sleep(delay)

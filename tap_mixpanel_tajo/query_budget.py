"""Mixpanel's Query API budget, shared by every Query API call of one run.

Mixpanel allows each project 60 Query API calls in any hour and 5 running at once, shared by
Engage (profiles, groups, cohort members), cohorts, the reports, JQL and the export count check.
Going over costs a 429 and, after a few retries, the run. :class:`QueryBudget` keeps a run
inside both limits: a call waits for a free slot (at most ``concurrency`` in flight) and, when
the hour's budget is spent, for the oldest call of the sliding hour to leave it. It never fails
for budget. A 429 whose body says "Query rate limit exceeded" is read: its "61/60 queries ... in
the last hour" figure corrects the budget's view (calls made by others on the same project), so
the retry waits as long as it must. The Raw Export API has limits of its own and the App API is
not the Query API: neither takes from this budget.

A sliding window of call times, with an injectable clock and sleep, is all it needs: a rate
limiter library would add a dependency for the same deque, and none reads Mixpanel's 429 body.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import httpx

#: The path of every Query API endpoint, on every host (and after a ``base_url``'s path).
QUERY_API_PATH = "/api/query/"
HOUR_SECONDS = 3600.0
#: What Mixpanel's Query API writes in a 429 body when the project's budget is spent.
RATE_LIMIT_TEXT = "query rate limit exceeded"
_HOURLY = re.compile(r"(\d+)\s*/\s*(\d+)\s+queries\s+running\s+in\s+the\s+last\s+hour", re.I)

_LOGGER = logging.getLogger("tap-mixpanel-tajo")


def _default_sleep(seconds: float) -> None:
    time.sleep(seconds)


def is_query_api(url: str) -> bool:
    """Whether ``url`` is a Query API endpoint (``/api/query/...``), which the budget covers.

    A ``base_url`` may put a path before it (the sandbox serves Mixpanel under ``/mixpanel``).
    """
    return QUERY_API_PATH in httpx.URL(url).path


def hourly_figure(body: str) -> tuple[int, int] | None:
    """``(used, limit)`` from a Query API 429 body ("61/60 queries running in the last hour")."""
    if RATE_LIMIT_TEXT not in body.lower():
        return None
    found = _HOURLY.search(body)
    return (int(found.group(1)), int(found.group(2))) if found else None


class QueryBudget:
    """At most ``concurrency`` Query API calls in flight and ``per_hour`` in any sliding hour.

    ``clock`` returns seconds (monotonic); ``sleep`` waits. Both are injectable for tests.
    """

    def __init__(
        self,
        per_hour: int = 60,
        concurrency: int = 5,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.per_hour = max(1, per_hour)
        self.concurrency = max(1, concurrency)
        self._clock = clock
        self._sleep = sleep or _default_sleep
        self.logger = logger or _LOGGER
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        #: When each call of the last hour started (oldest first), as the clock tells.
        self._window: deque[float] = deque()
        self.calls = 0
        self.later_pages = 0
        self.waits = 0
        self.waited_seconds = 0.0
        self.rate_limited = 0

    def send(
        self, url: str, call: Callable[[], httpx.Response], form: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """Make ``call`` (a request to ``url`` with ``form``) within the budget, if Query API.

        A later page of an Engage query (its ``form`` carries page 0's ``session_id``) holds a
        concurrency slot but does not take from the hour: Mixpanel counts the query once, at
        its first page (reported by Airbyte, airbytehq/airbyte#57513); counting every page
        would hold a 100-page profiles read to 60 pages an hour.
        """
        if not is_query_api(url):
            return call()
        with self._slots:
            if form and form.get("session_id"):
                self.later_pages += 1
            else:
                self._take_hourly_slot()
            response = call()
        if response.status_code == 429:
            self.note_rate_limited(response)
        return response

    def note_rate_limited(self, response: httpx.Response) -> None:
        """Count a 429; when its body gives the hour's figure, take it as the budget's view."""
        self.rate_limited += 1
        response.read()
        figure = hourly_figure(response.text)
        if figure is None:
            return
        used, limit = figure
        with self._lock:
            if 0 < limit < self.per_hour:
                self.per_hour = limit
            now = self._clock()
            self._forget_before(now - HOUR_SECONDS)
            # Calls this run did not make (other clients of the project): when they leave the
            # hour is unknown, so they are taken as made now; the retry waits for room.
            self._window.extend([now] * max(0, used - len(self._window)))
        self.logger.info(
            "Query API budget: Mixpanel counts %d of %d queries in the last hour "
            "(this run made %d); the retry waits for room",
            used,
            limit,
            self.calls,
        )

    def summary(self) -> str:
        """What the run spent, in one line."""
        return (
            f"Query API budget: {self.calls} calls (limit {self.per_hour} an hour, "
            f"{self.concurrency} at once) and {self.later_pages} later Engage pages, "
            f"{self.waits} waits ({self.waited_seconds:.0f} s), "
            f"{self.rate_limited} rate-limited answers (429)"
        )

    def log_summary(self) -> None:
        """Log :meth:`summary` at INFO (at the end of the run)."""
        self.logger.info("%s", self.summary())

    def _take_hourly_slot(self) -> None:
        """Wait until the sliding hour has room, then count this call in it.

        After the wait the calls it waited for have left the hour, whatever the clock says
        (a sleep replaced in tests does not move it).
        """
        with self._lock:
            now = self._clock()
            self._forget_before(now - HOUR_SECONDS)
            if len(self._window) >= self.per_hour:
                # The call that frees a place: the oldest ones beyond the budget leave first.
                frees_at = self._window[len(self._window) - self.per_hour] + HOUR_SECONDS
                delay = frees_at - now
                self._log_wait(delay)
                self.waits += 1
                self.waited_seconds += delay
                self._sleep(delay)
                self._forget_before(frees_at - HOUR_SECONDS)
                now = max(self._clock(), frees_at)
            self._window.append(now)
            self.calls += 1

    def _forget_before(self, cutoff: float) -> None:
        while self._window and self._window[0] <= cutoff:
            self._window.popleft()

    def _log_wait(self, delay: float) -> None:
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delay)
        self.logger.info(
            "Query API budget spent (%d calls in the last hour, limit %d): waiting %.0f s, "
            "until %s UTC",
            len(self._window),
            self.per_hour,
            delay,
            until.strftime("%H:%M:%S"),
        )

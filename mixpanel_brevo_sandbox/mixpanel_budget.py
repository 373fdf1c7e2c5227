"""Mixpanel's Query API budget per project: calls in a sliding hour, and calls running at once.

Every Query API endpoint shares it (engage, cohorts/list, the event counts, insights, funnels,
segmentation, retention, jql); the Raw Export API and the App API do not take from it. Engage's
later pages (``session_id`` given) are free, as Mixpanel support told Airbyte and Mixpanel's own
client assumes. Over budget, the call is answered Mixpanel's 429 instead of the API; a refused call
does not take from the hour.

Off unless enabled (``SandboxServer(mixpanel_query_budget=(60, 5))`` or the admin API): the
existing tests make far more calls than an hour allows. What was spent is counted either way,
so a test can assert a run stayed within Mixpanel's budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .mixpanel_project import PROJECT_ID
from .wire import Request, Response, json_response

Clock = Callable[[], float]
HOUR_SECONDS = 3600.0
#: Mixpanel's documented Query API limits (query.openapi.yaml: 60 an hour, 5 at once).
MIXPANEL_LIMITS = (60, 5)
_QUERY_ENDPOINTS = (
    "engage",
    "cohorts/list",
    "events",
    "insights",
    "funnels",
    "funnels/list",
    "segmentation",
    "retention",
    "jql",
)
#: Query API paths, under the documented ``/api/query`` and the legacy ``/api/2.0`` alias.
QUERY_PATHS = frozenset(
    f"{prefix}/{endpoint}" for prefix in ("/api/query", "/api/2.0") for endpoint in _QUERY_ENDPOINTS
)


def is_query_call(request: Request) -> bool:
    """True for a Query API call that takes from the budget."""
    path = request.path.rstrip("/")
    if path not in QUERY_PATHS:
        return False
    return not (path.endswith("/engage") and request.form().get("session_id"))


@dataclass(frozen=True)
class BudgetLimits:
    """At most ``per_hour`` calls in any sliding hour and ``concurrency`` running at once."""

    per_hour: int
    concurrency: int

    @classmethod
    def from_pair(cls, pair: tuple[int, int] | None) -> BudgetLimits | None:
        """``(per_hour, concurrency)``, both positive integers; None turns the budget off."""
        if pair is None:
            return None
        per_hour, concurrency = pair
        for name, value in (("per_hour", per_hour), ("concurrency", concurrency)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer")
        return cls(per_hour, concurrency)


class QueryBudget:
    """The project's Query API budget; ``clock`` (seconds, monotonic) is injectable for tests.

    Moving the sandbox clock forward (``advance``) moves the sliding hour with it, so a test of a
    sandbox in another process can let an hour pass too.
    """

    def __init__(self, limits: BudgetLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.limits = limits
        self._advanced = 0.0
        self._window: deque[float] = deque()
        self.running = self.calls = self.rejected = self.peak_hour = self.peak_running = 0

    def reset(self, limits: BudgetLimits | None) -> None:
        """Apply ``limits`` (None: off) and forget what was spent; calls running stay counted."""
        with self._lock:
            self.limits = limits
            self._window.clear()
            self.calls = self.rejected = self.peak_hour = 0
            self.peak_running = self.running

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the sliding hour (the sandbox clock moved)."""
        with self._lock:
            self._advanced += seconds

    def _now(self) -> float:
        return self.clock() + self._advanced

    @contextmanager
    def running_call(self, request: Request) -> Iterator[None]:
        """Count a Query API call as running until its answer has been sent."""
        if not is_query_call(request):
            yield
            return
        with self._lock:
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1

    def admit(self, request: Request) -> Response | None:
        """Take one call from the budget: None when admitted, else Mixpanel's 429 answer."""
        if not is_query_call(request):
            return None
        with self._lock:
            now = self._now()
            while self._window and self._window[0] <= now - HOUR_SECONDS:
                self._window.popleft()
            running, hour = max(self.running, 1), len(self._window) + 1
            limits = self.limits
            if limits is not None and (running > limits.concurrency or hour > limits.per_hour):
                self.rejected += 1
                wait = self._window[0] + HOUR_SECONDS - now if hour > limits.per_hour else 1.0
                return _rate_limited(request, running, hour, limits, wait)
            self._window.append(now)
            self.calls += 1
            self.peak_hour = max(self.peak_hour, len(self._window))
            return None

    def spent(self) -> dict[str, Any]:
        """The limits and what was spent: calls admitted, 429s, the busiest hour and moment."""
        with self._lock:
            now = self._now()
            in_last_hour = sum(1 for moment in self._window if moment > now - HOUR_SECONDS)
            limits = self.limits
            return {
                "enabled": limits is not None,
                "per_hour": limits.per_hour if limits else None,
                "concurrency": limits.concurrency if limits else None,
                "calls": self.calls,
                "rejected": self.rejected,
                "in_last_hour": in_last_hour,
                "running": self.running,
                "peak_hour": self.peak_hour,
                "peak_running": self.peak_running,
            }


def _rate_limited(
    request: Request, running: int, hour: int, limits: BudgetLimits, wait: float
) -> Response:
    """Mixpanel's Query API 429: the request, and both figures in the error's own words."""
    query = urlencode({k: v[0] for k, v in request.query.items() if v})
    error = (
        f"Query rate limit exceeded for project_id: {PROJECT_ID}. "
        f"{running}/{limits.concurrency} queries running concurrently and "
        f"{hour}/{limits.per_hour} queries running in the last hour. For more information, "
        "please consult our documentation at "
        "https://help.mixpanel.com/hc/en-us/articles/115004602563-Rate-Limits-for-Export-API-Endpoints"
    )
    body = {"request": f"{request.path}?{query}" if query else request.path, "error": error}
    return json_response(429, body, {"Retry-After": str(max(1, math.ceil(wait)))})

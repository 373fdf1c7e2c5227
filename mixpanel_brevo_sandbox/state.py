"""Everything the sandbox remembers, shared by the HTTP handlers and in-process callers."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from .brevo_account import BrevoAccount, check_visibility
from .brevo_companies import DEFAULT_CONTACT_SEPARATOR, BrevoCompanies, check_separator
from .brevo_limits import DEFAULT_TIER, Clock, RateLimiter, check_tier
from .brevo_oauth import DEFAULT_LIFETIME_SECONDS, TokenIssuer
from .demo_data import DemoProject, generate
from .faults import FaultRegistry
from .mixpanel_budget import BudgetLimits, QueryBudget
from .mixpanel_project import MixpanelProject
from .mixpanel_report_data import ProjectReports


def default_now() -> datetime:
    """The current UTC time truncated to the hour."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


class SandboxState:
    """Sandbox clock, Mixpanel project, Brevo account and rate limits, faults and the call log.

    Hold ``lock`` while reading or changing anything from another thread than the server's.
    ``brevo_rate_tier`` names Brevo's plan tier whose budgets apply (``unlimited`` turns them
    off); ``brevo_events_visibility_seconds`` is how long a queued event stays out of Brevo's
    ``GET /events``; ``brevo_contact_separator`` is how the companies import splits several contact
    ids in one ``associated_contact`` cell (undocumented by Brevo); ``brevo_token_lifetime_seconds``
    is how long an OAuth token lasts; ``brevo_clock`` is the monotonic clock of the rate windows,
    of that queue and of the tokens' expiry, injectable for tests.
    ``mixpanel_query_budget`` is Mixpanel's Query API budget ``(calls per hour, calls at once)``,
    None (the default) to leave it off; ``mixpanel_query_clock`` is its sliding hour's clock.
    """

    def __init__(
        self,
        seed: int = 7,
        now: datetime | None = None,
        profiles: int = 500,
        events: int = 20000,
        days: int = 8,
        *,
        brevo_rate_tier: str = DEFAULT_TIER,
        brevo_clock: Clock = time.monotonic,
        brevo_events_visibility_seconds: float = 0.0,
        brevo_contact_separator: str = DEFAULT_CONTACT_SEPARATOR,
        brevo_token_lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
        mixpanel_query_budget: tuple[int, int] | None = None,
        mixpanel_query_clock: Clock = time.monotonic,
    ) -> None:
        start = now or default_now()
        self.initial_now = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        self.lock = threading.RLock()
        self.faults = FaultRegistry()
        self.calls: list[dict[str, Any]] = []
        self._demo: DemoProject = generate(seed, self.initial_now, profiles, events, days)
        self.now = self.initial_now
        self.mixpanel = self._fresh_project()
        self.brevo_clock = brevo_clock
        self.initial_brevo_events_visibility = check_visibility(brevo_events_visibility_seconds)
        self.initial_brevo_contact_separator = check_separator(brevo_contact_separator)
        self.brevo = self._fresh_account()
        self.initial_brevo_rate_tier = check_tier(brevo_rate_tier)
        self.brevo_rates = RateLimiter(brevo_rate_tier, brevo_clock)
        self.brevo_tokens = TokenIssuer(brevo_token_lifetime_seconds, brevo_clock)
        self.initial_query_budget = BudgetLimits.from_pair(mixpanel_query_budget)
        self.query_budget = QueryBudget(self.initial_query_budget, mixpanel_query_clock)

    def _fresh_project(self) -> MixpanelProject:
        # Stored events are never mutated in place, so a shallow copy of the list is enough.
        profiles = {k: dict(v) for k, v in self._demo.profiles.items()}
        groups = {
            data_group_id: {k: dict(v) for k, v in group.items()}
            for data_group_id, group in self._demo.groups.items()
        }
        return MixpanelProject(
            DemoProject(profiles=profiles, events=list(self._demo.events), groups=groups),
            ProjectReports.demo(self.initial_now),
        )

    def _fresh_account(self) -> BrevoAccount:
        return BrevoAccount(
            BrevoCompanies(self.initial_brevo_contact_separator),
            self.brevo_clock,
            self.initial_brevo_events_visibility,
        )

    def reset(self) -> None:
        """Restore the seeded state: clock, both APIs, faults, the call log and both rate limits.

        No OAuth token issued before stays valid. Rate windows start afresh; the tier, the events
        visibility and the contact separator go back to the ones the sandbox was created with.
        """
        with self.lock:
            self.now = self.initial_now
            self.mixpanel = self._fresh_project()
            self.brevo = self._fresh_account()
            self.brevo_rates.reset(self.initial_brevo_rate_tier)
            self.brevo_tokens.reset()
            self.query_budget.reset(self.initial_query_budget)
            self.faults.clear()
            self.calls.clear()

    @property
    def now_ms(self) -> int:
        """The sandbox clock in epoch milliseconds."""
        return int(self.now.timestamp() * 1000)

    def advance_clock(self, hours: float) -> datetime:
        """Move the clock forward (reveals late-arriving events, slides Mixpanel's query hour).

        Returns the new time.
        """
        if hours < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self.lock:
            self.now += timedelta(hours=hours)
            self.query_budget.advance(hours * 3600)
            return self.now

    def record_call(
        self,
        api: str,
        method: str,
        path: str,
        query: dict[str, list[str]],
        status: int,
        *,
        bucket: str | None = None,
        at: float,
    ) -> None:
        """Append one API call to the log the admin API exposes.

        ``bucket`` is the Brevo rate bucket (None for Mixpanel), so tests can count 429s per bucket;
        ``at`` is when it arrived (seconds on a monotonic clock), so they can count
        calls per second as Brevo's budgets do.
        """
        flat = {k: v[0] if len(v) == 1 else v for k, v in query.items()}
        with self.lock:
            self.calls.append(
                {
                    "api": api,
                    "method": method,
                    "path": path,
                    "query": flat,
                    "status": status,
                    "bucket": bucket,
                    "at": at,
                }
            )

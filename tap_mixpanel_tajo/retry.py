"""How long the tap waits before retrying a Mixpanel call, and when it stops trying.

Failures back off exponentially from ``backoff_base_seconds``; a 429 (Mixpanel's hourly query
budget, ~60 per project) from the longer ``rate_limit_base_seconds``. A ``Retry-After`` Mixpanel
sends wins, and every wait is capped at ``max_retry_wait_seconds``. Past ``max_retries`` the call
fails with a message that says how to spend less of the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from tap_mixpanel_tajo.http_errors import MixpanelError, RetryableError


@dataclass
class Attempts:
    """Retry bookkeeping for one logical call (a request or a whole export window)."""

    what: str
    failures: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """The retry settings of one client."""

    max_retries: int = 5
    max_retry_wait_seconds: float = 300.0
    backoff_base_seconds: float = 2.0
    rate_limit_base_seconds: float = 30.0

    def next_delay(self, attempts: Attempts, exc: RetryableError) -> float:
        """Count the failure; the seconds to wait before the next attempt, or raise when spent."""
        attempts.failures += 1
        if attempts.failures > self.max_retries:
            raise MixpanelError(self._gave_up(attempts, exc)) from None
        base = self.rate_limit_base_seconds if exc.rate_limited else self.backoff_base_seconds
        delay = base * 2 ** (attempts.failures - 1)
        if exc.retry_after is not None:
            delay = exc.retry_after
        return max(0.0, min(delay, self.max_retry_wait_seconds))

    def _gave_up(self, attempts: Attempts, exc: RetryableError) -> str:
        """The message of a call still failing after every retry (a 429: how to spend less)."""
        hint = "try again later or raise max_retries"
        if exc.rate_limited:
            hint = (
                "Mixpanel allows ~60 queries per hour per project: wait for the hourly "
                "budget to refill, use a larger window_days, or raise max_retries / "
                "max_retry_wait_seconds"
            )
        return (
            f"{attempts.what} still failing after {self.max_retries} "
            f"{'retry' if self.max_retries == 1 else 'retries'} "
            f"({exc.reason}); {hint}"
        )

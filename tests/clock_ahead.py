"""Run the target as on a host whose clock runs five minutes ahead: ``python -m tests.clock_ahead``.

Python's clock (``datetime.now``, ``time.time``) is moved before anything else is imported; the
database's clock is left alone, as another host's database server would be.
"""

from __future__ import annotations

import datetime
import time

AHEAD = datetime.timedelta(minutes=5)
_real_time = time.time


class _AheadDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
        return super().now(tz) + AHEAD

    @classmethod
    def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
        return super().now(datetime.timezone.utc).replace(tzinfo=None) + AHEAD


datetime.datetime = _AheadDatetime  # type: ignore[misc]
time.time = lambda: _real_time() + AHEAD.total_seconds()

if __name__ == "__main__":
    from target_brevo_tajo.target import TargetBrevoTajo

    TargetBrevoTajo.cli()

"""A long run says how it is going: every ~10 s, the events sent, their rate, the calls waiting.

Sent events are what Brevo accepted; calls waiting are batch calls queued or in flight (paced by
the rate budget). A run shorter than one interval, or one where nothing moved and nothing waits
(reading profiles, a target left unfinished), logs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from target_brevo_tajo.report import EventsReport

PROGRESS_SECONDS = 10.0


class ProgressLog:
    """A thread that logs one progress line per interval until stopped."""

    def __init__(
        self,
        logger: logging.Logger,
        report: EventsReport,
        *,
        calls_waiting: Callable[[], int],
        every: float = PROGRESS_SECONDS,
    ) -> None:
        self._logger = logger
        self._report = report
        self._calls_waiting = calls_waiting
        self._every = every
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start logging (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="target-progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop logging and wait for the thread to end."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def running(self) -> bool:
        """Whether the thread still logs (after :meth:`stop`, never)."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        last_sent, last_time = self._report.sent, time.monotonic()
        while not self._stopped.wait(self._every):
            sent, now, waiting = self._report.sent, time.monotonic(), self._calls_waiting()
            if sent == last_sent and not waiting:
                continue  # nothing moved, nothing waits: no line
            rate = (sent - last_sent) / max(now - last_time, 1e-9)
            self._logger.info(
                "progress: %s events sent (%s/s); %d calls waiting for Brevo",
                f"{sent:,}",
                f"{rate:,.0f}",
                waiting,
            )
            last_sent, last_time = sent, now

"""Brevo contact imports: one ``POST /contacts/import``, awaited until Brevo completed it.

An import is asynchronous (202 with a ``processId``); the ledger may record its contacts only
once ``GET /processes/{id}`` says completed. Process polls spend Brevo's hourly budget of other
calls, so they start after ``poll_seconds`` and the wait doubles up to a minute.
"""

from __future__ import annotations

import time
from typing import Any

from target_brevo_tajo.brevo.client import BrevoClient, BrevoError

PROCESS_DONE = frozenset({"completed"})
PROCESS_FAILED = frozenset({"failed", "cancelled"})
LONGEST_POLL_SECONDS = 60.0


class ContactImports:
    """Starts contact imports and waits for each to complete."""

    def __init__(self, client: BrevoClient, *, poll_seconds: float, timeout_seconds: float) -> None:
        self._client = client
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds

    def run(self, body: bytes) -> dict[str, Any]:
        """Send one import body; returns Brevo's completed process (its counters included)."""
        started = self._client.call("POST", "/contacts/import", content=body, idempotent=True)
        return self.wait(int(started["processId"]))

    def wait(self, process_id: int) -> dict[str, Any]:
        """Poll ``GET /processes/{id}`` until Brevo completed it (company imports too)."""
        wait = self._poll_seconds
        deadline = time.monotonic() + self._timeout_seconds
        while True:
            self._client.sleep(wait)
            process = self._client.call("GET", f"/processes/{process_id}")
            status = str(process.get("status", "")).lower()
            if status in PROCESS_DONE:
                return process
            if status in PROCESS_FAILED:
                msg = f"Brevo import process {process_id} ended {status}: {process.get('error')}"
                raise BrevoError(msg)
            if time.monotonic() > deadline:
                msg = (
                    f"Brevo import process {process_id} still {status} after "
                    f"{self._timeout_seconds:.0f}s; rerun later (imports are upserts, and "
                    "unconfirmed contacts are sent again)"
                )
                raise BrevoError(msg)
            wait = min(wait * 2, LONGEST_POLL_SECONDS)

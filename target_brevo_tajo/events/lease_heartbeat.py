"""A live worker's heartbeat: it renews the leases of the calls it holds while they wait.

A call may wait far longer than its lease (a 429 whose reset outlasts it, Brevo's queue before a
settle look-up). Without renewal another worker would take the call over as a killed worker's and
send its events again; only a worker that stops beating (killed) lets its leases run out.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from target_brevo_tajo.events.ledger import EventLedger

logger = logging.getLogger("target-brevo-tajo")
BEATS_PER_LEASE = 3  # two beats may fail (a busy ledger) before a lease runs out


class LeaseHeartbeat:
    """Renews every lease of one ledger owner, a few times per lease, until stopped."""

    def __init__(self, ledger: EventLedger, lease_seconds: float) -> None:
        self._ledger = ledger
        self._lease_seconds = lease_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self._lease_seconds / BEATS_PER_LEASE):
            try:
                self._ledger.renew_all(self._lease_seconds)
            except sa.exc.SQLAlchemyError as exc:
                # The check before each call leaves still guards against a lost claim.
                logger.warning("Could not renew this worker's leases: %s", str(exc).splitlines()[0])

    def stop(self) -> None:
        """No further renewal: the run releases its claims next."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

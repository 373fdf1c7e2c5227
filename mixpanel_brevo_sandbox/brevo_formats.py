"""How every part of the sandbox's Brevo answers: its error form and its timestamps."""

from __future__ import annotations

from datetime import datetime, timezone


class BrevoError(Exception):
    """An API error answered as ``{"code", "message"}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def utc_iso(moment: datetime | None = None) -> str:
    """Format a UTC timestamp the way Brevo does (milliseconds, ``Z``)."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

"""Injected faults: registered through the admin API, matched against incoming requests.

Kinds: ``status`` answers instead of the API; ``drop`` cuts the answer halfway; ``terminated_early``
ends an export with Mixpanel's marker line; ``clean_cut`` ends it early at a line boundary with no
marker; ``partial`` fails chosen events of a Brevo batch; ``without_attributes`` lists Brevo
contacts without their ``attributes`` (as a trimmed listing was seen to, though the spec requires
them);
``after_processing`` lets the API process the call (events queued, state changed, budget spent)
and then loses its answer: a proxy error ``status`` or a dropped connection (``drop``), either
possibly after a stall (``delay_seconds``; alone, the stall ends with the real answer), so the
client cannot tell whether the call took effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AFTER_PROCESSING = "after_processing"
WITHOUT_ATTRIBUTES = "without_attributes"
KINDS = (
    "status",
    "drop",
    "terminated_early",
    "partial",
    "clean_cut",
    AFTER_PROCESSING,
    WITHOUT_ATTRIBUTES,
)
APIS = ("mixpanel", "brevo", "brevo_oauth")  # brevo_oauth: the token endpoint
DEFAULT_STATUS = 500
# A stall longer than any sensible client timeout only slows the tests down.
MAX_DELAY_SECONDS = 30


class FaultError(ValueError):
    """A fault definition the admin API rejects."""


@dataclass
class Fault:
    """One fault rule. ``times`` counts remaining uses; -1 means until the faults are cleared.

    ``after`` lets that many matching requests through first (a failure in the middle of a run);
    ``every`` then fires on every Nth matching request only (the 7th, 14th, ... for 7).
    ``status`` is None only for an ``after_processing`` fault that keeps the real answer (then
    ``drop`` withholds it, or ``delay_seconds`` only stalls it).
    """

    api: str
    path: str
    kind: str
    method: str | None = None
    status: int | None = DEFAULT_STATUS
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    times: int = 1
    fail_indices: list[int] = field(default_factory=list)
    after: int = 0
    every: int = 1
    drop: bool = False
    delay_seconds: float = 0.0
    # Matching requests counted since ``after`` ran out, for ``every``.
    seen: int = 0

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Validate an admin API payload and build the fault."""
        if not isinstance(data, dict):
            raise FaultError("fault must be a JSON object")
        api, kind, path = data.get("api"), data.get("kind"), data.get("path", "/")
        if api not in APIS:
            raise FaultError(f"api must be one of {APIS}")
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {KINDS}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise FaultError("path must start with '/'")
        times = data.get("times", 1)
        if not isinstance(times, int) or times == 0 or times < -1:
            raise FaultError("times must be a positive integer or -1 (unlimited)")
        status = _status(data, kind)
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            raise FaultError("headers must be an object")
        indices = data.get("fail_indices") or []
        if not all(isinstance(i, int) for i in indices):
            raise FaultError("fail_indices must be a list of integers")
        after = data.get("after", 0)
        if not isinstance(after, int) or after < 0:
            raise FaultError("after must be a non-negative integer")
        every = data.get("every", 1)
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise FaultError("every must be a positive integer")
        drop, delay_seconds = _lost_answer(data, kind, status)
        method = data.get("method")
        return cls(
            api=api,
            path=path,
            kind=kind,
            method=method.upper() if isinstance(method, str) else None,
            status=status,
            headers={str(k): str(v) for k, v in headers.items()},
            body=data.get("body"),
            times=times,
            fail_indices=list(indices),
            after=after,
            every=every,
            drop=drop,
            delay_seconds=delay_seconds,
        )

    def matches(self, api: str, method: str, path: str) -> bool:
        """True when this rule applies to the request (path is a prefix match)."""
        return (
            self.api == api
            and (self.method is None or self.method == method)
            and path.startswith(self.path)
        )

    def to_json(self) -> dict[str, Any]:
        """Describe the rule for the admin API."""
        return {
            "api": self.api,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "headers": self.headers,
            "body": self.body,
            "times": self.times,
            "fail_indices": self.fail_indices,
            "after": self.after,
            "every": self.every,
            "drop": self.drop,
            "delay_seconds": self.delay_seconds,
        }


def _status(data: dict[str, Any], kind: str) -> int | None:
    """The status to answer; an ``after_processing`` fault without one keeps the real answer."""
    if kind == AFTER_PROCESSING and "status" not in data:
        return None
    status = data.get("status", DEFAULT_STATUS)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise FaultError("status must be an HTTP status code")
    return status


def _lost_answer(data: dict[str, Any], kind: str, status: int | None) -> tuple[bool, float]:
    """``drop`` and ``delay_seconds``, which only an ``after_processing`` fault takes.

    Such a fault must change what the client sees: a status, a drop or a stall.
    """
    if kind != AFTER_PROCESSING:
        if "drop" in data or "delay_seconds" in data:
            raise FaultError(f"drop and delay_seconds apply to the {AFTER_PROCESSING} kind only")
        return False, 0.0
    drop, delay = data.get("drop", False), data.get("delay_seconds", 0)
    if not isinstance(drop, bool):
        raise FaultError("drop must be true or false")
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise FaultError("delay_seconds must be a number")
    if not 0 <= delay <= MAX_DELAY_SECONDS:
        raise FaultError(f"delay_seconds must be between 0 and {MAX_DELAY_SECONDS}")
    if drop and status is not None:
        raise FaultError(f"{AFTER_PROCESSING} takes status or drop, not both")
    if not drop and status is None and not delay:
        raise FaultError(f"{AFTER_PROCESSING} needs status, drop or delay_seconds")
    return drop, float(delay)


class FaultRegistry:
    """Ordered fault rules; the first matching rule is consumed for a request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Register a rule."""
        self._faults.append(fault)

    def clear(self) -> None:
        """Remove every rule."""
        self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """Describe the remaining rules."""
        return [f.to_json() for f in self._faults]

    def take(self, api: str, method: str, path: str) -> Fault | None:
        """Return the first rule firing for the request and use it up once.

        A rule skipped by ``after`` or ``every`` lets a later matching rule fire instead.
        """
        for fault in self._faults:
            if not fault.matches(api, method, path):
                continue
            if fault.after > 0:
                fault.after -= 1
                continue
            fault.seen += 1
            if fault.seen % fault.every:
                continue
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
            return fault
        return None

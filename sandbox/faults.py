"""Injected faults: registered through the admin API, matched against incoming requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "drop", "terminated_early", "partial", "clean_cut")
APIS = ("mixpanel", "brevo")


class FaultError(ValueError):
    """A fault definition the admin API rejects."""


@dataclass
class Fault:
    """One fault rule. ``times`` counts remaining uses; -1 means until the faults are cleared.

    ``after`` lets that many matching requests through first (a failure in the middle of a run).
    """

    api: str
    path: str
    kind: str
    method: str | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    times: int = 1
    fail_indices: list[int] = field(default_factory=list)
    after: int = 0

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
        status = data.get("status", 500)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise FaultError("status must be an HTTP status code")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            raise FaultError("headers must be an object")
        indices = data.get("fail_indices") or []
        if not all(isinstance(i, int) for i in indices):
            raise FaultError("fail_indices must be a list of integers")
        after = data.get("after", 0)
        if not isinstance(after, int) or after < 0:
            raise FaultError("after must be a non-negative integer")
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
        }


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
        """Return the first rule matching the request and use it up once."""
        for fault in self._faults:
            if fault.matches(api, method, path):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

"""Request and response values passed between the HTTP plumbing and the API modules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    """One HTTP request, with the path relative to the API mount it was routed to."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    fault: Any = None

    def header(self, name: str, default: str = "") -> str:
        """Return a header value, matching the name case-insensitively."""
        return self.headers.get(name.lower(), default)

    def param(self, name: str) -> str | None:
        """Return the first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, str]:
        """Merge the query string and a form-encoded body (body wins), first values only."""
        merged = {k: v[0] for k, v in self.query.items() if v}
        if self.body and "application/x-www-form-urlencoded" in self.header("content-type"):
            body = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
            merged.update({k: v[0] for k, v in body.items() if v})
        return merged

    def json(self) -> Any:
        """Decode the body as JSON (raises ValueError on malformed input)."""
        return json.loads(self.body or b"null")


@dataclass
class Response:
    """A response: ``body`` is either bytes or a list of lines streamed one chunk at a time."""

    status: int
    body: bytes | list[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        """True when the body is a list of lines sent with chunked transfer encoding."""
        return isinstance(self.body, list)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """Build a JSON response."""
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    """Build a plain-text response."""
    content = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
    return Response(status, text.encode("utf-8"), content)


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """Build a response without a body (for example 204)."""
    return Response(status, b"", dict(headers or {}))

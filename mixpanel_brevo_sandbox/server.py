"""HTTP plumbing: a ThreadingHTTPServer on loopback that mounts both APIs and the admin API.

Mounts: ``/mixpanel`` (Mixpanel), ``/brevo/v3`` (Brevo), ``/brevo/realms/partner/oauth/token``
(Brevo's OAuth token endpoint), ``/_sandbox`` (admin). Faults armed
through the admin API are applied here, around the API handlers: a ``status`` fault answers
instead of the API; an ``after_processing`` fault lets the API process the call, then stalls,
answers a proxy's error page or drops the connection instead of the real answer.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
import zlib
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import admin_api, brevo_api, mixpanel_api
from .brevo_companies import DEFAULT_CONTACT_SEPARATOR
from .brevo_limits import DEFAULT_TIER, Clock, bucket_of
from .brevo_oauth import DEFAULT_LIFETIME_SECONDS, TOKEN_PATH
from .faults import AFTER_PROCESSING, Fault
from .state import SandboxState
from .wire import Request, Response, json_response

HOST = "127.0.0.1"
MOUNTS = (
    ("mixpanel", "/mixpanel"),
    ("brevo", "/brevo/v3"),
    ("brevo_oauth", "/brevo" + TOKEN_PATH),
    ("admin", "/_sandbox"),
)
LINES_PER_CHUNK = 200
TERMINATED_EARLY = b"terminated early\n"
# What a gateway in front of the API answers when the answer behind it is lost.
PROXY_ERROR_PAGE = (
    "<html>\n<head><title>{status} {phrase}</title></head>\n<body>\n"
    "<center><h1>{status} {phrase}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
)


def _mount(path: str) -> tuple[str | None, str]:
    for api, prefix in MOUNTS:
        if path == prefix or path.startswith(prefix + "/"):
            return api, path[len(prefix) :] or "/"
    return None, path


def fault_response(fault: Fault) -> Response:
    """The response of a ``status`` fault: only the headers the test asked for."""
    assert fault.status is not None  # Fault.from_json gives every status-answering fault one
    if fault.body is None:
        body = json.dumps({"error": "injected fault", "status": fault.status}).encode()
        return Response(fault.status, body, {"Content-Type": "application/json", **fault.headers})
    headers = {"Content-Type": "text/plain; charset=utf-8", **fault.headers}
    return Response(fault.status, fault.body.encode("utf-8"), headers)


def proxy_error(fault: Fault, status: int) -> Response:
    """An ``after_processing`` fault's answer: a proxy's error page, or the fault's own body."""
    if fault.body is not None:
        return fault_response(fault)
    phrase = http.client.responses.get(status, "Error")
    page = PROXY_ERROR_PAGE.format(status=status, phrase=phrase).encode("utf-8")
    return Response(status, page, {"Content-Type": "text/html", **fault.headers})


def answer(state: SandboxState, api: str, request: Request) -> Response:
    """Take the request's fault, answer as the API or the fault says, and log the call.

    An ``after_processing`` fault replaces the answer only once the API has processed the call.
    The log has the status the client is sent; a dropped answer logs the one it would have had.
    """
    arrived = time.monotonic()
    with state.lock:
        fault = request.fault = state.faults.take(api, request.method, request.path)
        if fault is not None and fault.kind == "status":
            response = fault_response(fault)
        elif api == "mixpanel":
            response = state.query_budget.admit(request) or mixpanel_api.handle(
                state.mixpanel, request, state.now
            )
        elif api == "brevo_oauth":
            response = state.brevo_tokens.handle(request)
        else:
            response = brevo_api.handle(state.brevo, state.brevo_rates, state.brevo_tokens, request)
        if fault is not None and fault.kind == AFTER_PROCESSING and fault.status is not None:
            response = proxy_error(fault, fault.status)
        bucket = bucket_of(request.method, request.path) if api == "brevo" else None
        state.record_call(
            api, request.method, request.path, request.query, response.status,
            bucket=bucket, at=arrived,
        )  # fmt: skip
    return response


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that stops reading early (a test's record limit) is normal, not an error."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, each answer would
    # wait for the client's delayed ACK (about 40 ms a call on loopback).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the call log is in the admin API."""

    def do_GET(self) -> None:
        """Serve GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Serve POST."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Serve PUT."""
        self._dispatch()

    def do_PATCH(self) -> None:
        """Serve PATCH."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Serve DELETE."""
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        api, path = _mount(unquote(parts.path))
        request = Request(
            method=self.command,
            path=path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        state = self.server.state
        if api is None:
            self._send(json_response(404, {"error": f"nothing mounted at {parts.path}"}), None)
            return
        if api == "admin":
            self._send(admin_api.handle(state, request), None)
            return
        # A Query API call runs (for Mixpanel's concurrency limit) until its answer is sent.
        with state.query_budget.running_call(request):
            response = answer(state, api, request)
            if request.fault is not None and request.fault.delay_seconds:
                # Outside the lock: the rest of the sandbox keeps serving during the stall.
                time.sleep(request.fault.delay_seconds)
            self._send(response, request.fault, "gzip" in request.header("accept-encoding"))

    def _send(self, response: Response, fault: Fault | None, gzip_ok: bool = False) -> None:
        if fault is not None and fault.kind == AFTER_PROCESSING and fault.drop:
            self._abort()  # the call took effect; not a byte of its answer leaves
            return
        kind = fault.kind if fault is not None else None
        lines = response.body if isinstance(response.body, list) else None
        if kind == "terminated_early":
            lines = lines if lines is not None else response.body.splitlines(keepends=True)
            lines = [*lines[: len(lines) // 2], TERMINATED_EARLY]
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if lines is None:
            self._send_bytes(response, drop=kind == "drop")
        else:
            self._send_lines(lines, drop=kind == "drop", gzip_ok=gzip_ok)

    def _send_bytes(self, response: Response, drop: bool) -> None:
        body = response.body
        assert isinstance(body, bytes)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self._abort()
        elif body:
            self.wfile.write(body)

    def _send_lines(self, lines: list[bytes], drop: bool, gzip_ok: bool) -> None:
        """Stream lines with chunked encoding; ``drop`` stops halfway and kills the socket."""
        compressor = zlib.compressobj(wbits=31) if gzip_ok and lines else None
        if compressor is not None:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        stop = len(lines) // 2 if drop else len(lines)
        for start in range(0, stop, LINES_PER_CHUNK):
            data = b"".join(lines[start : min(start + LINES_PER_CHUNK, stop)])
            if compressor is not None:
                data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            self._chunk(data)
        if drop:
            self._abort()
            return
        if compressor is not None:
            self._chunk(compressor.flush())
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _abort(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            return


class SandboxServer:
    """The sandbox: seeded state plus an HTTP server on 127.0.0.1 in a daemon thread.

    ``brevo_rate_tier``, ``brevo_clock``, ``brevo_events_visibility_seconds``,
    ``brevo_contact_separator``, ``brevo_token_lifetime_seconds``, ``mixpanel_query_budget`` and
    ``mixpanel_query_clock`` are passed to ``SandboxState``.
    """

    def __init__(  # noqa: PLR0917 - the documented positional signature
        self,
        seed: int = 7,
        now: datetime | None = None,
        profiles: int = 500,
        events: int = 20000,
        days: int = 8,
        port: int = 0,
        *,
        brevo_rate_tier: str = DEFAULT_TIER,
        brevo_clock: Clock = time.monotonic,
        brevo_events_visibility_seconds: float = 0.0,
        brevo_contact_separator: str = DEFAULT_CONTACT_SEPARATOR,
        brevo_token_lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
        mixpanel_query_budget: tuple[int, int] | None = None,
        mixpanel_query_clock: Clock = time.monotonic,
    ) -> None:
        self.state = SandboxState(
            seed=seed,
            now=now,
            profiles=profiles,
            events=events,
            days=days,
            brevo_rate_tier=brevo_rate_tier,
            brevo_clock=brevo_clock,
            brevo_events_visibility_seconds=brevo_events_visibility_seconds,
            brevo_contact_separator=brevo_contact_separator,
            brevo_token_lifetime_seconds=brevo_token_lifetime_seconds,
            mixpanel_query_budget=mixpanel_query_budget,
            mixpanel_query_clock=mixpanel_query_clock,
        )
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        self._httpd = _HTTPServer((HOST, self._port), self.state)
        # shutdown() waits for the serving loop's next poll: 50 ms, not the default half second
        # (the test suite stops hundreds of sandboxes).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The bound port."""
        if self._httpd is None:
            raise RuntimeError("the sandbox server is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, for example ``http://127.0.0.1:54321``."""
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

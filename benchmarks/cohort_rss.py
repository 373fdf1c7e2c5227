"""Peak RSS of the target mirroring a cohort into a new Brevo list, at two cohort sizes.

The target reads the tap's messages from a file (a cohort, its members, the checkpoint that
confirms the snapshot) and syncs against a Brevo stand-in served by this process: lists and
folders, membership calls and the list read back. The members are contacts the ledger already
knows (their profiles synced before), so they join the list by list calls; a list the run
created is known exactly, so it is not read back at the end. Only the cohort's size changes
between the two runs.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import msgspec
from ratios import BIN, ProcessRun, finished, measured, target_config

from tap_mixpanel_tajo.streams.checkpoints import SyncCheckpointsStream
from tap_mixpanel_tajo.streams.cohorts import CohortMembersStream, CohortsStream
from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.ledger import Ledger

LIST_ID = 7
SNAPSHOT = "2026-11-20T00:00:00Z"
SEED_CHUNK = 50_000  # contacts written to the ledger per transaction before the run
_encoder = msgspec.json.Encoder()


class _Lists:
    """One Brevo list's members in order of arrival, each with its Brevo contact id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: dict[str, int] = {}  # ext_id -> Brevo id, in order of arrival
        self.order: list[str] = []
        self.calls: dict[str, int] = {"add": 0, "read": 0}  # membership calls, pages read

    def count(self, kind: str) -> None:
        with self.lock:
            self.calls[kind] += 1

    def add(self, ext_ids: list[str]) -> None:
        with self.lock:
            for ext_id in ext_ids:
                if ext_id not in self.ids:
                    self.ids[ext_id] = len(self.ids) + 1
                    self.order.append(ext_id)

    def page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {"id": self.ids[e], "attributes": {"EXT_ID": e}}
                for e in self.order[offset : offset + limit]
            ]


class _BrevoHandler(BaseHTTPRequestHandler):
    """What a mirror into a new list calls: lists, folders, membership and its read back."""

    protocol_version = "HTTP/1.1"
    lists: ClassVar[_Lists]

    def _answer(self, status: int, body: Any) -> None:
        data = _encoder.encode(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # No pacing: the figure is memory, not Brevo's budget.
        self.send_header("x-sib-ratelimit-limit", "1000000")
        self.send_header("x-sib-ratelimit-remaining", "999999")
        self.send_header("x-sib-ratelimit-reset", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == f"/v3/contacts/lists/{LIST_ID}/contacts":
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            self.lists.count("read")
            contacts = self.lists.page(offset, limit)
            self._answer(200, {"contacts": contacts, "count": len(self.lists.order)})
        elif url.path in ("/v3/contacts/lists", "/v3/contacts/folders"):
            self._answer(200, {url.path.rsplit("/", 1)[1]: [], "count": 0})
        else:
            self._answer(404, {"code": "not_found", "message": url.path})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        path = urlparse(self.path).path
        if path == "/v3/contacts/folders":
            self._answer(201, {"id": 1})
        elif path == "/v3/contacts/lists":
            self._answer(201, {"id": LIST_ID})
        elif path == f"/v3/contacts/lists/{LIST_ID}/contacts/add":
            self.lists.count("add")
            self.lists.add(body["extIds"])
            self._answer(201, {"contacts": {"success": body["extIds"], "failure": []}})
        else:
            self._answer(404, {"code": "not_found", "message": path})

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@contextlib.contextmanager
def brevo_stand_in() -> Iterator[tuple[str, _Lists]]:
    """The stand-in on a free loopback port, and the list it holds."""
    lists = _Lists()
    handler = type("Handler", (_BrevoHandler,), {"lists": lists})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v3", lists
    finally:
        server.shutdown()
        server.server_close()


def _message(kind: str, stream: str, **fields: Any) -> bytes:
    return _encoder.encode({"type": kind, "stream": stream, **fields}) + b"\n"


def write_input(path: Path, members: int) -> None:
    """The tap's messages for one cohort of ``members``, its snapshot confirmed complete."""
    streams = (CohortsStream, CohortMembersStream, SyncCheckpointsStream)
    with path.open("wb") as out:
        for stream in streams:
            keys = list(stream.primary_keys or ())
            out.write(_message("SCHEMA", stream.name, schema=stream.schema, key_properties=keys))
        cohort = {"id": 1, "name": "Bench cohort", "count": members}
        out.write(_message("RECORD", "cohorts", record=cohort))
        for index in range(members):
            record = {"cohort_id": 1, "distinct_id": f"m{index:07d}", "snapshot_id": SNAPSHOT}
            out.write(_message("RECORD", "cohort_members", record=record))
        checkpoint = {"stream": "cohort_members", "id": "1", "kind": "cohort_snapshot",
                      "snapshot_id": SNAPSHOT, "records": members,
                      "completed_at": "2026-11-20T00:10:00+00:00"}  # fmt: skip
        out.write(_message("RECORD", "sync_checkpoints", record=checkpoint))
        out.write(_encoder.encode({"type": "STATE", "value": {"bookmarks": {}}}) + b"\n")


def seed_contacts(ledger_url: str, members: int) -> None:
    """The members are contacts already (their profiles synced before the cohort)."""
    ledger = Ledger(ledger_url)
    store = ContactLedger(ledger)
    try:
        for start in range(0, members, SEED_CHUNK):
            stop = min(start + SEED_CHUNK, members)
            store.record_contacts(
                SyncedContact(distinct_id=f"m{i:07d}") for i in range(start, stop)
            )
    finally:
        ledger.close()


@dataclass
class CohortRun:
    """One mirror: the target's peak RSS and seconds, its cohort line, what the list holds."""

    target: ProcessRun
    seconds: float
    cohort: dict[str, Any]
    in_list: int
    calls: dict[str, int]  # membership calls made, list pages read


def mirror_rss(members: int) -> CohortRun:
    """``target-brevo-tajo`` mirroring a cohort of ``members`` into a new list."""
    with brevo_stand_in() as (url, lists), tempfile.TemporaryDirectory(prefix="bench-co-") as name:
        tmp = Path(name)
        config = target_config(tmp, url, "bench-key", cohort_sync_mode="mirror")
        seed_contacts(f"sqlite:///{tmp / 'ledger.sqlite'}", members)
        write_input(tmp / "input.jsonl", members)
        start = time.perf_counter()
        with (
            (tmp / "input.jsonl").open("rb") as stdin,
            (tmp / "target.log").open("wb") as log,
            subprocess.Popen(
                measured([BIN / "target-brevo-tajo", "--config", config], tmp / "target.rss"),
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=log,
            ) as target,
        ):
            run = finished(target, tmp / "target.rss")
        seconds = time.perf_counter() - start
        if run.returncode:
            tail = (tmp / "target.log").read_text(errors="replace").splitlines()[-3:]
            raise RuntimeError(f"target exit {run.returncode}: {tail}")
        (cohort,) = json.loads((tmp / "report.json").read_text())["cohorts"]
        return CohortRun(run, seconds, cohort, len(lists.order), dict(lists.calls))

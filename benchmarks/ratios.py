"""The figures of issue 12, each a ratio measured in this run: tap vs the raw floor, target vs
Brevo's bound, peak RSS growth, profiles/s.

``bench_pipeline.py`` runs them (``make bench``) next to the older comparisons.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import msgspec
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage

from mixpanel_brevo_sandbox.demo_data import MAPPED_EVENTS, generate
from tap_mixpanel_tajo.client import Credentials, MixpanelClient
from tap_mixpanel_tajo.streams.export import EventsStream
from tap_mixpanel_tajo.streams.export_records import to_record
from tap_mixpanel_tajo.tap import TapMixpanelTajo

ROOT = Path(__file__).resolve().parent.parent
MAPPING_FILE = ROOT / "mappings" / "mixpanel-to-brevo.yml"
BIN = Path(sys.executable).parent
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
DAYS = (date(2026, 11, 18), date(2026, 11, 19))  # the 2 days every export spans
MIXPANEL_URL = "http://mixpanel.bench"
CHUNK_BYTES = 64 * 1024  # what one socket read of a streamed export typically hands over
POOL_EVENTS = 4000  # distinct sandbox events, cycled (with fresh $insert_ids) up to N
U2028_EVERY = 100  # one export line in this many carries a raw U+2028 inside a string
BREVO_BOUND = 10 * 200  # general tier: 10 POST /events/batch a second, 200 events each

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


# The export: 2 days of web events, ~30 properties, nested objects, emoji, 1% raw U+2028

_TITLES = (
    "Café crème \u2013 offres d'été",
    "Ünïcödé store · 日本語ストア",
    "Pricing | Acme ✨🚀",
    "Résumé builder — São Paulo 🇧🇷",
    "Checkout",
)
_REFERRERS = ("https://www.google.com/", "https://news.ycombinator.com/", "$direct")


def _web_properties(rng: random.Random, index: int) -> dict[str, Any]:
    """The web SDK's usual extra properties, a nested cart and an experiment object."""
    referrer = rng.choice(_REFERRERS)
    title = rng.choice(_TITLES)
    if index % U2028_EVERY == 0:
        title = "Summer sale\u2028free shipping 🎉"  # pasted text: raw U+2028, valid in JSON
    domain = referrer.split("/")[2] if "://" in referrer else referrer
    return {
        "title": title,
        "$screen_height": rng.choice((768, 900, 1080, 1440)),
        "$screen_width": rng.choice((1366, 1440, 1920, 2560)),
        "$browser_version": rng.choice((120, 121, 122)),
        "$referrer": referrer,
        "$referring_domain": domain,
        "$initial_referrer": referrer,
        "$initial_referring_domain": domain,
        "mp_sent_by_lib_version": "2.55.1",
        "$mp_api_timestamp_ms": 1_763_000_000_000 + index,
        "cart": {
            "items": [{"sku": f"SKU-{index % 97}", "qty": 1 + index % 3, "price": 19.9}],
            "total": {"amount": 19.9 * (1 + index % 3), "currency": "EUR"},
        },
        "experiment": {"id": index % 5, "variant": rng.choice(("control", "B 🅱️"))},
    }


def export_events(count: int, *, names: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
    """``count`` raw export events over :data:`DAYS`, in time order, each its own ``$insert_id``.

    A pool of seeded sandbox events (generating 200,000 directly takes ~15 s) is cycled; each
    copy gets a unique ``$insert_id``, a time spread evenly over the 2 days and the web SDK
    properties above.
    """
    pool = generate(7, NOW, 400, POOL_EVENTS, 8).events
    if names is not None:
        pool = [event for event in pool if event.name in names]
    rng = random.Random(7)
    start = int(datetime(*DAYS[0].timetuple()[:3], tzinfo=timezone.utc).timestamp())
    step = 2 * 86_400 / max(count, 1)
    for index in range(count):
        stored = pool[index % len(pool)]
        properties = dict(stored.properties)
        properties["$insert_id"] = f"bench-{index:010d}"
        properties["time"] = start + int(index * step)
        properties.update(_web_properties(rng, index))
        yield {"event": stored.name, "properties": properties}


def day_lines(count: int) -> Iterator[tuple[date, bytes]]:
    """Each event of :func:`export_events` as an NDJSON line, with its day."""
    half = (count + 1) // 2
    for index, event in enumerate(export_events(count)):
        yield DAYS[0] if index < half else DAYS[1], _encoder.encode(event) + b"\n"


def day_bodies(count: int) -> dict[str, bytes]:
    """The export body of each day (``from_date`` → NDJSON bytes), raw UTF-8 as Mixpanel sends."""
    parts: dict[str, list[bytes]] = {day.isoformat(): [] for day in DAYS}
    for day, line in day_lines(count):
        parts[day.isoformat()].append(line)
    return {day: b"".join(lines) for day, lines in parts.items()}


def export_transport(bodies: dict[str, bytes]) -> httpx.MockTransport:
    """Answers an export request with its day's body, in 64 KB chunks like a socket would."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = bodies.get(request.url.params.get("from_date", ""), b"")
        chunks = (body[i : i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES))
        return httpx.Response(200, headers={"content-type": "text/plain"}, content=chunks)

    return httpx.MockTransport(handler)


# Tap vs the raw floor


class RecordSink(io.RawIOBase):
    """/dev/null that counts the RECORD lines written to it (the same cost for both sides)."""

    def __init__(self) -> None:
        super().__init__()
        self.fd = os.open(os.devnull, os.O_WRONLY)
        self.records = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.records += bytes(data).count(b'{"type":"RECORD"')
        return os.write(self.fd, data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def raw_floor(transport: httpx.BaseTransport, out: RecordSink) -> None:
    """The least any tap can do: stream each day, split on ``\\n``, msgspec, one RECORD line.

    Lines are written to ``out`` in 64 KB blocks.
    """
    buffer = bytearray()
    with httpx.Client(transport=transport) as client:
        for day in DAYS:
            params = {"from_date": day.isoformat(), "to_date": day.isoformat()}
            with client.stream("GET", MIXPANEL_URL + "/api/2.0/export", params=params) as resp:
                rest = b""
                for chunk in resp.iter_bytes():
                    lines = (rest + chunk).split(b"\n")
                    rest = lines.pop()
                    for line in lines:
                        if line:
                            message = {"type": "RECORD", "stream": "events"}
                            message["record"] = _decoder.decode(line)
                            buffer += _encoder.encode(message)
                            buffer += b"\n"
                    if len(buffer) >= CHUNK_BYTES:
                        out.write(buffer)
                        buffer.clear()
    out.write(buffer)


def run_tap(transport: httpx.BaseTransport, out: RecordSink) -> None:
    """The tap itself (events only), in this process, its stdout on ``out``."""
    tap = TapMixpanelTajo(
        config={
            "base_url": MIXPANEL_URL,
            "api_secret": "bench-secret",
            "start_date": DAYS[0].isoformat() + "T00:00:00Z",
            "end_date": DAYS[-1].isoformat() + "T00:00:00Z",
        },
        parse_env_config=False,
    )
    for name, stream in tap.streams.items():
        stream.selected = name == "events"
    # The shared client, aimed at the in-process export (the one change from the real CLI).
    tap.__dict__["client"] = MixpanelClient(
        Credentials(api_secret="bench-secret"), base_url=MIXPANEL_URL, transport=transport
    )
    # stdout as a process has it when it writes to a pipe: a buffered writer over the file.
    stdout = io.TextIOWrapper(io.BufferedWriter(out), encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        tap.sync_all()
        stdout.flush()


@dataclass
class TapVsFloor:
    """Best times of the tap and the floor, and the records each wrote."""

    tap_seconds: float
    floor_seconds: float
    tap_records: int
    floor_records: int
    body_bytes: int

    @property
    def ratio(self) -> float:
        """How many times the floor's time the tap takes."""
        return self.tap_seconds / self.floor_seconds


def tap_vs_floor(count: int, repeats: int) -> TapVsFloor:
    """Alternate tap and floor runs on the same bodies; the best of each counts."""
    bodies = day_bodies(count)
    transport = export_transport(bodies)
    best = {"tap": float("inf"), "floor": float("inf")}
    records = {"tap": 0, "floor": 0}
    runs = {"tap": run_tap, "floor": raw_floor}
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            with RecordSink() as out:
                start = time.perf_counter()
                run(transport, out)
                best[name] = min(best[name], time.perf_counter() - start)
                records[name] = out.records
    return TapVsFloor(
        best["tap"],
        best["floor"],
        records["tap"],
        records["floor"],
        sum(len(body) for body in bodies.values()),
    )


# Processes: wall time and each one's own peak RSS


@dataclass
class ProcessRun:
    """One process of a run: exit code and peak resident memory (bytes)."""

    returncode: int
    peak_rss: int


# ``ru_maxrss`` keeps the high-water mark of the process that forked the child: a CLI started by
# this (large) benchmark process would report this one's memory. A small Python process starts
# each measured CLI instead and writes its child's own ``ru_maxrss`` (kilobytes on Linux).
_MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def measured(command: list[Any], rss_file: Path) -> list[Any]:
    """``command`` run under the small process that writes its peak RSS to ``rss_file``."""
    return [sys.executable, "-c", _MEASURE, rss_file, *command]


def finished(process: subprocess.Popen, rss_file: Path) -> ProcessRun:
    """Wait for a :func:`measured` process; its exit code and its child's peak RSS."""
    returncode = process.wait()
    peak = int(rss_file.read_text()) * 1024 if rss_file.exists() else 0
    return ProcessRun(returncode, peak)


@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[str]:
    """``python -m mixpanel_brevo_sandbox serve`` in its own process.

    Its HTTP work must not share our GIL.
    """
    command = [sys.executable, "-m", "mixpanel_brevo_sandbox", "serve", "--port", "0", *args]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            yield server.stdout.readline().strip()
        finally:
            server.terminate()
            server.wait(timeout=60)


def answer_late(url: str, latency: float, **match: str) -> None:
    """The sandbox's Brevo answers each call ``match`` picks ``latency`` s after processing it."""
    fault = {"api": "brevo", **match, "kind": "after_processing", "delay_seconds": latency}
    httpx.post(f"{url}/_sandbox/faults", json={**fault, "times": -1}, timeout=30).raise_for_status()


def write_json(path: Path, value: Any) -> Path:
    """``value`` as JSON in ``path``; returns the path."""
    path.write_text(json.dumps(value))
    return path


def only_selected(tap_config: Path, stream_name: str) -> dict:
    """The tap's discovered catalog with only ``stream_name`` selected."""
    discovered = subprocess.run(
        [BIN / "tap-mixpanel-tajo", "--config", tap_config, "--discover"],
        capture_output=True,
        check=True,
    )
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == stream_name
    return catalog


def target_config(tmp: Path, brevo_url: str, api_key: str, **extra: Any) -> Path:
    """A target config for this run: its own SQLite ledger and report file."""
    return write_json(
        tmp / "target.json",
        {
            "api_key": api_key,
            "base_url": brevo_url,
            "mapping_file": str(MAPPING_FILE),
            "ledger_url": f"sqlite:///{tmp / 'ledger.sqlite'}",
            "report_file": str(tmp / "report.json"),
            **extra,
        },
    )


@dataclass
class PipelineRun:
    """``tap | target``: seconds, each process's peak RSS, and the target's report."""

    seconds: float
    tap: ProcessRun
    target: ProcessRun
    report: dict


def run_pipeline(tap_args: list[Any], target_args: list[Any], tmp: Path) -> PipelineRun:
    """Both CLIs joined by a pipe, as Meltano runs them; stderr of each kept in ``tmp``."""
    start = time.perf_counter()
    with (
        open(tmp / "tap.log", "wb") as tap_log,
        open(tmp / "target.log", "wb") as target_log,
        subprocess.Popen(
            measured([BIN / "tap-mixpanel-tajo", *tap_args], tmp / "tap.rss"),
            stdout=subprocess.PIPE,
            stderr=tap_log,
        ) as tap,
        subprocess.Popen(
            measured([BIN / "target-brevo-tajo", *target_args], tmp / "target.rss"),
            stdin=tap.stdout,
            stdout=subprocess.DEVNULL,  # STATE messages
            stderr=target_log,
        ) as target,
    ):
        assert tap.stdout is not None
        tap.stdout.close()  # the target owns the pipe now
        target_run = finished(target, tmp / "target.rss")
        tap_run = finished(tap, tmp / "tap.rss")
    seconds = time.perf_counter() - start
    if tap_run.returncode or target_run.returncode:
        tail = (tmp / "target.log").read_text(errors="replace").splitlines()[-3:]
        tail += (tmp / "tap.log").read_text(errors="replace").splitlines()[-3:]
        msg = f"tap exit {tap_run.returncode}, target exit {target_run.returncode}: {tail}"
        raise RuntimeError(msg)
    report = json.loads((tmp / "report.json").read_text())
    return PipelineRun(seconds, tap_run, target_run, report)


# Target vs Brevo's bound


def target_input_file(path: Path, count: int) -> int:
    """SCHEMA and ``count`` mapped RECORDs as the tap writes them; returns the events written."""
    writer = MsgSpecWriter()
    schema = SchemaMessage("events", EventsStream.schema, key_properties=["insert_id"])
    extracted = datetime.now(timezone.utc)
    with path.open("wb") as out:
        out.write(writer.format_message(schema))
        for raw in export_events(count, names=MAPPED_EVENTS):
            record = RecordMessage("events", to_record(raw, None), time_extracted=extracted)
            out.write(writer.format_message(record))
    return count


@dataclass
class TargetVsBound:
    """The target against the sandbox's Brevo with a stalled answer."""

    events: int
    seconds: float
    sent: int
    stored: int
    duplicates: int
    rate_limited: int
    batch_calls: int
    latency: float
    in_flight: int

    @property
    def events_per_second(self) -> float:
        """Events Brevo holds per second of the target's run (startup included)."""
        return self.stored / self.seconds


def target_vs_bound(
    count: int,
    latency: float,
    in_flight: int,
    *,
    write_input: Callable[[Path, int], int] = target_input_file,
    mapping_file: Path = MAPPING_FILE,
) -> TargetVsBound:
    """``target-brevo-tajo`` on ``count`` events, Brevo answering each batch after ``latency``.

    ``write_input`` writes the Singer input (the tap's events by default, or another stream that
    ``mapping_file`` routes to events); each event is counted by its ``mp_insert_id``.
    """
    from mixpanel_brevo_sandbox import brevo_api  # noqa: PLC0415 - only the sandbox figures need it

    with (
        tempfile.TemporaryDirectory(prefix="bench-target-") as tmp_name,
        sandbox_process("--events", "100", "--profiles", "100") as url,
    ):
        tmp = Path(tmp_name)
        write_input(tmp / "input.singer", count)
        answer_late(url, latency, method="POST", path="/events/batch")
        config = target_config(
            tmp,
            f"{url}/brevo/v3",
            brevo_api.API_KEY,
            mapping_file=str(mapping_file),
            anonymous_events="send",
            events_calls_in_flight=in_flight,
        )
        start = time.perf_counter()
        with (tmp / "input.singer").open("rb") as stdin, open(tmp / "target.log", "wb") as log:
            subprocess.run(
                [BIN / "target-brevo-tajo", "--config", config],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=log,
                check=True,
            )
        seconds = time.perf_counter() - start
        report = json.loads((tmp / "report.json").read_text())["events"]
        events = httpx.get(f"{url}/_sandbox/brevo/events", timeout=120).json()["events"]
        calls = httpx.get(f"{url}/_sandbox/calls", timeout=120).json()["calls"]
    ids = Counter(event["event_properties"].get("mp_insert_id") for event in events)
    return TargetVsBound(
        events=count,
        seconds=seconds,
        sent=report["sent"],
        stored=len(ids),
        duplicates=sum(n - 1 for n in ids.values()),
        rate_limited=sum(1 for call in calls if call.get("status") == 429),
        batch_calls=sum(1 for call in calls if call["path"].endswith("/events/batch")),
        latency=latency,
        in_flight=in_flight,
    )


# Peak RSS at two sizes: an export served by this process, a Brevo that accepts at once


class _BenchHandler(BaseHTTPRequestHandler):
    """Mixpanel's export (each day's events, generated while streaming) and Brevo's batch call."""

    protocol_version = "HTTP/1.0"  # the body ends when the connection closes, as a stream may
    events = 0

    def do_GET(self) -> None:
        day = parse_qs(urlparse(self.path).query).get("from_date", [""])[0]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        buffer = bytearray()
        for line_day, line in day_lines(self.events):
            if line_day.isoformat() == day:
                buffer += line
                if len(buffer) >= CHUNK_BYTES:
                    self.wfile.write(buffer)
                    buffer.clear()
        self.wfile.write(buffer)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"message":"Events queued"}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@contextlib.contextmanager
def bench_server(events: int) -> Iterator[str]:
    """The export and Brevo stand-in of the RSS runs, on a free loopback port."""
    handler = type("Handler", (_BenchHandler,), {"events": events})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pipeline_rss(count: int) -> PipelineRun:
    """``tap | target`` on ``count`` export events over 2 days; Brevo accepts without delay."""
    with bench_server(count) as url, tempfile.TemporaryDirectory(prefix="bench-rss-") as name:
        tmp = Path(name)
        tap_config = write_json(
            tmp / "tap.json",
            {
                "base_url": url,
                "api_secret": "bench-secret",
                "start_date": DAYS[0].isoformat() + "T00:00:00Z",
                "end_date": DAYS[-1].isoformat() + "T00:00:00Z",
            },
        )
        catalog = write_json(tmp / "catalog.json", only_selected(tap_config, "events"))
        config = target_config(tmp, url + "/v3", "bench-key", anonymous_events="send")
        return run_pipeline(
            ["--config", tap_config, "--catalog", catalog], ["--config", config], tmp
        )


# Profiles: Engage → tap → target contacts import, through the sandbox


def profiles_pipeline(count: int) -> PipelineRun:
    """``count`` sandbox profiles read from Engage and imported as Brevo contacts."""
    from mixpanel_brevo_sandbox import brevo_api, mixpanel_api  # noqa: PLC0415 - only this figure needs them

    with (
        sandbox_process(
            "--events", "100", "--profiles", str(count), "--brevo-rate-tier", "unlimited"
        ) as url,
        tempfile.TemporaryDirectory(prefix="bench-profiles-") as name,
    ):
        tmp = Path(name)
        tap_config = write_json(
            tmp / "tap.json",
            {
                "base_url": url + "/mixpanel",
                "project_id": str(mixpanel_api.PROJECT_ID),
                "service_account_username": mixpanel_api.SERVICE_ACCOUNT[0],
                "service_account_secret": mixpanel_api.SERVICE_ACCOUNT[1],
                "mapping_file": str(MAPPING_FILE),
            },
        )
        catalog = write_json(tmp / "catalog.json", only_selected(tap_config, "profiles"))
        # A fresh sandbox account lacks 7 of the mapping's attributes: without them the run stops.
        config = target_config(
            tmp, url + "/brevo/v3", brevo_api.API_KEY, create_missing_attributes=True
        )
        return run_pipeline(
            ["--config", tap_config, "--catalog", catalog], ["--config", config], tmp
        )

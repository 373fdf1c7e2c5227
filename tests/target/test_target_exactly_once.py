"""Exactly once against the sandbox's Brevo, attacked: answers lost after queueing, and SIGKILLs.

Each test ends by reading every event the sandbox's Brevo holds: every event of the input is
there once, none twice, none missing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.events.ledger import EventLedger
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import in_brevo, sandbox_config
from tests.singer_messages import event, singer_input

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 20_000  # 100 batch calls: enough for 20 kills with several calls in flight


pytestmark = pytest.mark.sandbox(profiles=10, events=10, days=1)


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    # request_timeout_seconds 2: a killed worker's claim expires after about 7 s
    return sandbox_config(
        sandbox, mapping_file, tmp_path, events_settle_seconds=0.3, request_timeout_seconds=2
    )


def purchases(count: int) -> list[dict]:
    return [
        event(
            "Purchase",
            f"p-{i}",
            f"user-{i % 50}",
            time=f"2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        )
        for i in range(count)
    ]


def arm(sandbox: SandboxServer, **fault: object) -> None:
    rule = {"api": "brevo", "method": "POST", "path": "/events/batch", "times": -1, **fault}
    http.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=30).raise_for_status()


def batch_calls(sandbox: SandboxServer) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    return sum(1 for c in calls if c["path"] == "/events/batch")


def test_every_7th_batch_queued_then_answered_502_ends_with_every_event_once(sandbox, config):
    arm(sandbox, kind="after_processing", status=502, every=7)
    http.post(f"{sandbox.url}/_sandbox/brevo/events-visibility", json={"seconds": 0.1})
    records = purchases(3000)

    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.listen(singer_input(*records))

    held = in_brevo(sandbox)
    assert set(held) == {f"p-{i}" for i in range(3000)}
    assert max(held.values()) == 1, "an event reached Brevo twice"
    report = target.run.report.events
    assert report.calls_in_doubt == 2  # the 7th and 14th of 15 calls
    assert report.found_in_brevo_when_settling == 400
    assert report.resent_after_settling == 0


@pytest.mark.slow
def test_twenty_sigkills_while_calls_are_in_flight_lose_and_double_nothing(
    sandbox, config, tmp_path
):
    # Every batch call stalls 0.4 s after Brevo queued it: a kill lands while it is in flight.
    arm(sandbox, kind="after_processing", delay_seconds=0.4)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    input_file = tmp_path / "input.jsonl"
    input_file.write_text(singer_input(*purchases(EVENTS)).getvalue())
    command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(config_file)]
    command += ["--input", str(input_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    chance = random.Random(20261129)
    kills = 0
    while kills < 20:
        before = batch_calls(sandbox)
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        target_calls = before + chance.randint(1, 3)
        deadline = time.monotonic() + 60
        while batch_calls(sandbox) < target_calls and process.poll() is None:
            assert time.monotonic() < deadline, "the target made no progress"
            time.sleep(0.02)
        if process.poll() is not None:
            break  # it finished before this kill: nothing left to attack
        time.sleep(chance.uniform(0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1

    time.sleep(8)  # the last killed worker's lease runs out: its call may be taken over
    final = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 10, "the run finished before enough kills landed: grow the input"
    held = in_brevo(sandbox)
    assert set(held) == {f"p-{i}" for i in range(EVENTS)}
    assert max(held.values()) == 1, "an event reached Brevo twice"


# request_timeout_seconds 2 + events_settle_seconds 0.3 + the 5 s margin
LEASE_SECONDS = 7.3


def start_worker(config: dict, tmp_path: Path, name: str, *, clock_ahead: bool = False):
    """A target process on 400 purchases (two calls), on the ledger of ``config``."""
    config_file = tmp_path / f"{name}.json"
    config_file.write_text(json.dumps(config))
    input_file = tmp_path / "input.jsonl"
    if not input_file.exists():
        input_file.write_text(singer_input(*purchases(400)).getvalue())
    module = "tests.clock_ahead" if clock_ahead else "target_brevo_tajo"
    command = [sys.executable, "-m", module, "--config", str(config_file)]
    command += ["--input", str(input_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_batch_calls(sandbox: SandboxServer, count: int) -> None:
    deadline = time.monotonic() + 60
    while batch_calls(sandbox) < count:
        assert time.monotonic() < deadline, "the worker made no batch call"
        time.sleep(0.05)


def finished(process: subprocess.Popen) -> str:
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    return stderr.decode()


@pytest.mark.slow
def test_a_429_whose_reset_outlasts_the_lease_doubles_nothing(sandbox, config, tmp_path):
    """Issue 18: the second worker took the waiting worker's calls over; both sent them."""
    reset = {"x-sib-ratelimit-reset": "14"}  # seconds: far beyond the 7.3 s lease
    arm(sandbox, kind="status", status=429, headers=reset, times=1)
    first = start_worker(config, tmp_path, "first")
    wait_for_batch_calls(sandbox, 1)  # its first call was answered 429: it waits 14 s
    time.sleep(LEASE_SECONDS + 0.7)
    second = start_worker(config, tmp_path, "second")

    logs = finished(second) + finished(first)

    held = in_brevo(sandbox)
    assert set(held) == {f"p-{i}" for i in range(400)}
    assert max(held.values()) == 1, "an event reached Brevo twice"
    assert "taken over" not in logs


@pytest.mark.slow
def test_a_worker_whose_host_clock_runs_five_minutes_ahead_doubles_nothing(
    sandbox, config, tmp_path
):
    """Issue 18: by its own clock every live worker's lease had run out (1,400 doubled)."""
    arm(sandbox, kind="status", status=429, headers={"x-sib-ratelimit-reset": "5"}, times=1)
    first = start_worker(config, tmp_path, "first")
    wait_for_batch_calls(sandbox, 1)  # its first call waits 5 s for the reset, within its lease
    ahead = start_worker(config, tmp_path, "ahead", clock_ahead=True)

    logs = finished(ahead) + finished(first)

    held = in_brevo(sandbox)
    assert set(held) == {f"p-{i}" for i in range(400)}
    assert max(held.values()) == 1, "an event reached Brevo twice"
    assert "taken over" not in logs


def test_a_queue_delay_three_times_the_settle_time_doubles_nothing(sandbox, config):
    """Issue 18: with Brevo's queue slower than events_settle_seconds, 3,400 events doubled."""
    arm(sandbox, kind="after_processing", status=502, every=7)
    delay = 3 * config["events_settle_seconds"]
    http.post(f"{sandbox.url}/_sandbox/brevo/events-visibility", json={"seconds": delay})

    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.listen(singer_input(*purchases(3000)))

    held = in_brevo(sandbox)
    assert set(held) == {f"p-{i}" for i in range(3000)}
    assert max(held.values()) == 1, "an event reached Brevo twice"
    report = target.run.report.events
    assert (report.calls_in_doubt, report.resent_after_settling) == (2, 0)
    # It learnt that the queue is slower than the setting, and kept it for the next runs.
    learnt = EventLedger(Ledger(config["ledger_url"])).events_visibility_delay()
    assert learnt > config["events_settle_seconds"]
    assert report.queue_delay_observed_seconds == learnt

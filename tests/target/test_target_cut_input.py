"""A tap that dies mid-window: the cut last line ends the input, the last complete STATE passes.

Issue 18 item 6: the target read a cut last line (the tap killed mid-write: no newline, half a
JSON message), exited 1 and passed no STATE though two windows were complete, so every rerun
re-read them. Now the records read are sent, the last STATE read passes on once Brevo has its
records, and the run ends non-zero with one line saying the input ended mid-message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from target_brevo_tajo.singer_input import SingerInput, SingerInputError
from tests.admin_http import http
from tests.brevo_sandbox import in_brevo, sandbox_config
from tests.report_checks import unbalanced
from tests.singer_messages import EVENTS_SCHEMA, event, line
from tests.target.cli import assert_one_line_error

CUT = b'{"type": "RECORD", "stream": "events", "record": {"event": "Purch'


pytestmark = pytest.mark.sandbox(profiles=10, events=10, days=1)


@pytest.fixture
def sandbox(shared_sandbox):
    """The module's sandbox, emptied before each test."""
    http.post(f"{shared_sandbox.url}/_sandbox/reset", timeout=30)
    return shared_sandbox


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    return sandbox_config(
        sandbox,
        mapping_file,
        tmp_path,
        report_file=str(tmp_path / "report.json"),
        events_settle_seconds=0.3,
    )


def window(number: int, *, state: bool = True) -> bytes:
    """One window of the tap's output: its events, then (when complete) its STATE."""
    records = b"".join(
        line(
            event("Purchase", f"w{number}-{i}", f"user-{i}", time=f"2026-11-2{number}T10:00:0{i}Z")
        )
        for i in range(3)
    )
    return records + (line(window_state(number)) if state else b"")


def window_state(number: int) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"events": {"window": number}}}}


def run_target(config: dict, tmp_path: Path, input_bytes: bytes) -> subprocess.CompletedProcess:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(config_file)]
    return subprocess.run(
        command, input=input_bytes.decode(), capture_output=True, text=True, check=False
    )


def states(result: subprocess.CompletedProcess) -> list[dict]:
    """What the target passed on: a target writes each state's value on a line of its own."""
    return [json.loads(text) for text in result.stdout.splitlines() if text]


def test_two_complete_windows_then_a_cut_line_pass_the_second_state_and_fail_in_one_line(
    sandbox, config, tmp_path
):
    tap_output = line(EVENTS_SCHEMA) + window(1) + window(2) + CUT

    result = run_target(config, tmp_path, tap_output)

    assert states(result)[-1] == window_state(2)["value"]
    assert in_brevo(sandbox) == Counter({f"w{n}-{i}": 1 for n in (1, 2) for i in range(3)})
    assert_one_line_error(
        result,
        "the input ended mid-message at line 10",
        "the tap failed",
        "the state was kept up to the last complete STATE",
    )
    report = json.loads(Path(config["report_file"]).read_text())
    assert report["status"] == "failed"
    assert "the input ended mid-message" in report["error"]
    assert report["events"]["received"] == 6
    assert unbalanced(report) == {}


def test_a_cut_line_after_records_without_their_state_passes_only_the_earlier_state(
    sandbox, config, tmp_path
):
    tap_output = line(EVENTS_SCHEMA) + window(1) + window(2, state=False) + CUT

    result = run_target(config, tmp_path, tap_output)

    assert result.returncode != 0
    assert states(result)
    assert all(state == window_state(1)["value"] for state in states(result))


def test_a_cut_line_before_any_state_passes_none_and_says_so(sandbox, config, tmp_path):
    result = run_target(config, tmp_path, line(EVENTS_SCHEMA) + window(1, state=False) + CUT)

    assert states(result) == []
    last = result.stderr.strip().splitlines()[-1]
    assert "ended mid-message" in last
    assert "no STATE was passed on" in last


def test_a_line_that_is_not_json_before_the_last_is_still_an_error_of_the_input():
    reader = SingerInput()
    lines = [line(EVENTS_SCHEMA), CUT + b"\n", line(window_state(1))]

    with pytest.raises(SingerInputError, match="input line 2 is not JSON"):
        reader.process_lines(lines, {"SCHEMA": lambda _: None, "STATE": lambda _: None})


def test_a_complete_last_message_without_its_newline_is_read():
    reader = SingerInput()
    seen: list[dict] = []

    reader.process_lines([line(window_state(1)).rstrip(b"\n")], {"STATE": seen.append})

    assert seen == [window_state(1)]

"""How a run ends and what it logs on the way: readable by a data engineer (issue 17 item 10).

The fatal reason is an ERROR and the last line; a target stopped by its settings reads its input
to the end, so that ``meltano run`` (still writing the tap's output into it) ends without
``BrokenPipeError`` tracebacks; one HTTP line per call is DEBUG, not INFO; a long run logs its
progress; the process leaves no ``ResourceWarning``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import httpx
import pytest
import respx

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.progress import ProgressLog
from target_brevo_tajo.report import EventsReport
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import EVENTS_SCHEMA, event, singer_input


def test_a_target_stopped_by_its_settings_reads_the_taps_output_to_the_end(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"api_key": "k", "events_batch_size": 0}))
    target = subprocess.Popen(
        [sys.executable, "-m", "target_brevo_tajo", "--config", "config.json"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines = (json.dumps(EVENTS_SCHEMA) + "\n" + json.dumps(event("Purchase", "p")) + "\n").encode()
    try:
        for _ in range(50_000):  # about 20 MB: far more than a pipe holds
            target.stdin.write(lines)
        target.stdin.close()
    except BrokenPipeError:
        target.kill()
        pytest.fail("the target exited while the tap was still writing into it")
    stdout, stderr = target.stdout.read(), target.stderr.read()
    target.wait(timeout=120)

    assert target.returncode == 1
    assert stdout == b""
    last = stderr.decode().strip().splitlines()[-1]
    assert " | ERROR " in last
    assert last.endswith("target-brevo-tajo: events_batch_size is 0: set it to 1 or more")


def test_progress_is_logged_every_interval_with_events_sent_their_rate_and_calls_waiting(caplog):
    report = EventsReport()
    logger = logging.getLogger("target-brevo-tajo.progress-test")
    progress = ProgressLog(logger, report, calls_waiting=lambda: 3, every=0.05)
    caplog.set_level(logging.INFO, logger=logger.name)

    progress.start()
    report.sent = 400
    time.sleep(0.3)
    progress.stop()

    lines = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert lines
    assert lines[-1].startswith("progress: 400 events sent (")
    assert lines[-1].endswith("/s); 3 calls waiting for Brevo")
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == logger.name)
    assert not progress.running


@pytest.mark.parametrize("every", [10, 0.05], ids=["a-short-run", "nothing-moves"])
def test_no_progress_line_when_the_run_is_short_or_nothing_moves(caplog, every):
    logger = logging.getLogger("target-brevo-tajo.progress-test")
    progress = ProgressLog(logger, EventsReport(), calls_waiting=lambda: 0, every=every)
    caplog.set_level(logging.INFO, logger=logger.name)

    progress.start()
    time.sleep(0.2)
    progress.stop()

    assert not [r for r in caplog.records if r.name == logger.name]


def test_the_line_per_http_call_is_debug_not_info(mapping_file, tmp_path, caplog):
    config = {
        "api_key": "xkeysib-test-secret",
        "mapping_file": str(mapping_file),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
    }
    caplog.set_level(logging.INFO)
    with respx.mock(base_url="https://api.brevo.com/v3") as brevo:
        brevo.post("/events/batch").mock(return_value=httpx.Response(202, json={"count": 1}))
        target = TargetBrevoTajo(config=config, parse_env_config=False)
        target.listen(singer_input(event("Purchase", "h-1")))

    assert target.run.report.events.sent == 1
    assert not [r for r in caplog.records if r.name == "httpx"]
    assert not target.progress.running  # stopped with the run


# Python's development mode, with a ResourceWarning (an unclosed file, socket, database) an error.
DEV_MODE = ["-X", "dev", "-W", "error::ResourceWarning"]


@pytest.mark.parametrize("brevo_answers", [202, 401])
def test_a_run_leaves_no_resource_warning(mapping_file, tmp_path, brevo_answers):
    with SandboxServer(profiles=2, events=2, days=1) as sandbox:
        config = {
            "api_key": "sandbox-brevo-key" if brevo_answers == 202 else "a-wrong-key",
            "base_url": f"{sandbox.url}/brevo/v3",
            "mapping_file": str(mapping_file),
            "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            "report_file": str(tmp_path / "report.json"),
            "max_retries": 0,
        }
        (tmp_path / "config.json").write_text(json.dumps(config))
        messages = singer_input(event("Purchase", "w-1"), event("Purchase", "w-2")).getvalue()
        result = subprocess.run(
            [sys.executable, *DEV_MODE, "-m", "target_brevo_tajo", "--config", "config.json"],
            cwd=tmp_path,
            input=messages,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert result.returncode == (0 if brevo_answers == 202 else 1), result.stderr[-2000:]
    assert "ResourceWarning" not in result.stderr
    assert "Traceback" not in result.stderr

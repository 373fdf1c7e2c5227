"""End to end: another tap's rows routed into Brevo events, exactly once across a `kill -9`.

`meltano run tap-jsonl--orders target-brevo-tajo` (the demo's JSONL tap, the sandbox mapping's
route `orders -> events`) is killed, the whole pipeline at once, while a batch call is in flight;
the rerun reads the file again and Brevo ends with each order once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from mixpanel_brevo_sandbox import demo_routes
from mixpanel_brevo_sandbox.demo import pipeline_command, sandbox_env
from tests.admin_http import http
from tests.conftest import ROOT
from tests.e2e.meltano import meltano_run

pytestmark = pytest.mark.e2e

# Short calls, so that the killed run's lease on its call in doubt ends soon (request timeout
# + settle time + the target's 5 s margin), and two orders per batch call: several calls.
TARGET_ENV = {"request_timeout_seconds": "2", "events_batch_size": "2"}
LEASE_SECONDS = 8.5


def batch_calls(sandbox) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    return sum(1 for c in calls if c["path"] == "/events/batch")


def orders_in_brevo(sandbox) -> list[str]:
    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=60).json()["events"]
    return sorted(e["event_properties"]["mp_insert_id"] for e in events)


def test_routed_orders_reach_brevo_once_across_a_kill_9_mid_run_and_a_rerun(sandbox, tmp_path):
    suffix = f"e2e-kill-{uuid.uuid4().hex[:8]}"
    rows = (ROOT / "mappings" / "demo_sources" / "orders.jsonl").read_text(encoding="utf-8")
    expected = sorted(f"orders:{json.loads(row)['order_id']}" for row in rows.splitlines())
    # Every batch call stalls after Brevo queued its events: the kill lands while one is in flight.
    fault = {"api": "brevo", "method": "POST", "path": "/events/batch", "times": -1}
    fault |= {"kind": "after_processing", "delay_seconds": 1.0}
    http.post(f"{sandbox.url}/_sandbox/faults", json=fault, timeout=30).raise_for_status()
    env = {
        **os.environ,
        **sandbox_env(sandbox),
        "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "TARGET_BREVO_TAJO_REPORT_FILE": str(tmp_path / "report-killed.json"),
        **{f"TARGET_BREVO_TAJO_{k.upper()}": v for k, v in TARGET_ENV.items()},
    }
    command = pipeline_command(suffix, demo_routes.CRM_EXTRACTORS[1])
    with (tmp_path / "meltano-killed.log").open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while batch_calls(sandbox) < 2:
        assert process.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline, "the run made no batch call"
        time.sleep(0.05)
    time.sleep(0.3)  # the second call is queued in Brevo, its answer not yet back
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    partial = orders_in_brevo(sandbox)
    assert 0 < len(partial) < len(expected)
    http.delete(f"{sandbox.url}/_sandbox/faults", timeout=30).raise_for_status()
    time.sleep(LEASE_SECONDS)
    # Meltano still holds the killed run as running (for 5 minutes): the rerun says --force.
    rerun_command = [*command, "--force"]
    rerun = meltano_run(sandbox, tmp_path, suffix, 2, command=rerun_command, **TARGET_ENV)

    assert orders_in_brevo(sandbox) == expected, "an order is missing or reached Brevo twice"
    # The rerun sends only what the killed run had not, and finds the rest in the ledger or,
    # for the calls left in doubt, in Brevo.
    sent, known = rerun["events"]["sent"], rerun["events"]["deduplicated"]
    assert (sent, known) == (len(expected) - len(partial), len(partial))

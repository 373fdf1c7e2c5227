"""A stream routed to Brevo events by a long-form route, against the sandbox's Brevo: exactly once
across two runs, a lost answer, and SIGKILLs of the target while its calls are in flight."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mixpanel_brevo_mapping import MappingError
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.brevo_sandbox import in_brevo, run, target_config
from tests.singer_messages import EVENTS_SCHEMA

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.sandbox(profiles=0, events=0, days=1)

ROUTE = """\
routes:
  orders: {to: events, event: order_completed, id_field: customer_email, key: order_id,
           time: created_at, fields: {amount: total, currency: currency}}
"""
ORDERS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "orders",
    "key_properties": ["order_id"],
    "schema": {
        "type": "object",
        "properties": {
            "order_id": {"type": ["string", "null"]},
            "customer_email": {"type": ["string", "null"]},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "amount": {"type": ["number", "null"]},
            "currency": {"type": ["string", "null"]},
        },
    },
}


def order(order_id: str | None, email: str = "ada@example.com", **row: Any) -> dict[str, Any]:
    """One RECORD of the orders stream."""
    record = {
        "order_id": order_id,
        "customer_email": email,
        "created_at": "2026-11-20T10:00:00Z",
        "amount": 12.5,
        "currency": "EUR",
        **row,
    }
    return {"type": "RECORD", "stream": "orders", "record": record}


def orders_input(*records: dict[str, Any], schema: dict = ORDERS_SCHEMA) -> io.StringIO:
    messages = [schema, *records, {"type": "STATE", "value": {"bookmarks": {}}}]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def brevo_events(sandbox: SandboxServer) -> list[dict]:
    return http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]


def test_a_routed_streams_events_reach_brevo_once_across_two_runs(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTE)
    rows = [order("o-1"), order("o-2", email="u-7"), order("o-1")]

    first = run(config, orders_input(*rows))
    second = run(config, orders_input(*rows))

    assert in_brevo(sandbox) == {"orders:o-1": 1, "orders:o-2": 1}
    by_id = {e["event_properties"]["mp_insert_id"]: e for e in brevo_events(sandbox)}
    assert by_id["orders:o-1"]["event_name"] == "order_completed"
    assert by_id["orders:o-1"]["identifiers"] == {"email_id": "ada@example.com"}
    assert by_id["orders:o-2"]["identifiers"] == {"ext_id": "u-7"}
    assert by_id["orders:o-1"]["event_properties"]["total"] == 12.5
    assert by_id["orders:o-1"]["event_properties"]["currency"] == "EUR"
    assert (first.run.report.events.sent, first.run.report.events.deduplicated_in_run) == (2, 1)
    assert second.run.report.events.sent == 0
    assert second.run.report.events.deduplicated_by_ledger == 2


def test_a_row_without_its_key_or_time_is_a_reject_naming_the_field(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTE)

    target = run(
        config,
        orders_input(
            order(None),
            order("o-3", created_at=None),
            order("o-4", created_at="soon"),
            order("o-5", amount="lots"),  # fails the stream's schema
        ),
    )

    rejected = dict(target.run.report.events.rejected)
    schema_problem = next(reason for reason in rejected if reason.startswith("schema: "))
    assert rejected == {
        "no order_id: a route to events needs it": 1,
        "no created_at: a route to events needs it": 2,  # an unreadable date-time becomes null
        schema_problem: 1,
    }
    assert target.run.report.events.received == 4
    assert target.run.report.rejected_records["orders"] == 4
    assert in_brevo(sandbox) == {}


def test_a_route_naming_a_field_the_schema_lacks_is_one_line_before_any_record(
    sandbox, tmp_path: Path
):
    config = target_config(sandbox, tmp_path, ROUTE.replace("currency: currency", "cur: currency"))

    with pytest.raises(MappingError) as raised:
        run(config, orders_input(order("o-1")))

    assert raised.value.problems == [
        f"{tmp_path}/mapping.yml:3: routes.orders.fields.cur: the stream's SCHEMA has no "
        "field 'cur'"
    ]
    assert in_brevo(sandbox) == {}


def test_an_open_schema_cannot_rule_a_field_out_so_its_rows_are_checked_instead(
    sandbox, tmp_path: Path
):
    """A JQL stream without a declared schema names its keys only, and allows any other field."""
    open_schema = {
        **ORDERS_SCHEMA,
        "schema": {
            "type": "object",
            "properties": {"order_id": {"type": ["string", "null"]}},
            "additionalProperties": True,
        },
    }
    config = target_config(sandbox, tmp_path, ROUTE)
    without_time = order("o-2")
    del without_time["record"]["created_at"]

    target = run(config, orders_input(order("o-1"), without_time, schema=open_schema))

    assert in_brevo(sandbox) == {"orders:o-1": 1}
    assert target.run.report.events.sent == 1
    assert target.run.report.events.rejected == {"no created_at: a route to events needs it": 1}


def test_the_short_form_still_routes_records_of_the_taps_shape(sandbox, tmp_path: Path):
    config = target_config(
        sandbox, tmp_path, "event_mapping: {Purchase: purchase}\nroutes: {web_events: events}\n"
    )
    schema = {**EVENTS_SCHEMA, "stream": "web_events"}
    record = {
        "type": "RECORD",
        "stream": "web_events",
        "record": {
            "event": "Purchase",
            "time": "2026-11-20T10:00:00Z",
            "distinct_id": "user-1",
            "insert_id": "w-1",
            "properties": {"$insert_id": "w-1"},
        },
    }

    target = run(config, orders_input(record, schema=schema))

    assert in_brevo(sandbox) == {"w-1": 1}
    assert target.run.report.events.sent == 1


def test_a_routed_call_whose_answer_was_lost_is_settled_not_sent_twice(sandbox, tmp_path: Path):
    config = {**target_config(sandbox, tmp_path, ROUTE), "events_settle_seconds": 0.3}
    rule = {"api": "brevo", "method": "POST", "path": "/events/batch", "times": 1}
    fault = {**rule, "kind": "after_processing", "status": 502}
    http.post(f"{sandbox.url}/_sandbox/faults", json=fault, timeout=30).raise_for_status()
    rows = [order(f"o-{i}") for i in range(5)]

    first = run(config, orders_input(*rows))
    run(config, orders_input(*rows))

    assert in_brevo(sandbox) == {f"orders:o-{i}": 1 for i in range(5)}
    assert first.run.report.events.calls_in_doubt == 1
    assert first.run.report.events.found_in_brevo_when_settling == 5


ORDERS = 4_000  # 20 batch calls of 200: room for several kills with calls in flight
KILLS = 5


def batch_calls(sandbox: SandboxServer) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    return sum(1 for c in calls if c["path"] == "/events/batch")


@pytest.mark.slow
def test_sigkills_mid_run_then_a_rerun_send_each_routed_order_exactly_once(sandbox, tmp_path):
    # Every batch call stalls 0.4 s after Brevo queued it: a kill lands while it is in flight.
    rule = {"api": "brevo", "method": "POST", "path": "/events/batch", "times": -1,
            "kind": "after_processing", "delay_seconds": 0.4}  # fmt: skip
    http.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=30).raise_for_status()
    config = {
        **target_config(sandbox, tmp_path, ROUTE),
        "events_settle_seconds": 0.3,
        "request_timeout_seconds": 2,  # a killed worker's claim expires after about 7 s
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    rows = [order(f"o-{i}", email=f"buyer-{i % 40}@example.com") for i in range(ORDERS)]
    (tmp_path / "input.jsonl").write_text(orders_input(*rows).getvalue())
    command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(tmp_path / "config.json")]
    command += ["--input", str(tmp_path / "input.jsonl")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    chance = random.Random(20261205)

    kills = 0
    while kills < KILLS:
        before = batch_calls(sandbox)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while batch_calls(sandbox) < before + chance.randint(1, 2) and process.poll() is None:
            assert time.monotonic() < deadline, "the target made no progress"
            time.sleep(0.02)
        if process.poll() is not None:
            break
        time.sleep(chance.uniform(0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    time.sleep(8)  # the last killed worker's lease runs out: its call may be taken over
    final = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    rerun = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert final.returncode == 0, final.stderr[-2000:]
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert kills == KILLS, "the run finished before every kill landed: grow the input"
    held = in_brevo(sandbox)
    assert set(held) == {f"orders:o-{i}" for i in range(ORDERS)}
    assert max(held.values()) == 1, "a routed order reached Brevo twice"

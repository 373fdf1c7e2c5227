"""A dry run of routed streams is the plan: it writes nothing and counts what the real run does."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import target_config

pytestmark = pytest.mark.sandbox(profiles=5, events=20, days=1)

ROUTES = """\
routes:
  orders: {to: events, event: order_completed, id_field: email, key: order_id, time: at,
           fields: {total: total}}
  crm: {to: contacts, id_field: email, fields: {plan: PLAN}}
  buyers: {to: list, list: 16, id_field: user, mode: mirror}
  accounts: {to: companies, id_field: account_id, name_field: name}
"""
FIELDS = {
    "orders": ("order_id", "email", "at", "total"),
    "crm": ("email", "plan"),
    "buyers": ("user",),
    "accounts": ("account_id", "name"),
}
# What differs between a dry run's report and the real run's without being a count.
NOT_COUNTS = {"status", "run_id", "started_at", "finished_at", "dry_run", "api_calls"}
NOT_COUNTS |= {"rate_budgets", "retries", "error", "job_name"}


def schema(stream: str) -> dict[str, Any]:
    properties = {field: {"type": ["string", "number", "null"]} for field in FIELDS[stream]}
    body = {"type": "object", "properties": properties}
    return {"type": "SCHEMA", "stream": stream, "key_properties": [], "schema": body}


def rows(stream: str, *records: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "RECORD", "stream": stream, "record": record} for record in records]


def order(user: str) -> dict[str, Any]:
    return {"order_id": user, "email": f"{user}@example.com", "at": "2026-11-20T10:00Z", "total": 3}


def singer(*users: str, plan: str = "pro") -> io.StringIO:
    messages = [
        *(schema(stream) for stream in FIELDS),
        *rows("orders", *(order(u) for u in users)),
        *rows("crm", *({"email": f"{u}@example.com", "plan": plan} for u in users)),
        *rows("buyers", *({"user": u} for u in users)),
        *rows("accounts", *({"account_id": u, "name": f"Co {u}"} for u in users)),
        {"type": "STATE", "value": {"bookmarks": {}}},
    ]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def run(config: dict, messages: io.StringIO, **settings: Any) -> dict:
    target = TargetBrevoTajo(config={**config, **settings}, parse_env_config=False)
    target.listen(messages)
    report = target.run.report.to_dict()
    return {key: value for key, value in report.items() if key not in NOT_COUNTS}


def brevo_writes(sandbox: SandboxServer) -> list[str]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    http.delete(f"{sandbox.url}/_sandbox/calls")
    return [f"{c['method']} {c['path']}" for c in calls if c["method"] != "GET"]


def test_a_dry_run_of_routed_streams_counts_what_the_real_run_then_does(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTES)
    run(config, singer("u1", "u2", "u3"))
    brevo_writes(sandbox)

    dry = run(config, singer("u2", "u3", "u4", plan="team"), dry_run=True)
    assert brevo_writes(sandbox) == []
    real = run(config, singer("u2", "u3", "u4", plan="team"))

    calls = {"imports", "calls"}  # Brevo calls, like api_calls: a dry run makes none
    for section in (dry, real):
        section["companies"] = {k: v for k, v in section["companies"].items() if k not in calls}
    assert dry == real
    assert real["events"]["sent"] == 1
    assert real["contacts"]["updated"] == 2
    (line,) = real["cohorts"]
    assert (line["added"], line["removed"]) == (1, 1)

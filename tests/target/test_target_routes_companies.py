"""A stream routed to Brevo companies by a long-form route, against the sandbox's Brevo."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.brevo_sandbox import run, target_config

pytestmark = pytest.mark.sandbox(profiles=0, events=0, days=1)

ROUTE = """\
routes:
  accounts: {to: companies, id_field: account_id, name_field: account_name,
             fields: {industry: Industry}}
"""
SCHEMA = {
    "type": "SCHEMA",
    "stream": "accounts",
    "key_properties": ["account_id"],
    "schema": {
        "type": "object",
        "properties": {
            "account_id": {"type": ["string", "null"]},
            "account_name": {"type": ["string", "null"]},
            "industry": {"type": ["string", "null"]},
        },
    },
}


def account(account_id: str | None, name: str, industry: str = "Retail") -> dict[str, Any]:
    record = {"account_id": account_id, "account_name": name, "industry": industry}
    return {"type": "RECORD", "stream": "accounts", "record": record}


def accounts_input(*records: dict[str, Any]) -> io.StringIO:
    messages = [SCHEMA, *records, {"type": "STATE", "value": {"bookmarks": {}}}]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def brevo_companies(sandbox: SandboxServer) -> dict[str, dict]:
    with sandbox.state.lock:
        companies = sandbox.state.brevo.crm.companies.values()
        return {c["attributes"]["name"]: c["attributes"] for c in companies}


def company_writes(sandbox: SandboxServer) -> list[str]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    http.delete(f"{sandbox.url}/_sandbox/calls")
    return [
        f"{c['method']} {c['path']}"
        for c in calls
        if c["api"] == "brevo" and c["method"] != "GET" and c["path"].startswith("/companies")
    ]


def test_rows_become_companies_and_only_a_changed_one_is_written_again(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTE)
    run(config, accounts_input(account("a-1", "Acme"), account("a-2", "Globex")))
    assert sorted(brevo_companies(sandbox)) == ["Acme", "Globex"]
    company_writes(sandbox)

    target = run(config, accounts_input(account("a-1", "Acme"), account("a-2", "Globex", "Energy")))

    companies = brevo_companies(sandbox)
    assert sorted(companies) == ["Acme", "Globex"]
    assert [v for k, v in companies["Globex"].items() if k.lower().startswith("industry")] == [
        "Energy"
    ]
    assert company_writes(sandbox) == ["POST /companies/import"]
    report = target.run.report.companies
    assert (report.received, report.updated, report.unchanged) == (2, 1, 1)


def test_a_row_without_its_id_field_is_a_named_reject(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTE)

    target = run(config, accounts_input(account(None, "Nameless"), account("a-1", "Acme")))

    assert sorted(brevo_companies(sandbox)) == ["Acme"]
    assert (target.run.report.companies.rejected, target.run.report.companies.created) == (1, 1)
    assert target.run.report.rejected_records["accounts"] == 1

"""End to end through `meltano run`: report streams to a file target, a JQL stream to a list.

A rerun of the report streams over the same dates reads the same primary keys (a keyed loader
replaces its records, never duplicates them) within Mixpanel's Query API budget; a JQL stream
routed to a Brevo list mirrors the query's answer exactly, and an unchanged rerun writes nothing.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from pathlib import Path

import pytest

from mixpanel_brevo_sandbox import demo_routes
from mixpanel_brevo_sandbox.demo import pipeline_command
from tests.admin_http import http
from tests.conftest import ROOT
from tests.e2e.meltano import meltano_log, meltano_run

pytestmark = pytest.mark.e2e

#: Each report stream's primary key (docs/reports.md).
KEYS = {"insights": ("bookmark_id", "series", "segment", "date"), "funnels": ("funnel_id", "date")}
BUDGET_LINE = re.compile(r"Query API budget: (\d+) calls \(limit 60 an hour, 5 at once\)")


def report_keys(folder: Path, stream: str) -> list[tuple[str, ...]]:
    """The primary key of every record the CSV target wrote for ``stream``, in file order."""
    with (folder / f"{stream}.csv").open(encoding="utf-8", newline="") as handle:
        return [tuple(row[k] for k in KEYS[stream]) for row in csv.DictReader(handle)]


@pytest.mark.sandbox(mixpanel_query_budget=(60, 5))
def test_a_rerun_of_the_report_streams_replaces_their_records_within_the_query_budget(
    sandbox, tmp_path
):
    command = pipeline_command(
        f"e2e-reports-{uuid.uuid4().hex[:8]}", demo_routes.REPORTS_EXTRACTOR, "target-csv"
    )
    logs, keys = [], []
    for run in (1, 2):
        folder = tmp_path / f"run{run}"
        logs.append(
            meltano_log(sandbox, tmp_path, command, run, TARGET_CSV_OUTPUT_PATH=str(folder))
        )
        keys.append({stream: report_keys(folder, stream) for stream in KEYS})

    first, second = keys
    assert {k[0] for k in first["insights"]} == {"4101", "4102", "4103"}
    assert {k[0] for k in first["funnels"]} == {"7101", "7102"}
    for run in keys:
        for stream, rows in run.items():
            assert rows, f"{stream}: no record"
            assert len(set(rows)) == len(rows), f"{stream}: a key written twice in a run"
    # The rerun reads the saved reports whole and the funnels' lookback again: the same keys,
    # so a loader upserting on them holds the first run's number of records, none twice.
    assert set(second["insights"]) == set(first["insights"])
    assert set(second["funnels"]) <= set(first["funnels"])
    spent = [int(BUDGET_LINE.search(log).group(1)) for log in logs]  # type: ignore[union-attr]
    assert all(0 < calls <= 60 for calls in spent)
    budget = http.get(f"{sandbox.url}/_sandbox/mixpanel/query-budget", timeout=30).json()
    assert budget["calls"] == sum(spent)
    assert budget["peak_hour"] <= 60
    assert budget["rejected"] == 0


def writes(report: dict) -> dict[str, int]:
    """The Brevo calls of a run that change something (any but GET)."""
    return {
        k: n for k, n in report["api_calls"].items() if k != "total" and not k.startswith("GET")
    }


def test_a_jql_stream_mirrors_into_a_brevo_list_and_an_unchanged_rerun_writes_nothing(
    sandbox, tmp_path
):
    suffix = f"e2e-jql-{uuid.uuid4().hex[:8]}"
    list_id = demo_routes.buyers_list_id(ROOT)
    demo_routes.create_buyers_list(sandbox, list_id)
    rows = demo_routes.register_buyers(sandbox, ROOT)
    buyers = {row["distinct_id"] for row in rows}
    assert buyers

    first = meltano_run(sandbox, tmp_path, suffix, 1, extractor=demo_routes.JQL_EXTRACTOR)

    assert demo_routes.list_members(sandbox, list_id) == buyers
    assert first["cohorts"][0]["added"] == len(buyers)

    unchanged = meltano_run(sandbox, tmp_path, suffix, 2, extractor=demo_routes.JQL_EXTRACTOR)

    assert writes(unchanged) == {}
    assert (unchanged["cohorts"][0]["added"], unchanged["cohorts"][0]["removed"]) == (0, 0)

    # The query's answer changes: one buyer leaves it, one user joins it.
    gone = sorted(buyers)[0]
    newcomer = next(f"user-{i:05d}" for i in range(1, 501) if f"user-{i:05d}" not in buyers)
    changed = [row for row in rows if row["distinct_id"] != gone]
    changed.append({"distinct_id": newcomer, "purchases": 3})
    script = (ROOT / demo_routes.jql_query(ROOT)["script_file"]).read_text(encoding="utf-8")
    http.post(
        f"{sandbox.url}/_sandbox/mixpanel/jql", json={"script": script, "result": changed}
    ).raise_for_status()
    third = meltano_run(sandbox, tmp_path, suffix, 3, extractor=demo_routes.JQL_EXTRACTOR)

    assert demo_routes.list_members(sandbox, list_id) == buyers - {gone} | {newcomer}
    assert (third["cohorts"][0]["added"], third["cohorts"][0]["removed"]) == (1, 1)


def test_another_taps_rows_reach_brevo_contacts_and_events_through_routes_once(sandbox, tmp_path):
    crm, orders = demo_routes.CRM_EXTRACTORS
    sources = ROOT / "mappings" / "demo_sources"
    accounts = (sources / "crm_accounts.jsonl").read_text(encoding="utf-8").splitlines()
    order_rows = (sources / "orders.jsonl").read_text(encoding="utf-8").splitlines()

    contacts = meltano_run(sandbox, tmp_path, "e2e-crm", 1, extractor=crm)
    first = meltano_run(sandbox, tmp_path, "e2e-orders", 2, extractor=orders)
    # A new state id: the JSONL tap reads its file again, and the ledger sends nothing twice.
    again = meltano_run(sandbox, tmp_path, "e2e-orders-again", 3, extractor=orders)

    assert contacts["contacts"]["created"] + contacts["contacts"]["updated"] == len(accounts)
    in_brevo = http.get(f"{sandbox.url}/_sandbox/brevo/contacts", timeout=60).json()["contacts"]
    assert sum(1 for c in in_brevo if "ACCOUNT_MANAGER" in c["attributes"]) == len(accounts)
    assert first["events"]["sent"] == len(order_rows)
    assert (again["events"]["sent"], again["events"]["deduplicated_by_ledger"]) == (
        0,
        len(order_rows),
    )
    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=60).json()["events"]
    assert sorted(e["event_properties"]["mp_insert_id"] for e in events) == sorted(
        f"orders:{json.loads(row)['order_id']}" for row in order_rows
    )

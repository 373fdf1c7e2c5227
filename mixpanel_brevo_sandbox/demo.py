"""`make demo`: the whole Meltano pipeline against the sandbox, twice, with what each run did.

Run 1 exports the demo project's events and profiles and loads them into the sandbox's Brevo,
then its cohorts into lists and its group profiles into companies linked to their members.
Then the sandbox clock moves two days on (events that Mixpanel processed late become visible)
and one user changes plan; run 2 re-reads the lookback window, sends only the late events, and
updates exactly that one contact. Last, the other pipelines (:mod:`.demo_routes`): a JQL stream
mirrored into a Brevo list, a JSONL tap's rows routed into contacts and events, and the saved
reports written to CSV files for a warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import httpx

from mixpanel_brevo_sandbox import demo_routes
from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.report import render_report

AT_RISK_COHORT = 1002  # the demo project's "At Risk" cohort (the seed's lists.at_risk)
MAIN_EXTRACTOR = "tap-mixpanel-tajo"  # events and profiles, hourly
COHORTS_EXTRACTOR = "tap-mixpanel-tajo--cohorts"  # cohorts and their members, daily
GROUPS_EXTRACTOR = "tap-mixpanel-tajo--groups"  # group profiles (companies) and members, daily


def pipeline_command(
    state_suffix: str, extractor: str = MAIN_EXTRACTOR, loader: str = demo_routes.BREVO_LOADER
) -> list[str]:
    """`meltano run` of one pipeline in the sandbox environment of meltano.yml."""
    return [
        shutil.which("meltano") or "meltano",
        "--environment=sandbox",
        "run",
        extractor,
        loader,
        "--state-id-suffix",
        state_suffix,
    ]


def sandbox_env(server: SandboxServer) -> dict[str, str]:
    """The variables meltano.yml's sandbox environment reads: the URL and a start date."""
    now = httpx.get(f"{server.url}/_sandbox/clock", timeout=30).json()["now"]
    start = dt.datetime.fromisoformat(now.replace("Z", "+00:00")) - dt.timedelta(days=9)
    return {"SANDBOX_URL": server.url, "SANDBOX_START_DATE": start.strftime("%Y-%m-%dT00:00:00Z")}


def _meltano_run(
    root: Path, env: dict[str, str], state_suffix: str, log_file: Path, pipeline: tuple[str, str]
) -> int:
    extractor = pipeline[0]
    command = pipeline_command(state_suffix, *pipeline)
    print(f"$ {' '.join(command[-6:])}  (full log: {log_file.relative_to(root)})", flush=True)
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            progress = line.strip().partition(f"{extractor} ")[2]
            shown = ("records/s", "window(s)", "snapshot", "Query API budget:")
            if progress and any(k in progress for k in shown):
                print("  " + progress, flush=True)
        return process.wait()


def _mixpanel_calls(server: SandboxServer) -> Counter[str]:
    calls = httpx.get(f"{server.url}/_sandbox/calls", timeout=30).json()["calls"]
    httpx.delete(f"{server.url}/_sandbox/calls", timeout=30)
    return Counter(f"{c['method']} {c['path']}" for c in calls if c["api"] == "mixpanel")


def _two_days_later(server: SandboxServer) -> None:
    """Late events land, one user comes back and upgrades; cohorts move with the clock."""
    httpx.post(f"{server.url}/_sandbox/clock", json={"advance_hours": 48}, timeout=30)
    now = httpx.get(f"{server.url}/_sandbox/clock", timeout=30).json()["now"][:19]
    with server.state.lock:  # someone at risk of churning comes back
        user = sorted(server.state.mixpanel.cohort_members(AT_RISK_COHORT, server.state.now))[0]
    change = {"$distinct_id": user, "$properties": {"plan": "enterprise", "$last_seen": now}}
    httpx.post(f"{server.url}/_sandbox/mixpanel/profiles", json={"profiles": [change]}, timeout=30)
    print(
        f"\n(two days pass in the sandbox: late events land; {user}, who was at risk, comes back "
        "and moves to the enterprise plan)"
    )


def _print_companies(server: SandboxServer) -> None:
    """Brevo's companies, each with how many contacts it links, and who links to the first."""
    base = f"{server.url}/_sandbox/brevo"
    companies = httpx.get(f"{base}/companies", timeout=60).json()["companies"]
    contacts = httpx.get(f"{base}/contacts", timeout=60).json()["contacts"]
    ext_ids = {c["id"]: c["attributes"].get("EXT_ID") for c in contacts}
    print(f"Brevo holds {len(companies)} companies (Mixpanel group profiles), linking contacts:")
    for company in sorted(companies, key=lambda c: c["attributes"]["name"]):
        attributes, linked = company["attributes"], company["linkedContactsIds"]
        print(
            f"  {attributes['name']} ({attributes.get('industry', '-')}): {len(linked)} contacts, "
            f"e.g. {', '.join(sorted(str(ext_ids[i]) for i in linked)[:3])}"
        )


def _print_lookup_attributes(server: SandboxServer) -> None:
    """Contacts and events carrying the columns of the demo's lookup tables."""
    base = f"{server.url}/_sandbox/brevo"
    contacts = httpx.get(f"{base}/contacts", timeout=60).json()["contacts"]
    events = httpx.get(f"{base}/events", timeout=60).json()["events"]
    planned = [c["attributes"] for c in contacts if "PLAN_NAME" in c["attributes"]]
    tiered = sum(1 for c in contacts if "ACCOUNT_TIER" in c["attributes"])
    seated = sum(1 for e in events if "PLAN_SEATS" in e["event_properties"])
    print(
        f"Lookup tables: {len(planned)} contacts carry PLAN_NAME and PLAN_PRICE (Plans, "
        f"downloaded), {tiered} carry ACCOUNT_TIER (Accounts, read from its source CSV), "
        f"{seated} events carry PLAN_SEATS; e.g. "
        + "; ".join(
            f"{a.get('EXT_ID')}: {a['PLAN_NAME']} at {a.get('PLAN_PRICE')}" for a in planned[:3]
        )
    )


def _run_step(
    server: SandboxServer, root: Path, env: dict[str, str], suffix: str, step: demo_routes.Step
) -> int:
    """One `meltano run` of the demo, then the Mixpanel calls it made and the target's report."""
    output, (title, name, extractor, loader) = root / "output", step
    report_file = output / f"sync-report-{name}.json"
    env["TARGET_BREVO_TAJO_REPORT_FILE"] = str(report_file)
    print(f"\n== {title} ==", flush=True)
    log = output / f"demo-{name}.log"
    code = _meltano_run(root, env, suffix, log, (extractor, loader))
    if code != 0:
        print(f"meltano run failed (exit {code}); see output/demo-{name}.log")
        return code
    calls = _mixpanel_calls(server)
    spent = ", ".join(f"{k} x{v}" for k, v in sorted(calls.items()))
    print(f"Mixpanel API calls: {sum(calls.values())} ({spent})")
    if loader == demo_routes.BREVO_LOADER:
        report = json.loads(report_file.read_text(encoding="utf-8"))
        print(render_report(report, rejects_file=output / "rejects.jsonl"))
    return 0


def _other_pipelines(server: SandboxServer, root: Path, env: dict[str, str], suffix: str) -> int:
    """A JQL stream into a list, another tap's rows into contacts and events, reports to CSV."""
    list_id = demo_routes.buyers_list_id(root)
    rows = demo_routes.register_buyers(server, root)
    for step in demo_routes.OTHER_PIPELINES:
        if code := _run_step(server, root, env, suffix, step):
            return code
    demo_routes.print_report_files(root / "output" / "reports")
    exact = demo_routes.print_buyers_list(server, list_id, rows)
    demo_routes.print_routed(server, root)
    return 0 if exact else 1


def run_demo(root: Path) -> int:
    """Start the sandbox, run the pipelines, print the reports; returns an exit code."""
    output = root / "output"
    output.mkdir(exist_ok=True)
    ledger = output / "demo-ledger.sqlite"
    ledger.unlink(missing_ok=True)
    (output / "rejects.jsonl").unlink(missing_ok=True)
    state_suffix = "demo-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")

    with SandboxServer() as server:
        print(f"Sandbox (Mixpanel + Brevo stand-ins) listening on {server.url}")
        demo_routes.create_buyers_list(server, demo_routes.buyers_list_id(root))
        env = {
            **os.environ,
            **sandbox_env(server),
            "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{ledger}",
        }
        for run, title in ((1, "Run 1, first sync"), (2, "Run 2, two days later")):
            if run == 2:
                _two_days_later(server)
            for extractor, what, part in (
                (MAIN_EXTRACTOR, "events and profiles", "main"),
                (COHORTS_EXTRACTOR, "cohorts", "cohorts"),
                (GROUPS_EXTRACTOR, "groups", "groups"),
            ):
                step = (f"{title}: {what}", f"run{run}-{part}", extractor, "target-brevo-tajo")
                if code := _run_step(server, root, env, state_suffix, step):
                    return code
        if code := _other_pipelines(server, root, env, state_suffix):
            return code

        contacts = httpx.get(f"{server.url}/_sandbox/brevo/contacts", timeout=60).json()
        print(f"\nBrevo now holds {len(contacts['contacts'])} contacts.", end=" ")
        events = httpx.get(f"{server.url}/_sandbox/brevo/events", timeout=60).json()["events"]
        keys = Counter((e["event_name"], e["event_properties"].get("mp_insert_id")) for e in events)
        twice = sum(1 for n in keys.values() if n > 1)
        print(
            f"It holds {len(events)} events for "
            f"{len({json.dumps(e['identifiers'], sort_keys=True) for e in events})} contacts; "
            f"events received more than once: {twice}."
        )
        _print_companies(server)
        _print_lookup_attributes(server)
        folder = output.relative_to(root)
        print(f"Reports: {folder}/sync-report-*.json; report streams: {folder}/reports/*.csv")
        return 0 if twice == 0 else 1

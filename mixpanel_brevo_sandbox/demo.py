"""`make demo`: the whole Meltano pipeline against the sandbox, twice, with what each run did.

Run 1 exports the demo project's events and profiles and loads them into the sandbox's Brevo,
then its cohorts into lists and its group profiles into companies linked to their members.
Then the sandbox clock moves two days on (events that Mixpanel processed late become visible)
and one user changes plan; run 2 re-reads the lookback window, sends only the late events, and
updates exactly that one contact. Last, the other pipelines (:mod:`.demo_routes`): a JQL stream
mirrored into a Brevo list, a JSONL tap's rows routed into contacts and events, and the saved
reports written to CSV files for a warehouse.

Pipelines that do not depend on each other run at once (cohorts into lists next to groups into
companies; the saved reports next to the other Run 3 pipelines), each in a Meltano system folder
of its own on the project's one system database, as two schedules of one project would: the
ledger keeps them from sending anything twice. Their output is printed in order as they end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from mixpanel_brevo_sandbox import demo_routes
from mixpanel_brevo_sandbox.server import SandboxServer
from orchestration.runs import linked_sys_dir
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


#: Where a step's lines go: printed as they come, or kept to be printed when its stage ends.
Say = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class Pipelines:
    """Where the demo's `meltano run`s run.

    In the project ``root``, their logs and reports in ``output``, with ``env``; their state ids
    end in ``suffix``.
    """

    root: Path
    output: Path
    env: dict[str, str]
    suffix: str


def _meltano_run(where: Pipelines, step: demo_routes.Step, say: Say) -> int:
    """The step's `meltano run`, its log in ``demo-<name>.log`` and its progress lines said."""
    _, name, extractor, loader = step
    log_file = where.output / f"demo-{name}.log"
    command = pipeline_command(where.suffix, extractor, loader)
    shown_log = (
        log_file.relative_to(where.root) if log_file.is_relative_to(where.root) else log_file
    )
    say(f"$ {' '.join(command[-6:])}  (full log: {shown_log})")
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            cwd=where.root,
            env=where.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            progress = line.strip().partition(f"{extractor} ")[2]
            shown = ("records/s", "window(s)", "snapshot", "Query API budget:")
            if progress and any(k in progress for k in shown):
                say("  " + progress)
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


def _run_step(where: Pipelines, step: demo_routes.Step, say: Say) -> int:
    """One `meltano run` of the demo, then the target's report; returns its exit code."""
    title, name, _, loader = step
    report_file = where.output / f"sync-report-{name}.json"
    env = {**where.env, "TARGET_BREVO_TAJO_REPORT_FILE": str(report_file)}
    say(f"\n== {title} ==")
    code = _meltano_run(replace(where, env=env), step, say)
    if code != 0:
        say(f"meltano run failed (exit {code}); see {where.output / f'demo-{name}.log'}")
    elif loader == demo_routes.BREVO_LOADER:
        report = json.loads(report_file.read_text(encoding="utf-8"))
        say(render_report(report, rejects_file=where.output / "rejects.jsonl"))
    return code


def _lane(where: Pipelines, index: int) -> Pipelines:
    """Where a stage's ``index``-th lane runs: from the second on, in a system folder of its own.

    Meltano writes each plugin's config and catalog in its system folder: two runs of one loader
    at once in one folder would overwrite each other's. The state stays in one system database.
    """
    if index == 0:
        return where
    shared = Path(where.env.get("MELTANO_SYS_DIR_ROOT") or where.root / ".meltano")
    sys_dir = linked_sys_dir(where.output / "meltano" / f"lane-{index}", shared)
    database = where.env.get("MELTANO_DATABASE_URI") or f"sqlite:///{shared / 'meltano.db'}"
    env = {**where.env, "MELTANO_SYS_DIR_ROOT": str(sys_dir), "MELTANO_DATABASE_URI": database}
    return replace(where, env=env)


def _make_system_database(where: Pipelines) -> None:
    """Have Meltano make the project's SQLite system database, if it is not there yet.

    Meltano makes it on first use: two runs starting at once on none would both make it, and
    one would fail ("database is locked").
    """
    shared = Path(where.env.get("MELTANO_SYS_DIR_ROOT") or where.root / ".meltano")
    if where.env.get("MELTANO_DATABASE_URI") or (shared / "meltano.db").exists():
        return
    command = [*pipeline_command(where.suffix)[:2], "state", "list"]
    subprocess.run(command, cwd=where.root, env=where.env, capture_output=True, check=True)


def _run_lane(where: Pipelines, steps: demo_routes.Lane, say: Say) -> int:
    """The lane's steps one after the other; stops at the first that fails."""
    for step in steps:
        if code := _run_step(where, step, say):
            return code
    return 0


def run_stage(server: SandboxServer, where: Pipelines, stage: demo_routes.Stage) -> int:
    """The stage's lanes at once: the first one's lines printed as they come, the others' after.

    Then the Mixpanel calls the stage made (runs at once share the one project's budget).
    """
    if len(stage) > 1:
        _make_system_database(where)
    kept: list[list[str]] = [[] for _ in stage[1:]]
    says: list[Say] = [_print, *(lines.append for lines in kept)]
    with ThreadPoolExecutor(len(stage)) as pool:
        runs = [
            pool.submit(_run_lane, _lane(where, i), steps, says[i]) for i, steps in enumerate(stage)
        ]
        codes = [run.result() for run in runs]
    for line in (line for lines in kept for line in lines):
        _print(line)
    calls = _mixpanel_calls(server)
    spent = ", ".join(f"{k} x{v}" for k, v in sorted(calls.items()))
    runs_made = sum(len(steps) for steps in stage)
    which = "" if runs_made == 1 else f" of the {runs_made} runs above"
    _print(f"Mixpanel API calls{which}: {sum(calls.values())} ({spent})")
    return next((code for code in codes if code), 0)


def main_stages(run: int, title: str) -> tuple[demo_routes.Stage, ...]:
    """Events and profiles first; then cohorts into lists and groups into companies, at once."""

    def step(what: str, part: str, extractor: str) -> demo_routes.Step:
        return (f"{title}: {what}", f"run{run}-{part}", extractor, demo_routes.BREVO_LOADER)

    return (
        ((step("events and profiles", "main", MAIN_EXTRACTOR),),),
        (
            (step("cohorts", "cohorts", COHORTS_EXTRACTOR),),
            (step("groups", "groups", GROUPS_EXTRACTOR),),
        ),
    )


def _other_pipelines(server: SandboxServer, where: Pipelines) -> int:
    """A JQL stream into a list, another tap's rows into contacts and events, reports to CSV."""
    list_id = demo_routes.buyers_list_id(where.root)
    rows = demo_routes.register_buyers(server, where.root)
    if code := run_stage(server, where, demo_routes.OTHER_PIPELINES):
        return code
    demo_routes.print_report_files(where.output / "reports")
    exact = demo_routes.print_buyers_list(server, list_id, rows)
    demo_routes.print_routed(server, where.root)
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
        where = Pipelines(root, output, env, state_suffix)
        for run, title in ((1, "Run 1, first sync"), (2, "Run 2, two days later")):
            if run == 2:
                _two_days_later(server)
            for stage in main_stages(run, title):
                if code := run_stage(server, where, stage):
                    return code
        if code := _other_pipelines(server, where):
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

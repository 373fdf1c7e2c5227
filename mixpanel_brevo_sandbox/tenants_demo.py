"""`make tenants-demo`: three customers through Dagster, on one PostgreSQL, each its own sandbox.

Each tenant is a sandbox of its own seed (its own Mixpanel project and Brevo account), written
into a tenants file whose Brevo key is a ``${VAR}`` read from the environment. ``dagster job
execute -m orchestration -j all_tenants`` runs every tenant's main job, Dagster's runs and
Meltano's state and each tenant's ledger on one pgserver; then each tenant's report, what its
Brevo account holds, and the Meltano state ids, one per tenant.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml

from mixpanel_brevo_sandbox.brevo_api import API_KEY
from mixpanel_brevo_sandbox.demo import sandbox_env
from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.report import render_report

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_MAPPING = ROOT / "mappings" / "mixpanel-to-brevo.sandbox.yml"
INSTANCE_YAML = ROOT / "orchestration" / "dagster.yaml"
DEMO_TENANTS = {"alpha": 11, "beta": 12, "gamma": 13}  # tenant: its sandbox's seed
MAIN_JOB = "mixpanel-to-brevo"


def key_variable(tenant: str) -> str:
    """The variable holding a tenant's Brevo key: the tenants file names it, never the key."""
    return f"{tenant.upper()}_BREVO_KEY"


def sandbox_tenant(name: str, server: SandboxServer, jobs: list[str], **env: str) -> dict:
    """A tenants file entry for a tenant whose Mixpanel and Brevo are ``server``."""
    return {
        "environment": "sandbox",
        "env": {
            **sandbox_env(server),
            "TARGET_BREVO_TAJO_API_KEY": f"${{{key_variable(name)}}}",
            **env,
        },
        "mapping": str(SANDBOX_MAPPING),
        "jobs": jobs,
    }


def orchestration_env(out: Path, database_url: str, tenants_file: Path) -> dict[str, str]:
    """The environment of ``dagster``: its instance on the shared server, the tenants, the keys."""
    home = out / "dagster-home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "TENANTS_FILE": str(tenants_file),
        "ORCHESTRATION_DATABASE_URL": database_url,
        "ORCHESTRATION_DATA_DIR": str(out),
        "MELTANO_PROJECT_ROOT": str(ROOT),
        **{key_variable(tenant): API_KEY for tenant in DEMO_TENANTS},
    }


def dagster_command(job: str = "all_tenants") -> list[str]:
    """``dagster job execute -m orchestration -j <job>``, with this Python's dagster."""
    dagster = Path(sys.executable).with_name("dagster")
    executable = str(dagster) if dagster.exists() else "dagster"
    return [executable, "job", "execute", "-m", "orchestration", "-j", job]


def run_all_tenants(env: dict[str, str], log_file: Path) -> int:
    """Run ``all_tenants``; its step events on screen, its whole log in ``log_file``."""
    shown = ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY", "RUN_SUCCESS")
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed dagster command
            dagster_command(), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            log.write(line)
            if any(f" - {event} - " in line for event in (*shown, "RUN_FAILURE")):
                print("  " + line.split(" - ", 2)[-1].strip()[:160], flush=True)
        return process.wait()


def tenant_reports(out: Path, tenant: str, job: str = MAIN_JOB) -> list[dict]:
    """Every report a tenant's job wrote under the orchestration's folder, oldest first."""
    files = sorted((out / "reports" / tenant / job).glob("*/attempt-*/sync-report-*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in files]


def meltano_state_ids(database_url: str) -> list[str]:
    """The state ids in Meltano's system database (the schema ``meltano`` of the server)."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            if "state" not in sa.inspect(conn).get_table_names(schema="meltano"):
                return []
            return sorted(conn.execute(sa.text("SELECT state_id FROM meltano.state")).scalars())
    finally:
        engine.dispose()


def _print_brevo(tenant: str, server: SandboxServer) -> None:
    base = f"{server.url}/_sandbox/brevo"
    events = httpx.get(f"{base}/events", timeout=60).json()["events"]
    contacts = httpx.get(f"{base}/contacts", timeout=60).json()["contacts"]
    lists = httpx.get(
        f"{server.url}/brevo/v3/contacts/lists", headers={"api-key": API_KEY}, timeout=60
    ).json()
    print(
        f"{tenant}'s Brevo account holds {len(events)} events, {len(contacts)} contacts, "
        f"{lists.get('count', 0)} lists"
    )


def run_tenants_demo() -> int:
    """Three sandbox tenants through Dagster on one PostgreSQL; each tenant's report."""
    import pgserver  # noqa: PLC0415 - a test dependency, needed by this demo only

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    out = ROOT / "output" / "tenants-demo"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    server = pgserver.get_server(out / "postgres", cleanup_mode="stop")
    database_url = server.get_uri()
    sandboxes = {
        name: SandboxServer(seed=seed, profiles=120, events=3000, days=4).start()
        for name, seed in DEMO_TENANTS.items()
    }
    try:
        tenants = {name: sandbox_tenant(name, s, [MAIN_JOB]) for name, s in sandboxes.items()}
        tenants_file = out / "tenants.yml"
        tenants_file.write_text(yaml.safe_dump({"tenants": tenants}, sort_keys=False))
        print(f"Tenants file: {tenants_file.relative_to(ROOT)}; one PostgreSQL: {database_url}")
        print("$ dagster job execute -m orchestration -j all_tenants")
        code = run_all_tenants(
            orchestration_env(out, database_url, tenants_file), out / "dagster.log"
        )
        for name, sandbox in sandboxes.items():
            print(f"\n== tenant {name} ==")
            for report in tenant_reports(out, name):
                print(render_report(report))
            _print_brevo(name, sandbox)
        print("\nMeltano state ids, one per tenant: " + ", ".join(meltano_state_ids(database_url)))
        if code != 0:
            print(f"dagster job execute failed (exit {code}); see output/tenants-demo/dagster.log")
        return code
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
        server.cleanup()

"""Many customers on Dagster, for real: in-process `execute_job`, the multiprocess executor,
an instance on PostgreSQL (pgserver) shared with Meltano's system database and the ledgers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import AssetKey, RunsFilter, execute_job, reconstructable

from mixpanel_brevo_sandbox.server import SandboxServer
from mixpanel_brevo_sandbox.tenants_demo import dagster_command
from tests.admin_http import http
from tests.conftest import ROOT
from tests.e2e import tenants as helpers
from tests.e2e.meltano import INSTALLED

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not INSTALLED, reason="needs Meltano's plugin venvs (make test)"),
]
MAIN = "mixpanel-to-brevo"
STATE_ID = "sandbox:tap-mixpanel-tajo-to-target-brevo-tajo:{}"


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> str:
    """One PostgreSQL server for Dagster, Meltano and the ledgers (a database per test)."""
    return pg_server


def fresh_database(server_url: str, name: str) -> str:
    engine = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def small_sandbox(seed: int) -> SandboxServer:
    return SandboxServer(seed=seed, profiles=15, events=250, days=2).start()


def test_ten_tenants_four_at_a_time_each_own_account_and_state_and_a_bad_tenant_is_one_line(
    database_url, tmp_path, monkeypatch, caplog
):
    url = fresh_database(database_url, "ten_tenants")
    sandboxes = {f"t{i:02d}": small_sandbox(100 + i) for i in range(10)}
    try:
        tenants = {n: helpers.sandbox_tenant(n, s, [MAIN]) for n, s in sandboxes.items()}
        tenants["broken"] = helpers.sandbox_tenant("broken", sandboxes["t00"], [MAIN, "nope"])
        tenants_file = helpers.set_up_orchestration(monkeypatch, tmp_path, url, tenants)
        with caplog.at_level(logging.ERROR, logger="orchestration"):
            job = helpers.all_tenants()
        [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert error.startswith(f"{tenants_file}:")
        assert "tenant broken: key jobs: no job 'nope' in meltano.yml" in error
        assert sorted(node.name for node in job.nodes) == [
            f"t{i:02d}__mixpanel_to_brevo__meltano" for i in range(10)
        ]
        exported = {name: helpers.exported_insert_ids(s) for name, s in sandboxes.items()}
        assert sum(len(ids) for ids in exported.values()) == len(set().union(*exported.values()))

        with helpers.instance() as instance:
            result = execute_job(reconstructable(helpers.all_tenants), instance)
            assert result.success
            starts = [e for e in result.all_events if e.event_type_value == "STEP_START"]
            assert len(starts) == 10
            for name, sandbox in sandboxes.items():
                in_brevo = Counter(helpers.brevo_insert_ids(sandbox))
                assert in_brevo, name
                assert max(in_brevo.values()) == 1, f"{name}: an event reached Brevo twice"
                assert set(in_brevo) == exported[name], f"{name}: Brevo holds another set"
                key = AssetKey(["brevo", name, "mixpanel_to_brevo"])
                event = instance.get_latest_materialization_event(key)
                metadata = event.asset_materialization.metadata
                assert metadata["events_sent"].value == len(in_brevo)
                assert metadata["status"].value == "succeeded"
                assert not any("sandbox-brevo-key" in str(v.value) for v in metadata.values())

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            state_ids = conn.execute(sa.text("SELECT state_id FROM meltano.state")).scalars()
            assert sorted(state_ids) == sorted(STATE_ID.format(n) for n in sandboxes)
            schemas = set(sa.inspect(conn).get_schema_names())
            assert {f"ledger_{n}" for n in sandboxes} <= schemas
            assert "ledger_broken" not in schemas
            assert "runs" in sa.inspect(conn).get_table_names(schema="public")  # Dagster's
        engine.dispose()
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()


def meltano_group(tenant: str) -> int | None:
    """The process group of the tenant's `meltano run` (its own session: tap and target in it)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in argv and f"--state-id-suffix={tenant}".encode() in argv:
            return os.getpgid(int(proc.name))
    return None


def batch_calls(sandbox: SandboxServer) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    return sum(1 for c in calls if c["path"] == "/events/batch")


def test_a_tenant_run_killed_mid_way_is_completed_by_dagsters_retry_exactly_once(
    database_url, tmp_path, monkeypatch
):
    url = fresh_database(database_url, "killed_tenant")
    sandbox = small_sandbox(7)
    try:
        # Short calls, so that the killed run's lease on its call in doubt ends before the
        # retry (tests/e2e/test_e2e_routes_kill.py); small batches: several calls.
        target = {"TARGET_BREVO_TAJO_REQUEST_TIMEOUT_SECONDS": "2"}
        target["TARGET_BREVO_TAJO_EVENTS_BATCH_SIZE"] = "20"
        tenants = {"acme": helpers.sandbox_tenant("acme", sandbox, [MAIN], **target)}
        helpers.set_up_orchestration(monkeypatch, tmp_path, url, tenants)
        monkeypatch.setenv("ORCHESTRATION_RETRY_DELAY_SECONDS", "10")
        monkeypatch.setenv("TEST_DAGSTER_JOB", "acme__mixpanel_to_brevo")
        fault = {"api": "brevo", "method": "POST", "path": "/events/batch", "times": -1}
        fault |= {"kind": "after_processing", "delay_seconds": 1.0}
        http.post(f"{sandbox.url}/_sandbox/faults", json=fault, timeout=30).raise_for_status()
        expected = helpers.exported_insert_ids(sandbox)

        with helpers.instance() as instance, ThreadPoolExecutor(1) as pool:
            running = pool.submit(execute_job, reconstructable(helpers.solo_job), instance)
            deadline = time.monotonic() + 180
            while batch_calls(sandbox) < 2:
                assert not running.done(), "the run ended before the kill"
                assert time.monotonic() < deadline, "the run made no batch call"
                time.sleep(0.05)
            time.sleep(0.3)  # a call is queued in Brevo, its answer not yet back
            group = meltano_group("acme")
            assert group is not None
            os.killpg(group, signal.SIGKILL)
            partial = len(helpers.brevo_insert_ids(sandbox))
            http.delete(f"{sandbox.url}/_sandbox/faults", timeout=30).raise_for_status()
            result = running.result(timeout=600)

            assert result.success
            retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
            assert len(retries) >= 1
        in_brevo = Counter(helpers.brevo_insert_ids(sandbox))
        assert 0 < partial < len(expected)
        assert max(in_brevo.values()) == 1, "an event reached Brevo twice"
        assert set(in_brevo) == expected
    finally:
        sandbox.stop()


def step_span(instance, run_id: str) -> tuple[float, float]:
    """When the run's op started and when it succeeded (the instance's event log)."""
    times = {
        entry.dagster_event.event_type_value: entry.timestamp
        for entry in instance.all_logs(run_id)
        if entry.dagster_event and entry.dagster_event.event_type_value.startswith("STEP_")
    }
    return times["STEP_START"], times["STEP_SUCCESS"]


def run_ids_of(instance, job_name: str) -> list[str]:
    return [run.run_id for run in instance.get_runs(RunsFilter(job_name=job_name))]


def test_two_runs_of_one_tenants_job_started_at_once_run_one_after_the_other(
    database_url, tmp_path, monkeypatch
):
    """Two `dagster job execute` of one tenant's job, as two schedulers or people might start."""
    url = fresh_database(database_url, "one_at_a_time")
    sandbox = small_sandbox(8)
    job_name = "acme__mixpanel_to_brevo"
    try:
        tenants = {"acme": helpers.sandbox_tenant("acme", sandbox, [MAIN])}
        helpers.set_up_orchestration(monkeypatch, tmp_path, url, tenants)
        with helpers.instance() as instance:
            # As `dagster instance concurrency set` does when a tenant is added: Dagster makes a
            # pool's limit on its first use, and two runs of a new pool at once race on it.
            instance.event_log_storage.set_concurrency_slots(job_name, 1)
        # Processes, as in production: Dagster runs in threads of one process deadlock in
        # logging.config.dictConfig, which each run calls.
        runs = [
            subprocess.Popen(
                dagster_command(job_name),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(2)
        ]
        try:
            outputs = [run.communicate(timeout=600)[0].decode(errors="replace") for run in runs]
        finally:
            for run in runs:
                if run.poll() is None:
                    os.killpg(run.pid, signal.SIGKILL)
        assert [run.returncode for run in runs] == [0, 0], outputs
        with helpers.instance() as instance:
            run_ids = run_ids_of(instance, job_name)
            assert len(run_ids) == 2
            first, second = sorted(step_span(instance, run_id) for run_id in run_ids)
        assert first[1] <= second[0], "the two runs of acme's job overlapped"
        in_brevo = Counter(helpers.brevo_insert_ids(sandbox))
        assert max(in_brevo.values()) == 1, "an event reached Brevo twice"
        assert set(in_brevo) == helpers.exported_insert_ids(sandbox)
    finally:
        sandbox.stop()

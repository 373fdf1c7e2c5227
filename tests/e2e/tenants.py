"""The Dagster e2e tests' helpers: a real instance on pgserver, tenants on their own sandboxes."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from dagster import DagsterInstance, JobDefinition

from mixpanel_brevo_sandbox.demo import sandbox_env
from mixpanel_brevo_sandbox.server import SandboxServer
from mixpanel_brevo_sandbox.tenants_demo import (
    INSTANCE_YAML,
    SANDBOX_MAPPING,
    key_variable,
    sandbox_tenant,
)
from orchestration.definitions import build_definitions
from orchestration.runs import Settings
from tests.admin_http import http
from tests.e2e.meltano import brevo_events, expected_in_brevo

__all__ = ["sandbox_tenant"]  # re-exported: the tests build tenants file entries with it


def all_tenants() -> JobDefinition:
    """``all_tenants`` of the tenants file in TENANTS_FILE (reconstructed in each step process)."""
    return build_definitions(os.environ["TENANTS_FILE"], Settings.from_env()).get_job_def(
        "all_tenants"
    )


def solo_job() -> JobDefinition:
    """The one tenant job named in TEST_DAGSTER_JOB."""
    defs = build_definitions(os.environ["TENANTS_FILE"], Settings.from_env())
    return defs.get_job_def(os.environ["TEST_DAGSTER_JOB"])


def set_up_orchestration(monkeypatch, tmp_path: Path, database_url: str, tenants: dict) -> Path:
    """A tenants file, Dagster's home on the shared server, and each tenant's Brevo key."""
    tenants_file = tmp_path / "tenants.yml"
    tenants_file.write_text(yaml.safe_dump({"tenants": tenants}, sort_keys=False))
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML.read_text())
    env = {
        "DAGSTER_HOME": str(home),
        "TENANTS_FILE": str(tenants_file),
        "ORCHESTRATION_DATABASE_URL": database_url,
        "ORCHESTRATION_DATA_DIR": str(tmp_path / "orchestration"),
        "ORCHESTRATION_MAX_CONCURRENT": "4",
        **{key_variable(name): "sandbox-brevo-key" for name in tenants},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return tenants_file


def instance() -> DagsterInstance:
    """The instance of DAGSTER_HOME: runs and events in the shared PostgreSQL."""
    return DagsterInstance.get()


def exported_insert_ids(sandbox: SandboxServer) -> set[str]:
    """$insert_id of every mapped event of an identified user the sandbox's Mixpanel holds."""
    start = sandbox_env(sandbox)["SANDBOX_START_DATE"][:10]
    today = http.get(f"{sandbox.url}/_sandbox/clock", timeout=30).json()["now"][:10]
    expected = expected_in_brevo(sandbox, start, today, SANDBOX_MAPPING)
    return {insert_id for _, insert_id in expected}


def brevo_insert_ids(sandbox: SandboxServer) -> list[str]:
    """$insert_id of each event the sandbox's Brevo account holds, once per copy."""
    return [insert_id for _, insert_id in brevo_events(sandbox).elements()]

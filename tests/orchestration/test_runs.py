"""One tenant's run: state apart, the ledger in its own schema, the report's figures only."""

from __future__ import annotations

from pathlib import Path

from orchestration.runs import (
    Settings,
    meltano_command,
    report_figures,
    run_env,
    with_schema,
    worker_env,
)
from orchestration.tenants import Tenant

SERVER = "postgresql://dagster:s3cret@db.internal:5432/sync"
ACME = Tenant(
    "acme", {"TARGET_BREVO_TAJO_API_KEY": "k"}, Path("/m/acme.yml"), ("mixpanel-to-brevo",)
)


def settings(tmp_path: Path, database_url: str | None = SERVER) -> Settings:
    return Settings(tmp_path, tmp_path / "data", database_url, 4, 3, 30.0)


def test_each_schema_is_picked_by_the_search_path():
    assert with_schema(SERVER, "ledger_acme") == (
        "postgresql+psycopg://dagster:s3cret@db.internal:5432/sync?options=-csearch_path%3Dledger_acme"
    )


def test_the_run_env_keeps_state_ledger_and_report_per_tenant(tmp_path):
    env = run_env(
        ACME, "mixpanel-to-brevo", settings(tmp_path), tmp_path / "r.json", {"PATH": "/bin"}
    )
    assert env["MELTANO_DATABASE_URI"].endswith("?options=-csearch_path%3Dmeltano")
    assert env["TARGET_BREVO_TAJO_LEDGER_URL"].endswith("?options=-csearch_path%3Dledger_acme")
    assert env["MELTANO_RUN_STATE_ID_SUFFIX"] == "acme"
    assert env["TARGET_BREVO_TAJO_MAPPING_FILE"] == "/m/acme.yml"
    assert env["TARGET_BREVO_TAJO_REPORT_FILE"] == str(tmp_path / "r.json")
    assert env["TARGET_BREVO_TAJO_API_KEY"] == "k"
    assert env["TARGET_BREVO_TAJO_REJECTS_FILE"] == str(tmp_path / "data/rejects/acme.jsonl")
    assert env["PATH"] == "/bin"
    # Its own Meltano system folder (run/ files apart), the project's plugins shared.
    assert env["MELTANO_SYS_DIR_ROOT"] == str(tmp_path / "data/meltano/acme/mixpanel-to-brevo")


def test_without_a_shared_database_each_tenant_has_its_own_sqlite_ledger(tmp_path):
    env = run_env(ACME, "mixpanel-to-brevo", settings(tmp_path, None), tmp_path / "r.json", {})
    assert env["MELTANO_DATABASE_URI"] == f"sqlite:///{tmp_path}/.meltano/meltano.db"
    assert env["TARGET_BREVO_TAJO_LEDGER_URL"] == f"sqlite:///{tmp_path}/data/ledgers/acme.sqlite"


def test_the_command_names_the_environment_and_the_suffix_and_forces_only_a_retry():
    command = meltano_command(ACME, "mixpanel-to-brevo", force=False)
    assert command[1:] == [
        "--environment=prod",
        "run",
        "mixpanel-to-brevo",
        "--state-id-suffix=acme",
    ]
    assert meltano_command(ACME, "mixpanel-to-brevo", force=True)[-1] == "--force"


def test_report_figures_add_up_over_the_tasks_reports():
    report = {
        "status": "succeeded",
        "events": {"received": 10, "sent": 7, "deduplicated": 3, "rejected": 0},
        "contacts": {"created": 2, "updated": 1, "unchanged": 0, "rejected": 0},
        "cohorts": [{"added": 4, "removed": 1}],
        "api_calls": {"total": 5},
        "rate_budgets": {"events": {"calls": 3, "waited_seconds": 0.5, "answered_429": 1}},
    }
    figures = report_figures([report, {**report, "status": "incomplete"}])
    assert figures["events_sent"] == 14
    assert figures["list_members_added"] == 8
    assert figures["answered_429"] == 2
    assert figures["budget_events_calls"] == 6
    assert figures["status"] == "incomplete"
    assert report_figures([])["status"] == "no report"


def test_a_run_sees_no_other_tenants_secret_nor_a_workers_plugin_setting():
    worker = {
        "PATH": "/bin",
        "HOME": "/home/worker",
        "ACME_BREVO_KEY": "xkeysib-acme",
        "GLOBEX_BREVO_KEY": "xkeysib-globex",
        "ORCHESTRATION_DATABASE_URL": SERVER,
        "TARGET_BREVO_TAJO_API_KEY": "xkeysib-worker",
        "TAP_MIXPANEL_TAJO__COHORTS_PROJECT_ID": "9",
        "MELTANO_PROJECT_ROOT": "/project",
    }
    base = worker_env(
        worker,
        frozenset({"ACME_BREVO_KEY", "GLOBEX_BREVO_KEY"}),
        ("TAP_MIXPANEL_TAJO_", "TARGET_BREVO_TAJO_"),
    )
    assert base == {"PATH": "/bin", "HOME": "/home/worker", "MELTANO_PROJECT_ROOT": "/project"}


def test_the_tenants_own_secret_reaches_its_run_through_its_env(tmp_path):
    base = worker_env({"ACME_BREVO_KEY": "k", "PATH": "/bin"}, frozenset({"ACME_BREVO_KEY"}), ())
    env = run_env(ACME, "mixpanel-to-brevo", settings(tmp_path), tmp_path / "r.json", base)
    assert env["TARGET_BREVO_TAJO_API_KEY"] == "k"
    assert "ACME_BREVO_KEY" not in env

"""Dagster's definitions of a tenants file: a job per tenant and Meltano job, its schedules, its
pool, its retries; the daemon's schedules evaluate to runs of the tenant's own job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import Backoff, DagsterInstance, build_schedule_context

from orchestration.definitions import build_definitions
from orchestration.runs import Settings
from tests.conftest import ROOT

TENANTS = """\
tenants:
  acme:
    env: {TARGET_BREVO_TAJO_API_KEY: "${ACME_KEY}"}
    mapping: acme.yml
    jobs: [mixpanel-to-brevo, cohorts-to-brevo-lists]
  globex:
    env: {TARGET_BREVO_TAJO_API_KEY: "${GLOBEX_KEY}"}
    mapping: acme.yml
    jobs: [groups-to-brevo-companies]
"""


@pytest.fixture
def defs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "acme.yml").write_text("version: 1\n")
    (tmp_path / "tenants.yml").write_text(TENANTS)
    monkeypatch.setenv("ACME_KEY", "xkeysib-acme")
    monkeypatch.setenv("GLOBEX_KEY", "xkeysib-globex")
    settings = Settings(ROOT, tmp_path / "data", None, 4, 3, 30.0)
    return build_definitions(str(tmp_path / "tenants.yml"), settings)


def test_each_tenant_job_is_a_dagster_job_with_a_pool_of_its_own_and_retries(defs):
    names = {job.name for job in defs.resolve_all_job_defs()}
    assert names == {
        "acme__mixpanel_to_brevo",
        "acme__cohorts_to_brevo_lists",
        "globex__groups_to_brevo_companies",
        "all_tenants",
    }
    job = defs.resolve_job_def("acme__cohorts_to_brevo_lists")
    [node] = job.nodes
    assert node.definition.pool == "acme__cohorts_to_brevo_lists"
    assert node.definition.retry_policy.max_retries == 3
    assert node.definition.retry_policy.backoff == Backoff.EXPONENTIAL
    assert job.tags["tenant"] == "acme"
    assert job.tags["meltano_job"] == "cohorts-to-brevo-lists"


def test_all_tenants_runs_each_tenants_main_job_once(defs):
    job = defs.resolve_job_def("all_tenants")
    assert sorted(node.name for node in job.nodes) == [
        "acme__mixpanel_to_brevo__meltano",
        "globex__groups_to_brevo_companies__meltano",
    ]


def test_meltanos_schedules_become_each_tenants_schedules(defs):
    schedules = {s.name: s for s in defs.get_repository_def().schedule_defs}
    assert {name: (s.cron_schedule, s.job_name) for name, s in schedules.items()} == {
        "acme__mixpanel_to_brevo_hourly": ("0 * * * *", "acme__mixpanel_to_brevo"),
        "acme__cohorts_to_brevo_lists_daily": ("0 0 * * *", "acme__cohorts_to_brevo_lists"),
        "globex__groups_to_brevo_companies_daily": (
            "0 0 * * *",
            "globex__groups_to_brevo_companies",
        ),
    }


def test_the_daemons_tick_of_a_schedule_asks_for_a_run_of_the_tenants_job(defs):
    schedule = defs.resolve_schedule_def("acme__mixpanel_to_brevo_hourly")
    with DagsterInstance.ephemeral() as instance:
        result = schedule.evaluate_tick(build_schedule_context(instance=instance))
    [request] = result.run_requests
    assert request.job_name in (None, "acme__mixpanel_to_brevo")


def test_the_definitions_hold_no_secret(defs):
    for job in defs.resolve_all_job_defs():
        assert "xkeysib" not in repr(job.tags)
        for node in job.nodes:
            assert "xkeysib" not in repr(node.definition.tags)

"""The tenants file: each mistake is one line naming file, line, tenant and key; the rest run."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.tenants import TenantsFileError, load_tenants, meltano_project
from tests.conftest import ROOT

PROJECT = meltano_project(ROOT / "meltano.yml")
JOBS, SCHEDULES = PROJECT.jobs, PROJECT.schedules


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "acme.yml").write_text("version: 1\n")
    path = tmp_path / "tenants.yml"
    path.write_text(text)
    return path


GOOD = """\
tenants:
  acme:
    env: {TAP_MIXPANEL_TAJO_PROJECT_ID: "123", TARGET_BREVO_TAJO_API_KEY: "${ACME_KEY}"}
    mapping: acme.yml
    jobs: [mixpanel-to-brevo, cohorts-to-brevo-lists]
"""


def test_a_good_tenant_reads_its_secret_from_the_environment(tmp_path):
    tenants = load_tenants(write(tmp_path, GOOD), JOBS, {"ACME_KEY": "xkeysib-1"})
    assert tenants.errors == []
    acme = tenants.tenants["acme"]
    assert acme.env == {
        "TAP_MIXPANEL_TAJO_PROJECT_ID": "123",
        "TARGET_BREVO_TAJO_API_KEY": "xkeysib-1",
    }
    assert acme.mapping == (tmp_path / "acme.yml").resolve()
    assert acme.jobs == ("mixpanel-to-brevo", "cohorts-to-brevo-lists")
    assert acme.environment == "prod"
    assert "xkeysib-1" not in repr(acme)
    assert tenants.variables == {"ACME_KEY"}


M = "    mapping: acme.yml\n"
J = "    jobs: [mixpanel-to-brevo]\n"


@pytest.mark.parametrize(
    ("block", "line", "key", "says"),
    [
        (M + J + "    colour: red\n", 9, "colour", "unknown key"),
        ("    mapping: nowhere.yml\n" + J, 7, "mapping", "no mapping file"),
        (M + "    jobs: [mixpanel-to-brevo, nope]\n", 8, "jobs", "no job 'nope' in meltano.yml"),
        (
            M + J + "    env: {TARGET_BREVO_TAJO_API_KEY: '${UNSET_KEY}'}\n",
            9,
            "env.TARGET_BREVO_TAJO_API_KEY",
            "${UNSET_KEY} is not set",
        ),
        (
            M + J + "    env: {MELTANO_RUN_STATE_ID_SUFFIX: x}\n",
            9,
            "env.MELTANO_RUN_STATE_ID_SUFFIX",
            "set by the orchestration",
        ),
    ],
)
def test_one_bad_tenant_is_one_line_and_the_others_stay(tmp_path, block, line, key, says):
    path = write(tmp_path, GOOD + "  bad:\n" + block)
    tenants = load_tenants(path, JOBS, {"ACME_KEY": "k"})
    assert list(tenants.tenants) == ["acme"]
    [error] = tenants.errors
    assert error.startswith(f"{path}:{line}: tenant bad: key {key}: ")
    assert says in error
    assert "\n" not in error


def test_the_error_names_the_line_of_the_mistake(tmp_path):
    path = write(
        tmp_path, GOOD + "  bad:\n    mapping: acme.yml\n    jobs: [mixpanel-to-brevo, nope]\n"
    )
    [error] = load_tenants(path, JOBS, {"ACME_KEY": "k"}).errors
    assert error == (
        f"{path}:8: tenant bad: key jobs: no job 'nope' in meltano.yml (it has: "
        f"{', '.join(sorted(JOBS))}); fix it (the other tenants still run)"
    )


def test_a_bad_tenant_name(tmp_path):
    path = write(
        tmp_path, GOOD + "  Bad-Name:\n    mapping: acme.yml\n    jobs: [mixpanel-to-brevo]\n"
    )
    tenants = load_tenants(path, JOBS, {"ACME_KEY": "k"})
    assert list(tenants.tenants) == ["acme"]
    assert tenants.errors == [
        f"{path}:6: tenant Bad-Name: key (name): a tenant name is lowercase letters, digits and _ "
        "(at most 40), a letter first; fix it (the other tenants still run)"
    ]


def test_missing_jobs_and_secret_value_never_in_the_line(tmp_path):
    path = write(tmp_path, GOOD + "  beta:\n    env: {A: '${ACME_KEY}'}\n    mapping: acme.yml\n")
    [error] = load_tenants(path, JOBS, {"ACME_KEY": "very-secret"}).errors
    assert "tenant beta: key jobs: missing" in error
    assert "very-secret" not in error


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tenants: [a, b]\n", "no tenants: mapping"),
        ("tenants:\n  a: [\n", "not valid YAML"),
        ("- x\n", "top-level"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_line(tmp_path, text, says):
    with pytest.raises(TenantsFileError, match=r"tenants\.yml:") as error:
        load_tenants(write(tmp_path, text), JOBS, {})
    assert says in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_file_says_to_set_tenants_file(tmp_path):
    with pytest.raises(TenantsFileError, match="set TENANTS_FILE"):
        load_tenants(tmp_path / "none.yml", JOBS, {})


def test_meltano_schedules_become_cron():
    crons = {s.job: s.cron for s in SCHEDULES}
    assert crons["mixpanel-to-brevo"] == "0 * * * *"
    assert crons["cohorts-to-brevo-lists"] == "0 0 * * *"
    assert "mixpanel-to-brevo" in JOBS


def test_the_secrets_names_include_those_of_a_tenant_left_out(tmp_path):
    text = GOOD + "  globex:\n" + M + J + "    env: {TARGET_BREVO_TAJO_API_KEY: '${GLOBEX_KEY}'}\n"
    tenants = load_tenants(write(tmp_path, text), JOBS, {"ACME_KEY": "k"})
    assert list(tenants.tenants) == ["acme"]
    assert tenants.variables == {"ACME_KEY", "GLOBEX_KEY"}


def test_each_plugins_settings_prefix_is_known():
    assert "TARGET_BREVO_TAJO_" in PROJECT.setting_prefixes
    assert "TAP_MIXPANEL_TAJO_" in PROJECT.setting_prefixes
    assert "TAP_JSONL_" in PROJECT.setting_prefixes

"""Meltano hands the plugins their settings from the environment, fractional numbers included.

Meltano 4.4 casts a ``kind: decimal`` value read from the environment to ``Decimal`` and then
cannot write the plugin's JSON config ("Object of type Decimal is not JSON serializable"); every
other kind keeps such a value as text (``integer`` refuses it). So ``meltano.yml`` declares the
fractional settings ``kind: string``: a value from the environment reaches the plugin as text,
one from ``meltano.yml`` as a JSON number.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.e2e.meltano import MELTANO, tap_lines

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("variable", "setting", "value"),
    [
        ("TARGET_BREVO_TAJO_IMPORT_POLL_SECONDS", "import_poll_seconds", "0.2"),
        ("TARGET_BREVO_TAJO_LIST_RECONCILE_DAYS", "list_reconcile_days", "0.5"),
    ],
)
def test_a_fractional_setting_from_the_environment_reaches_the_plugin_config(
    variable, setting, value
):
    assert MELTANO, "meltano is not on PATH: run `make test`"

    result = subprocess.run(
        [MELTANO, "config", "print", "target-brevo-tajo"],
        cwd=ROOT,
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert float(json.loads(result.stdout)[setting]) == float(value)


@pytest.mark.parametrize(
    ("plugin", "variable", "expected"),
    [
        (
            "target-brevo-tajo",
            "TARGET_BREVO_TAJO_DRY_RUNN",
            "target-brevo-tajo: unknown setting 'dry_runn' (environment variable "
            "TARGET_BREVO_TAJO_DRY_RUNN): did you mean 'dry_run'?",
        ),
        (
            "tap-mixpanel-tajo",
            "TAP_MIXPANEL_TAJO_LOOKBACK_DAYZ",
            "tap-mixpanel-tajo: unknown setting 'lookback_dayz' (environment variable "
            "TAP_MIXPANEL_TAJO_LOOKBACK_DAYZ): did you mean 'lookback_days'?",
        ),
    ],
    ids=["target", "tap"],
)
def test_meltano_invoke_with_a_misspelled_setting_in_the_environment_stops_in_one_line(
    plugin, variable, expected
):
    """Meltano drops an undeclared variable from the config it writes; the plugin still sees it."""
    assert MELTANO, "meltano is not on PATH: run `make test`"

    result = subprocess.run(
        [MELTANO, "--environment=sandbox", "invoke", plugin],
        cwd=ROOT,
        env={**os.environ, "SANDBOX_URL": "http://127.0.0.1:9", variable: "true"},
        input="",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""


def test_a_dotenv_copied_from_the_example_leaves_the_sandbox_credentials_alone(tmp_path):
    """Issue 10: `cp .env.example .env` broke `make demo` and `make test`: its empty secrets won."""
    assert MELTANO, "meltano is not on PATH: run `make test`"
    shutil.copy(ROOT / "meltano.yml", tmp_path / "meltano.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_MIXPANEL", "TARGET_"))}

    def sandbox_config(plugin: str) -> dict:
        result = subprocess.run(
            [MELTANO, "--environment=sandbox", "config", "--unsafe", "print", plugin],
            cwd=tmp_path,
            env={**plain, "SANDBOX_URL": "http://127.0.0.1:9", "MELTANO_PROJECT_ROOT": ""},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    assert sandbox_config("tap-mixpanel-tajo")["service_account_secret"] == "sandbox-secret"
    assert sandbox_config("target-brevo-tajo")["api_key"] == "sandbox-brevo-key"


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [
        ("tap-mixpanel-tajo", "tap-mixpanel-tajo: no Mixpanel credentials"),
        ("target-brevo-tajo", "target-brevo-tajo: no Brevo credentials: set api_key, or"),
    ],
)
def test_meltano_invoke_without_credentials_stops_in_one_line(plugin, expected):
    """Meltano only displays settings_group_validation; the plugins enforce it at start."""
    assert MELTANO, "meltano is not on PATH: run `make test`"
    if (ROOT / ".env").exists():
        pytest.skip("a .env in the project may hold credentials")
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_MIXPANEL", "TARGET_"))}

    result = subprocess.run(
        [MELTANO, "--environment=prod", "invoke", plugin],
        cwd=ROOT,
        env=plain,
        input="",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "setting", "typo"),
    [
        ("TAP_MIXPANEL_TAJO_START_DATE", "start_date", "2026-13-01"),  # was read as 2026-01-13
        ("TAP_MIXPANEL_TAJO_END_DATE", "end_date", "2026-31-12"),  # was read as 2026-12-31
    ],
)
def test_meltano_run_with_a_date_that_is_no_real_day_stops_in_one_error_line(
    tmp_path, variable, setting, typo
):
    """Issue 17: Meltano's date kind turned the typo into another date; 294 windows ran."""
    assert MELTANO, "meltano is not on PATH: run `make test`"
    env = {
        **os.environ,
        "SANDBOX_URL": "http://127.0.0.1:9",  # nothing listens: a call would fail differently
        "SANDBOX_START_DATE": "2026-11-01",
        "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "TARGET_BREVO_TAJO_REPORT_FILE": str(tmp_path / "report.json"),
        "TARGET_BREVO_TAJO_REJECTS_FILE": str(tmp_path / "rejects.jsonl"),
        variable: typo,
    }
    command = [MELTANO, "--environment=sandbox", "run", "tap-mixpanel-tajo", "target-brevo-tajo"]

    result = subprocess.run(
        [*command, "--state-id-suffix", f"typo-{setting}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in log
    assert "window(s)" not in log
    last = tap_lines(log)[-1]
    assert "[error    ] tap-mixpanel-tajo " in last
    assert last.endswith(
        f"tap-mixpanel-tajo: {setting} '{typo}' is not a date: write a real day as YYYY-MM-DD "
        "(e.g. 2026-11-01) or an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)"
    )

"""Under `meltano run`, the tap's logs read as a data engineer expects (issue 17, item 10).

Meltano takes each plugin line's level from the SDK's JSON log records; a line that is not one
(such as the message of a ``SystemExit``) is logged at INFO. The reason a run failed must be an
ERROR and the tap's last line, and one line per HTTP call is DEBUG detail, not INFO.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from mixpanel_brevo_sandbox.demo import pipeline_command, sandbox_env
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.conftest import ROOT
from tests.e2e.meltano import MELTANO, tap_lines

pytestmark = pytest.mark.e2e


def test_a_mixpanel_401_is_the_taps_last_line_at_error_and_http_calls_stay_at_debug(
    sandbox: SandboxServer, tmp_path
):
    assert MELTANO, "meltano is not on PATH: run `make test`"
    env = {
        **os.environ,
        **sandbox_env(sandbox),
        "TAP_MIXPANEL_TAJO_SERVICE_ACCOUNT_SECRET": "not-the-sandbox-secret",
        "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "TARGET_BREVO_TAJO_REPORT_FILE": str(tmp_path / "report.json"),
        "TARGET_BREVO_TAJO_REJECTS_FILE": str(tmp_path / "rejects.jsonl"),
    }
    result = subprocess.run(
        pipeline_command("logs-401"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    log = result.stdout + result.stderr
    lines = tap_lines(log)
    assert result.returncode != 0
    assert (
        "[error    ] tap-mixpanel-tajo tap-mixpanel-tajo: Mixpanel rejected the credentials"
        in (lines[-1])
    )
    assert "(HTTP 401)" in lines[-1]
    assert not [line for line in lines if "HTTP Request:" in line]
    assert "ResourceWarning" not in log
    assert "not-the-sandbox-secret" not in log

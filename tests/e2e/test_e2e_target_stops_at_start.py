"""End to end: a target stopped by its settings under `meltano run` ends in its reason, not in
Meltano's ``BrokenPipeError`` tracebacks (issue 17 item 10).

The target used to exit while Meltano was still writing the tap's output into it; it now reads
its input to the end, and its reason is logged at ERROR.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from mixpanel_brevo_sandbox.demo import MAIN_EXTRACTOR, pipeline_command, sandbox_env
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.conftest import ROOT
from tests.e2e.meltano import INSTALLED, MELTANO

pytestmark = pytest.mark.e2e


def test_a_settings_error_under_meltano_run_ends_without_broken_pipe_tracebacks(
    sandbox: SandboxServer, tmp_path
):
    assert MELTANO, "meltano is not on PATH: run `make test`"
    assert INSTALLED, "Meltano plugins are not installed: run `make test`"
    env = {
        **os.environ,
        **sandbox_env(sandbox),
        "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "TARGET_BREVO_TAJO_EVENTS_BATCH_SIZE": "500",
    }
    result = subprocess.run(
        pipeline_command(f"stops-{uuid.uuid4().hex[:8]}", MAIN_EXTRACTOR),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    (tmp_path / "meltano.log").write_text(output)

    assert result.returncode != 0
    assert "events_batch_size is 500, above Brevo's documented cap" in output
    assert "BrokenPipeError" not in output
    assert "Traceback" not in output

"""A dry run cannot pass unnoticed: a WARNING is the first and the last line the target logs.

Issue 17, item 1: Meltano's default environment (``dev``) is a dry run, so a scheduler running
``meltano run mixpanel-to-brevo`` exited 0 every hour with "(dry run: nothing was written)" in
the middle of an INFO report, saved no state and wrote nothing, forever.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MAPPING_FILE, ROOT
from tests.singer_messages import event, singer_input

# A Brevo nobody listens on: a dry run never calls it.
NOWHERE = "http://127.0.0.1:9/v3"
EVENT = event("Purchase", "dry-1")


def run_target(
    tmp_path: Path, *, config: dict | None, env: dict[str, str], records: tuple = (EVENT,)
) -> tuple[list, dict]:
    """Run the target's CLI on ``records``; returns its log lines and its JSON report."""
    report_file = tmp_path / "report.json"
    settings = {
        "api_key": "xkeysib-test",
        "base_url": NOWHERE,
        "mapping_file": str(MAPPING_FILE),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "report_file": str(report_file),
    }
    if config is None:  # --config=ENV: every setting from the environment
        env = {f"TARGET_BREVO_TAJO_{k.upper()}": str(v) for k, v in settings.items()} | env
        args = ["--config", "ENV"]
    else:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(settings | config))
        args = ["--config", str(config_file)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_", "MELTANO_"))}
    result = subprocess.run(
        [sys.executable, "-m", "target_brevo_tajo", *args],
        input=singer_input(*records).read(),
        cwd=tmp_path,
        env=clean | env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stderr.splitlines(), json.loads(report_file.read_text())


def test_a_dry_run_warns_at_its_first_and_its_last_line(tmp_path):
    lines, report = run_target(tmp_path, config={"dry_run": True}, env={})

    assert "WARNING" in lines[0]
    assert "DRY RUN" in lines[0]
    assert "writes nothing to Brevo and saves no state" in lines[0]
    assert "WARNING" in lines[-1]
    assert "nothing was written to Brevo and no state was saved" in lines[-1]
    assert "`meltano --environment=prod run mixpanel-to-brevo`" in lines[-1]
    assert report["status"] == "dry_run"
    assert any("Brevo sync report (dry run: nothing was written)" in line for line in lines)


def test_a_dry_run_set_in_the_environment_warns_first_and_last_too(tmp_path):
    lines, report = run_target(tmp_path, config=None, env={"TARGET_BREVO_TAJO_DRY_RUN": "true"})

    assert "DRY RUN" in lines[0]
    assert "WARNING" in lines[0]
    assert "DRY RUN" in lines[-1]
    assert "WARNING" in lines[-1]
    assert report["status"] == "dry_run"


def test_under_meltano_the_warning_names_the_environment_and_the_pipeline_that_writes(tmp_path):
    meltano = {
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_EXTRACTOR_NAME": "tap-mixpanel-tajo--cohorts",
        "MELTANO_LOADER_NAME": "target-brevo-tajo",
    }

    lines, _ = run_target(tmp_path, config={"dry_run": True}, env=meltano)

    for line in (lines[0], lines[-1]):
        assert "dry_run is true in Meltano environment 'dev'" in line
        assert (
            "`meltano --environment=prod run tap-mixpanel-tajo--cohorts target-brevo-tajo`" in line
        )


@pytest.mark.parametrize("config", [{"dry_run": False}, {}])
def test_a_real_run_logs_no_dry_run_warning(tmp_path, config):
    lines, report = run_target(tmp_path, config=config, env={}, records=())

    assert not [line for line in lines if "DRY RUN" in line]
    assert report["status"] == "succeeded"

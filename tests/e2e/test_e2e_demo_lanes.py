"""`make demo` runs the pipelines that do not depend on each other at once, as two schedules of
one project would: cohorts into lists next to groups into companies, both into Brevo's loader.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

import pytest

from mixpanel_brevo_sandbox.demo import Pipelines, main_stages, run_stage, sandbox_env
from tests.admin_http import http
from tests.conftest import ROOT
from tests.e2e.meltano import INSTALLED

pytestmark = pytest.mark.skipif(not INSTALLED, reason="needs Meltano's plugin venvs (make test)")


def test_two_pipelines_of_one_loader_at_once_keep_apart_run_files_and_share_one_state_database(
    sandbox, tmp_path, capsys
):
    suffix = f"lanes-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **sandbox_env(sandbox),
        "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "TARGET_BREVO_TAJO_REJECTS_FILE": str(tmp_path / "rejects.jsonl"),
    }
    cohorts_and_groups = main_stages(1, "Run 1")[1]
    assert [len(lane) for lane in cohorts_and_groups] == [1, 1]  # two lanes: at once

    code = run_stage(sandbox, Pipelines(ROOT, tmp_path, env, suffix), cohorts_and_groups)

    assert code == 0
    printed = capsys.readouterr().out
    # The second lane's lines come after the first lane's whole run, not mixed into it.
    assert printed.index("== Run 1: cohorts ==") < printed.index("== Run 1: groups ==")
    assert "Mixpanel API calls of the 2 runs above: " in printed
    cohorts = json.loads((tmp_path / "sync-report-run1-cohorts.json").read_text())
    groups = json.loads((tmp_path / "sync-report-run1-groups.json").read_text())
    assert cohorts["status"] == groups["status"] == "succeeded"
    assert cohorts["cohort_members"]["received"] > 0
    assert groups["companies"]["created"] > 0
    companies = http.get(f"{sandbox.url}/_sandbox/brevo/companies").json()["companies"]
    assert len(companies) == groups["companies"]["created"]  # what Brevo holds, not the report
    # The groups run wrote its plugins' files in its own system folder, on the shared plugins.
    shared = Path(os.environ["MELTANO_SYS_DIR_ROOT"])  # this worker's (tests/e2e/conftest.py)
    lane = tmp_path / "meltano" / "lane-1"
    assert (lane / "run" / "tap-mixpanel-tajo--groups").is_dir()
    assert not (lane / "run" / "tap-mixpanel-tajo--cohorts").exists()
    assert (lane / "extractors").resolve() == (shared / "extractors").resolve()
    # Both states are in the one system database, where the next run of each finds its own.
    with sqlite3.connect(shared / "meltano.db") as db:
        states = {row[0] for row in db.execute("SELECT state_id FROM state")}
    assert {
        f"sandbox:tap-mixpanel-tajo--cohorts-to-target-brevo-tajo:{suffix}",
        f"sandbox:tap-mixpanel-tajo--groups-to-target-brevo-tajo:{suffix}",
    } <= states

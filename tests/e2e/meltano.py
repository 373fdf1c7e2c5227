"""The e2e tests' helpers: a `meltano run` on the sandbox, and what reached its Brevo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from mixpanel_brevo_mapping import load_mapping
from mixpanel_brevo_sandbox.demo import MAIN_EXTRACTOR, pipeline_command, sandbox_env
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.conftest import MAPPING_FILE, ROOT

MELTANO = shutil.which("meltano")
INSTALLED = (ROOT / ".meltano" / "extractors" / "tap-mixpanel-tajo").is_dir()


def meltano_run(
    sandbox: SandboxServer,
    workdir: Path,
    state_suffix: str,
    run: int,
    *,
    expect_failure: bool = False,
    extractor: str = MAIN_EXTRACTOR,
    command: list[str] | None = None,
    **target_env: str,
) -> dict:
    """One `meltano run` (or ``command``) in the sandbox environment; returns the sync report."""
    assert MELTANO, "meltano is not on PATH: run `make test`"
    assert INSTALLED, "Meltano plugins are not installed: run `make test`"
    report_file = workdir / f"report-{run}.json"
    env = {
        **os.environ,
        **sandbox_env(sandbox),
        "TARGET_BREVO_TAJO_LEDGER_URL": f"sqlite:///{workdir / 'ledger.sqlite'}",
        "TARGET_BREVO_TAJO_REPORT_FILE": str(report_file),
        "TARGET_BREVO_TAJO_REJECTS_FILE": str(workdir / "rejects.jsonl"),
        **{f"TARGET_BREVO_TAJO_{name.upper()}": value for name, value in target_env.items()},
    }
    result = subprocess.run(
        command or pipeline_command(state_suffix, extractor),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    (workdir / f"meltano-{run}.log").write_text(result.stdout + result.stderr)
    if expect_failure:
        assert result.returncode != 0
        return {"stderr": result.stdout + result.stderr}  # Meltano logs the target's line
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(report_file.read_text())


def meltano_log(
    sandbox: SandboxServer, workdir: Path, command: list[str], run: int, **env: str
) -> str:
    """One `meltano run` whose loader is not Brevo's, in the sandbox environment; its log."""
    assert MELTANO, "meltano is not on PATH: run `make test`"
    assert INSTALLED, "Meltano plugins are not installed: run `make test`"
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **sandbox_env(sandbox), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = result.stdout + result.stderr
    (workdir / f"meltano-{run}.log").write_text(log)
    assert result.returncode == 0, log[-3000:]
    return log


def expected_in_brevo(
    sandbox: SandboxServer, start: str, end: str, mapping_file: Path = MAPPING_FILE
) -> set[tuple[str, str]]:
    """(Brevo event name, $insert_id) of every mapped event of an identified user, per export."""
    mapping = load_mapping(mapping_file)
    response = http.get(
        f"{sandbox.url}/mixpanel/api/2.0/export",
        params={"from_date": start, "to_date": end, "project_id": 12345},
        auth=("sandbox-user", "sandbox-secret"),
        timeout=60,
    )
    response.raise_for_status()
    expected = set()
    for line in response.content.split(b"\n"):
        if not line.strip():
            continue
        event = json.loads(line)
        name = mapping.brevo_event_name(event["event"])
        if name and not str(event["properties"]["distinct_id"]).startswith("$device:"):
            expected.add((name, event["properties"]["$insert_id"]))
    return expected


def brevo_events(sandbox: SandboxServer) -> Counter[tuple[str, str]]:
    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=60).json()["events"]
    return Counter((e["event_name"], e["event_properties"]["mp_insert_id"]) for e in events)


def tap_lines(log: str) -> list[str]:
    """The tap's lines of a `meltano run` log, as Meltano wrote them (its level included)."""
    return [line for line in log.splitlines() if "] tap-mixpanel-tajo " in line]

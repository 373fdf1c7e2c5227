"""End to end through Meltano: a failed run keeps its progress, a backfill keeps production's.

Meltano saves the STATE the target emits once its sinks drained, also when the tap failed; the
tap writes one after each export window, so a rerun starts at the first window not exported.
`make backfill` exports a past range under its own state id: the production bookmark stays.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.conftest import ROOT
from tests.e2e.meltano import MELTANO, brevo_events, expected_in_brevo, meltano_run

pytestmark = pytest.mark.e2e


def mixpanel_calls(sandbox: SandboxServer) -> list[dict]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=60).json()["calls"]
    return [c for c in calls if c["api"] == "mixpanel"]


def engage_calls(sandbox: SandboxServer) -> list[dict]:
    return [c for c in mixpanel_calls(sandbox) if c["path"].endswith("/engage")]


def exported_days(sandbox: SandboxServer) -> list[str]:
    """The from_date of each export request since the last call, then forgets all calls."""
    calls = mixpanel_calls(sandbox)
    http.delete(f"{sandbox.url}/_sandbox/calls", timeout=60)
    return [c["query"]["from_date"] for c in calls if c["path"] == "/api/2.0/export"]


def days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def test_a_rerun_after_the_tap_failed_reads_only_the_windows_not_exported(
    sandbox, tmp_path, monkeypatch
):
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_MAX_RETRIES", "1")
    suffix = f"e2e-resume-{uuid.uuid4().hex[:8]}"
    today = dt.datetime.now(dt.timezone.utc).date()
    first = today - dt.timedelta(days=9)  # the sandbox environment's start_date: 10 windows
    export = {"api": "mixpanel", "path": "/api/2.0/export", "kind": "status", "status": 503}
    http.post(f"{sandbox.url}/_sandbox/faults", json={**export, "after": 4, "times": -1})

    meltano_run(sandbox, tmp_path, suffix, 1, expect_failure=True)

    fifth = first + dt.timedelta(days=4)
    assert exported_days(sandbox) == [*days(first, fifth), fifth.isoformat()]  # 5th: 1 retry
    http.delete(f"{sandbox.url}/_sandbox/faults")

    meltano_run(sandbox, tmp_path, suffix, 2)

    assert exported_days(sandbox) == days(fifth, today)
    in_brevo = brevo_events(sandbox)
    assert set(in_brevo) == expected_in_brevo(sandbox, first.isoformat(), today.isoformat())
    assert max(in_brevo.values()) == 1


def test_a_backfill_leaves_the_production_bookmark_and_sends_each_event_once(
    sandbox, tmp_path, monkeypatch
):
    today = dt.datetime.now(dt.timezone.utc).date()
    production_start = today - dt.timedelta(days=3)
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_START_DATE", production_start.isoformat())
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_LOOKBACK_DAYS", "1")
    suffix = f"e2e-backfill-{uuid.uuid4().hex[:8]}"
    start, end = today - dt.timedelta(days=8), production_start  # one day in both
    backfill = ["make", "--no-print-directory", "backfill", "ENV=sandbox"]
    backfill += [f"START={start}", f"END={end}"]

    state_id = f"sandbox:tap-mixpanel-tajo-to-target-brevo-tajo:backfill-{start}-{end}"
    assert MELTANO, "meltano is not on PATH: run `make test`"
    clear = [MELTANO, "--environment=sandbox", "state", "clear", "--force", state_id]
    subprocess.run(clear, cwd=ROOT, capture_output=True, check=True)  # an earlier run's, today

    meltano_run(sandbox, tmp_path, suffix, 1)
    assert exported_days(sandbox) == days(production_start, today)
    sent = meltano_run(sandbox, tmp_path, suffix, 2, command=backfill)
    assert not engage_calls(sandbox)  # events only
    assert exported_days(sandbox) == days(start, end)
    third = meltano_run(sandbox, tmp_path, suffix, 3)

    # Production's bookmark is where run 1 left it (today): run 3 reads only the lookback.
    assert exported_days(sandbox) == days(today - dt.timedelta(days=1), today)
    in_brevo = brevo_events(sandbox)
    assert set(in_brevo) == expected_in_brevo(sandbox, start.isoformat(), today.isoformat())
    assert max(in_brevo.values()) == 1
    assert sent["events"]["sent"] > 0
    assert sent["events"]["deduplicated_by_ledger"] > 0  # the day production had sent
    assert third["events"]["sent"] == 0


def test_make_backfill_reads_a_range_longer_than_max_backfill_days(sandbox, tmp_path, monkeypatch):
    """An ordinary run refuses more than 90 days of history; `make backfill` names its range."""
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_WINDOW_DAYS", "50")
    today = dt.datetime.now(dt.timezone.utc).date()
    start = today - dt.timedelta(days=119)  # 120 days: three windows of 50
    state_id = f"sandbox:tap-mixpanel-tajo-to-target-brevo-tajo:backfill-{start}-{today}"
    assert MELTANO, "meltano is not on PATH: run `make test`"
    clear = [MELTANO, "--environment=sandbox", "state", "clear", "--force", state_id]
    subprocess.run(clear, cwd=ROOT, capture_output=True, check=True)  # an earlier run's, today
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_START_DATE", start.isoformat())
    suffix = f"e2e-long-{uuid.uuid4().hex[:8]}"

    refused = meltano_run(sandbox, tmp_path, suffix, 1, expect_failure=True)

    assert f"this run would read 120 days of history ({start}..{today}" in refused["stderr"]
    assert f"make backfill START={start} END={today}" in refused["stderr"]
    assert exported_days(sandbox) == []
    backfill = ["make", "--no-print-directory", "backfill", "ENV=sandbox"]
    backfill += [f"START={start}", f"END={today}"]

    sent = meltano_run(sandbox, tmp_path, suffix, 2, command=backfill)

    assert exported_days(sandbox) == [
        start.isoformat(),
        (start + dt.timedelta(days=50)).isoformat(),
        (start + dt.timedelta(days=100)).isoformat(),
    ]
    assert sent["events"]["sent"] > 0

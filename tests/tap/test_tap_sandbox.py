"""The tap against the sandbox's Mixpanel: real HTTP, real streaming, injected faults."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mixpanel_brevo_mapping import IDENTITY_EVENTS, load_mapping
from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
DAY = "2026-11-19"


pytestmark = pytest.mark.sandbox(now=NOW, profiles=50, events=3000, days=2)


def fault(sandbox: SandboxServer, **rule) -> None:
    http.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"api": "mixpanel", "path": "/api/2.0/export", **rule},
    ).raise_for_status()


def export_calls(sandbox: SandboxServer) -> list[int]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return [c["status"] for c in calls if c["path"] == "/api/2.0/export"]


def sync_one_day(sandbox: SandboxServer, capsys, **config) -> list[dict]:
    tap = TapMixpanelTajo(
        config={
            "base_url": f"{sandbox.url}/mixpanel",
            "project_id": "12345",
            "service_account_username": "sandbox-user",
            "service_account_secret": "sandbox-secret",
            "start_date": f"{DAY}T00:00:00Z",
            "end_date": f"{DAY}T00:00:00Z",
            "mapping_file": str(MAPPING_FILE),
            **config,
        },
        parse_env_config=False,
    )
    capsys.readouterr()
    tap.sync_all()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    return [m["record"] for m in lines if m["type"] == "RECORD" and m["stream"] == "events"]


def insert_ids(records: list[dict]) -> list[str]:
    return sorted(r["insert_id"] for r in records)


def test_a_dropped_connection_refetches_the_window_and_emits_each_event_once(sandbox, capsys):
    clean = sync_one_day(sandbox, capsys)
    fault(sandbox, kind="drop")

    after_drop = sync_one_day(sandbox, capsys)

    assert clean
    assert insert_ids(after_drop) == insert_ids(clean)
    assert len(export_calls(sandbox)) == 3  # clean run, dropped attempt, refetch


def test_a_terminated_early_export_is_refetched_not_trusted(sandbox, capsys):
    clean = sync_one_day(sandbox, capsys)
    fault(sandbox, kind="terminated_early")

    assert insert_ids(sync_one_day(sandbox, capsys)) == insert_ids(clean)


def test_rate_limited_exports_wait_and_retry(sandbox, capsys):
    fault(sandbox, kind="status", status=429, headers={"Retry-After": "1"}, times=2)

    records = sync_one_day(sandbox, capsys)

    assert records
    assert export_calls(sandbox) == [429, 429, 200]


def test_only_mapped_and_identity_events_leave_mixpanel(sandbox, capsys):
    records = sync_one_day(sandbox, capsys)

    wanted = {*load_mapping(MAPPING_FILE).event_mapping, *IDENTITY_EVENTS}
    assert {r["event"] for r in records} <= wanted
    export = next(
        c
        for c in http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
        if c["path"] == "/api/2.0/export"
    )
    assert set(json.loads(export["query"]["event"])) == wanted


def test_a_plan_without_api_access_ends_with_one_line(sandbox, capsys):
    fault(sandbox, kind="status", status=402, body="Payment Required")

    with pytest.raises(MixpanelError) as ended:
        sync_one_day(sandbox, capsys)

    message = str(ended.value)
    assert "402" in message
    assert "\n" not in message


def test_wrong_credentials_end_with_one_line_without_the_secret(sandbox, capsys):
    with pytest.raises(MixpanelError) as ended:
        sync_one_day(sandbox, capsys, service_account_secret="wrong-secret-value")

    message = str(ended.value)
    assert "401" in message
    assert "service_account" in message
    assert "wrong-secret-value" not in message


def sync_days(
    sandbox: SandboxServer, capsys, state: dict | None = None
) -> tuple[MixpanelError | None, list[dict]]:
    """Sync the events of 2026-11-12..20, one window a day: (the error it ended with, messages)."""
    tap = TapMixpanelTajo(
        config={
            "base_url": f"{sandbox.url}/mixpanel",
            "project_id": "12345",
            "service_account_username": "sandbox-user",
            "service_account_secret": "sandbox-secret",
            "start_date": "2026-11-12T00:00:00Z",
            "end_date": "2026-11-20T00:00:00Z",
            "mapping_file": str(MAPPING_FILE),
            "max_retries": 1,
        },
        state=state or {},
        parse_env_config=False,
    )
    for name in ("profiles", "cohorts", "cohort_members"):
        tap.streams[name].selected = False
    capsys.readouterr()
    http.delete(f"{sandbox.url}/_sandbox/calls")
    error = None
    try:
        tap.sync_all()
    except MixpanelError as exc:
        error = exc
    return error, [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def exported_days(sandbox: SandboxServer) -> list[str]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return [c["query"]["from_date"] for c in calls if c["path"] == "/api/2.0/export"]


def days(first: int, last: int) -> list[str]:
    return [f"2026-11-{day}" for day in range(first, last + 1)]


def event_ids(messages: list[dict]) -> set[str]:
    return {m["record"]["insert_id"] for m in messages if m["type"] == "RECORD"}


@pytest.mark.parametrize(
    "rule",
    [{"kind": "status", "status": 503}, {"kind": "drop"}, {"kind": "terminated_early"}],
    ids=["status", "drop", "terminated_early"],
)
def test_a_rerun_after_a_failure_after_window_4_of_9_reads_only_windows_5_to_9(
    sandbox, capsys, rule
):
    _, clean = sync_days(sandbox, capsys)
    assert event_ids(clean)
    fault(sandbox, **rule, after=4, times=-1)

    error, interrupted = sync_days(sandbox, capsys)

    assert error is not None
    assert exported_days(sandbox) == [*days(12, 15), "2026-11-16", "2026-11-16"]  # 1 retry
    state = next(m["value"] for m in reversed(interrupted) if m["type"] == "STATE")
    assert (
        state["bookmarks"]["events"]["replication_key_value"] == "2026-11-16T00:00:00.000000+00:00"
    )
    assert state["bookmarks"]["events"]["resume_from"] == "2026-11-16"
    http.delete(f"{sandbox.url}/_sandbox/faults")

    error, rerun = sync_days(sandbox, capsys, state)

    assert error is None
    assert exported_days(sandbox) == days(16, 20)
    assert event_ids(interrupted) | event_ids(rerun) == event_ids(clean)

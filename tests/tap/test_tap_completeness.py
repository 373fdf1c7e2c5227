"""verify_export_counts: each export window against Mixpanel's own daily counts (Query API)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.streams.completeness import last_stable_day
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE

BASE = "http://mixpanel.test"
EXPORT = f"{BASE}/api/2.0/export"
COUNTS = f"{BASE}/api/query/events"
DAY = "2024-03-01"  # long past: stable
NOON = 1709294400  # 2024-03-01T12:00:00Z
UTC = dt.timezone.utc

CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "start_date": f"{DAY}T00:00:00Z",
    "end_date": f"{DAY}T00:00:00Z",
    "mapping_file": str(MAPPING_FILE),
    "verify_export_counts": True,
}


def make_tap(state: dict | None = None, **overrides) -> TapMixpanelTajo:
    config = {key: value for key, value in {**CONFIG, **overrides}.items() if value is not None}
    tap = TapMixpanelTajo(config=config, state=state or {}, parse_env_config=False)
    for name in ("lookup_tables", "profiles", "cohorts", "cohort_members"):  # events only
        tap.streams[name].selected = False
    return tap


def line(insert_id: str, time: float = NOON, event: str = "Purchase") -> bytes:
    properties = {"time": time, "distinct_id": "u1", "$insert_id": insert_id}
    return json.dumps({"event": event, "properties": properties}).encode() + b"\n"


def counted(per_day: dict[str, int]) -> httpx.Response:
    """A /events answer in the spec's shape, the day's count split over two names."""
    values = {
        "Purchase": {day: count - count // 2 for day, count in per_day.items()},
        "Sign Up": {day: count // 2 for day, count in per_day.items() if count // 2},
    }
    return httpx.Response(
        200, json={"data": {"series": list(per_day), "values": values}, "legend_size": 2}
    )


def run(tap: TapMixpanelTajo, capsys) -> tuple[list[dict], dict]:
    """Sync; the events records and the final state."""
    tap.sync_all()
    messages = [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]
    records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "events"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states[-1]


# Which days are compared


@pytest.mark.parametrize(
    ("now", "zone", "last_stable"),
    [
        (dt.datetime(2026, 11, 20, 12, tzinfo=UTC), "UTC", dt.date(2026, 11, 18)),
        (dt.datetime(2026, 11, 21, 0, tzinfo=UTC), "UTC", dt.date(2026, 11, 19)),  # ended 24 h ago
        (dt.datetime(2026, 11, 20, 23, 59, tzinfo=UTC), "UTC", dt.date(2026, 11, 18)),
        (dt.datetime(2026, 11, 20, 12, tzinfo=UTC), "US/Pacific", dt.date(2026, 11, 18)),
        (dt.datetime(2026, 11, 20, 12, tzinfo=UTC), "Pacific/Kiritimati", dt.date(2026, 11, 19)),
    ],
)
def test_a_day_is_compared_once_it_ended_at_least_24_hours_ago(now, zone, last_stable):
    assert last_stable_day(now, ZoneInfo(zone)) == last_stable


@respx.mock
def test_days_that_ended_less_than_a_day_ago_are_not_counted(capsys, caplog):
    caplog.set_level(logging.INFO)
    yesterday = (dt.datetime.now(UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    respx.get(EXPORT).respond(200, content=line("1"))
    counts = respx.get(COUNTS).mock(return_value=counted({}))

    records, _ = run(make_tap(start_date=yesterday, end_date=None), capsys)

    assert len(records) == 2  # yesterday's window, today's
    assert counts.call_count == 0
    assert caplog.text.count("too recent to check against Mixpanel's counts") == 2


@respx.mock
def test_only_the_stable_days_of_a_window_are_counted(capsys):
    today = dt.datetime.now(UTC).date()
    first = today - dt.timedelta(days=2)
    first_noon = dt.datetime(first.year, first.month, first.day, 12, tzinfo=UTC).timestamp()
    respx.get(EXPORT).respond(200, content=line("1", time=first_noon))
    counts = respx.get(COUNTS).mock(return_value=counted({first.isoformat(): 1}))

    run(make_tap(start_date=f"{first}T00:00:00Z", end_date=None, window_days=3), capsys)

    params = counts.calls.last.request.url.params
    assert (params["from_date"], params["to_date"]) == (first.isoformat(), first.isoformat())


# The count query


@respx.mock
def test_the_count_query_asks_for_daily_totals_of_the_exported_names(capsys, caplog):
    caplog.set_level(logging.INFO)
    export = respx.get(EXPORT).respond(200, content=line("1") + line("2", event="Sign Up"))
    counts = respx.get(COUNTS).mock(return_value=counted({DAY: 2}))

    records, _ = run(make_tap(), capsys)

    assert len(records) == 2
    assert export.call_count == 1
    params = counts.calls.last.request.url.params
    assert json.loads(params["event"]) == json.loads(export.calls.last.request.url.params["event"])
    assert dict(params) == {
        "project_id": "12345",
        "event": params["event"],
        "type": "general",
        "unit": "day",
        "from_date": DAY,
        "to_date": DAY,
    }
    assert "events 2024-03-01..2024-03-01: 2 records" in caplog.text
    assert "complete by Mixpanel's counts" in caplog.text


@respx.mock
def test_the_check_is_off_by_default(capsys):
    respx.get(EXPORT).respond(200, content=line("1"))
    counts = respx.get(COUNTS).mock(return_value=counted({DAY: 5}))

    records, _ = run(make_tap(verify_export_counts=None), capsys)

    assert len(records) == 1
    assert counts.call_count == 0


@respx.mock
def test_without_mapped_event_names_there_is_nothing_to_count(capsys, caplog):
    respx.get(EXPORT).respond(200, content=line("1"))
    counts = respx.get(COUNTS).mock(return_value=counted({DAY: 5}))

    records, _ = run(make_tap(mapping_file=None), capsys)

    assert len(records) == 1
    assert counts.call_count == 0
    assert "verify_export_counts: no mapped event names to count" in caplog.text


@respx.mock
def test_unreadable_counts_leave_the_window_unchecked_and_the_run_goes_on(capsys, caplog):
    respx.get(EXPORT).respond(200, content=line("1"))
    respx.get(COUNTS).respond(402, text="Payment Required")

    records, _ = run(make_tap(), capsys)

    assert len(records) == 1
    assert "events 2024-03-01..2024-03-01: not checked, Mixpanel's counts are unreadable" in (
        caplog.text
    )


# What is compared: the records emitted, after exact duplicates, per project-local day


@respx.mock
def test_exact_duplicates_count_once_as_mixpanel_counts_them(capsys):
    export = respx.get(EXPORT).respond(200, content=line("1") + line("1") + line("2"))
    respx.get(COUNTS).mock(return_value=counted({DAY: 2}))

    records, _ = run(make_tap(), capsys)

    assert [r["insert_id"] for r in records] == ["1", "2"]
    assert export.call_count == 1


@respx.mock
def test_duplicates_do_not_hide_a_cut(capsys):
    export = respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, content=line("1") + line("1")),  # 2 lines, 1 event: cut
            httpx.Response(200, content=line("1") + line("1") + line("2")),
        ]
    )
    respx.get(COUNTS).mock(return_value=counted({DAY: 2}))

    records, _ = run(make_tap(), capsys)

    assert [r["insert_id"] for r in records] == ["1", "2"]
    assert export.call_count == 2


@respx.mock
def test_days_are_the_projects_local_days(capsys):
    # 23:30 on 2024-03-01 in Los Angeles, stored as a pre-2023 "local epoch" (07:30 UTC next day).
    late_evening = dt.datetime(2024, 3, 1, 23, 30, tzinfo=UTC).timestamp()
    export = respx.get(EXPORT).respond(200, content=line("1", time=late_evening))
    respx.get(COUNTS).mock(return_value=counted({DAY: 1}))

    records, _ = run(make_tap(project_timezone="America/Los_Angeles"), capsys)

    assert records[0]["time"] == "2024-03-02T07:30:00.000000+00:00"
    assert export.call_count == 1


# A shortfall


@respx.mock
def test_a_window_still_short_after_a_second_read_is_named_and_the_run_goes_on(capsys, caplog):
    export = respx.get(EXPORT).respond(200, content=line("1"))
    respx.get(COUNTS).mock(return_value=counted({DAY: 3}))

    records, state = run(make_tap(), capsys)

    assert export.call_count == 2  # read once more, never in a loop
    assert [r["insert_id"] for r in records] == ["1"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "events 2024-03-01..2024-03-01: fewer events than Mixpanel counts (2024-03-01: 1 of 3); "
        "reading the window again"
    ) in warnings
    assert any(
        w.startswith(
            "events 2024-03-01..2024-03-01: still fewer events than Mixpanel counts after a "
            "second read (2024-03-01: 1 of 3)"
        )
        for w in warnings
    )
    assert state["bookmarks"]["events"]["replication_key_value"].startswith("2024-03-02")


# Against the sandbox's Mixpanel: a 200 body cut cleanly at a line boundary

SANDBOX_NOW = dt.datetime(2026, 3, 10, 12, tzinfo=UTC)
DAY_1, DAY_2 = "2026-03-08", "2026-03-09"


pytestmark = pytest.mark.sandbox(now=SANDBOX_NOW, profiles=50, events=3000, days=3)


def sandbox_tap(sandbox: SandboxServer, state: dict | None = None, **config) -> TapMixpanelTajo:
    return make_tap(
        state,
        base_url=f"{sandbox.url}/mixpanel",
        service_account_username="sandbox-user",
        service_account_secret="sandbox-secret",
        start_date=f"{DAY_1}T00:00:00Z",
        end_date=f"{DAY_2}T00:00:00Z",
        **config,
    )


def cut_the_next_export(sandbox: SandboxServer, times: int = 1) -> None:
    fault = {"api": "mixpanel", "path": "/api/2.0/export", "kind": "clean_cut", "times": times}
    http.post(f"{sandbox.url}/_sandbox/faults", json=fault).raise_for_status()


def calls(sandbox: SandboxServer, path: str) -> int:
    logged = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return sum(call["path"] == path for call in logged)


def insert_ids(records: list[dict]) -> set[str]:
    return {record["insert_id"] for record in records}


def test_a_cleanly_cut_window_is_read_again_and_ends_complete(sandbox, capsys, caplog):
    clean, _ = run(sandbox_tap(sandbox, verify_export_counts=False), capsys)
    http.delete(f"{sandbox.url}/_sandbox/calls").raise_for_status()
    cut_the_next_export(sandbox)

    records, _ = run(sandbox_tap(sandbox), capsys)

    assert sorted(r["insert_id"] for r in records) == sorted(insert_ids(clean))
    assert calls(sandbox, "/api/2.0/export") == 3  # day 1 twice, day 2 once
    assert calls(sandbox, "/api/query/events") == 2  # one per window
    rereads = [r.getMessage() for r in caplog.records if "reading the window again" in r.message]
    assert len(rereads) == 1
    assert rereads[0].startswith(f"events {DAY_1}..{DAY_1}: fewer events than Mixpanel counts")
    assert "still fewer" not in caplog.text


def test_without_the_check_a_clean_cut_is_recovered_only_by_the_lookback(sandbox, capsys, caplog):
    clean, _ = run(sandbox_tap(sandbox, verify_export_counts=False), capsys)
    cut_the_next_export(sandbox)

    first_run, state = run(sandbox_tap(sandbox, verify_export_counts=False), capsys)
    lost = insert_ids(clean) - insert_ids(first_run)
    assert lost  # no error, no warning: the cut went unseen
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "events" in r.name]
    assert calls(sandbox, "/api/query/events") == 0

    without_lookback, _ = run(
        sandbox_tap(sandbox, state, verify_export_counts=False, lookback_days=0), capsys
    )
    assert not lost & insert_ids(without_lookback)  # the bookmark moved past the cut day

    # The bookmark is the end of DAY_2 (midnight of the day after): 2 days back is the cut day.
    with_lookback, _ = run(
        sandbox_tap(sandbox, state, verify_export_counts=False, lookback_days=2), capsys
    )
    assert lost <= insert_ids(with_lookback)

"""The profiles stream: Engage paging, pushdown, incremental reads and full refreshes."""

from __future__ import annotations

import datetime as dt
import json
import logging
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from click.testing import CliRunner

from mixpanel_brevo_mapping import CONTACT_PROFILE_PROPERTIES, load_mapping
from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.dates import parse_utc
from tap_mixpanel_tajo.streams.base import engage_entry
from tap_mixpanel_tajo.streams.engage import last_seen_where, record_of
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE


def to_record(raw: dict, full_refresh_id: str | None) -> dict | None:
    """One Engage result as the stream emits it (None without a $distinct_id)."""
    entry = engage_entry(raw)
    return record_of(*entry, full_refresh_id) if entry else None


BASE = "http://mixpanel.test"
ENGAGE = f"{BASE}/api/query/engage"
UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC)
SANDBOX_NOW = dt.datetime(2025, 6, 1, 12, tzinfo=UTC)

CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "max_retries": 1,
}


def make_tap(state: dict | None = None, **overrides) -> TapMixpanelTajo:
    """A tap syncing only the profiles stream."""
    config = {key: value for key, value in {**CONFIG, **overrides}.items() if value is not None}
    tap = TapMixpanelTajo(config=config, state=state or {}, parse_env_config=False)
    for name in ("lookup_tables", "events", "cohorts", "cohort_members"):
        tap.streams[name].selected = False
    return tap


def messages(capsys) -> list[dict]:
    """The Singer messages written to stdout so far."""
    return [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]


def run(tap: TapMixpanelTajo, capsys) -> tuple[list[dict], list[dict]]:
    """Sync and return (records, state messages) from stdout."""
    capsys.readouterr()
    tap.sync_all()
    written = messages(capsys)
    records = [
        m["record"] for m in written if m.get("stream") == "profiles" and m["type"] == "RECORD"
    ]
    states = [m["value"] for m in written if m["type"] == "STATE"]
    return records, states


def failed_run(tap: TapMixpanelTajo, capsys) -> tuple[str, list[dict]]:
    """Sync a run that must fail; return (its one-line error, the messages written before)."""
    capsys.readouterr()
    with pytest.raises(MixpanelError) as ended:
        tap.sync_all()
    return str(ended.value), messages(capsys)


def profile(n: int, last_seen: str | None = "2024-03-20T10:00:00", **props) -> dict:
    properties = {"$email": f"user{n}@example.com", **props}
    if last_seen is not None:
        properties["$last_seen"] = last_seen
    return {"$distinct_id": f"user-{n}", "$properties": properties}


def page(
    number: int, profiles: list[dict], session_id: str | None = "S1", total: int | None = None
) -> httpx.Response:
    body: dict = {"page": number, "page_size": 1000, "status": "ok", "results": profiles}
    if session_id is not None:
        body["session_id"] = session_id
    if total is not None:
        body["total"] = total
    return httpx.Response(200, json=body)


def full_page(number: int, session_id: str = "S1") -> httpx.Response:
    return page(number, [profile(number * 1000 + i) for i in range(1000)], session_id)


def form(call) -> dict[str, str]:
    """The form body of a recorded Engage call."""
    body = call.request.content.decode()
    if body:  # a full refresh without a mapping has no parameter to send
        assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return {key: values[0] for key, values in parse_qs(body).items()}


def profiles_state(
    bookmark: str | None = "2024-03-20T10:00:00.000000+00:00",
    last_full_refresh: dt.datetime | None = NOW - dt.timedelta(days=1),
) -> dict:
    state: dict = {}
    if bookmark:
        state.update(replication_key="last_seen", replication_key_value=bookmark)
    if last_full_refresh:
        state["last_full_refresh"] = last_full_refresh.isoformat()
    return {"bookmarks": {"profiles": state}}


# Record shape


def test_a_record_lifts_distinct_id_and_last_seen_and_keeps_properties():
    raw = profile(1, "2024-03-20T10:00:00", plan="pro", **{"$city": "Pune"})
    assert to_record(raw, None) == {
        "distinct_id": "user-1",
        "last_seen": "2024-03-20T10:00:00.000000+00:00",
        "properties": raw["$properties"],
        "full_refresh_id": None,
    }
    assert to_record(raw, "R")["full_refresh_id"] == "R"


def test_last_seen_is_naive_utc_or_converted_or_null():
    assert parse_utc("2024-03-20T10:00:00") == dt.datetime(2024, 3, 20, 10, tzinfo=UTC)
    assert parse_utc("2024-03-20T12:00:00+02:00") == dt.datetime(2024, 3, 20, 10, tzinfo=UTC)
    assert to_record(profile(1, last_seen=None), None)["last_seen"] is None
    assert to_record(profile(1, last_seen="yesterday"), None)["last_seen"] is None


def test_a_numeric_distinct_id_is_text_and_a_missing_one_is_no_record():
    assert to_record({"$distinct_id": 42, "$properties": {}}, None)["distinct_id"] == "42"
    assert to_record({"$properties": {"$email": "x@example.com"}}, None) is None


# Paging


@respx.mock
def test_pages_repeat_the_query_with_page_0s_session_and_stop_on_a_short_page(capsys):
    route = respx.post(ENGAGE).mock(
        side_effect=[
            full_page(0),
            full_page(1),
            page(2, [profile(2000), profile(2001), profile(2002)]),
        ]
    )
    records, _ = run(make_tap(), capsys)

    assert len(records) == 2003
    assert len({r["distinct_id"] for r in records}) == 2003
    bodies = [form(call) for call in route.calls]
    assert "session_id" not in bodies[0]
    assert "page" not in bodies[0]
    assert [(b["session_id"], b["page"]) for b in bodies[1:]] == [("S1", "1"), ("S1", "2")]
    assert all(call.request.url.params["project_id"] == "12345" for call in route.calls)


@respx.mock
def test_an_empty_page_ends_the_paging(capsys):
    route = respx.post(ENGAGE).mock(side_effect=[full_page(0), page(1, [])])
    records, _ = run(make_tap(), capsys)
    assert len(records) == 1000
    assert route.call_count == 2


@respx.mock
def test_a_page_without_session_id_ends_the_paging(capsys):
    route = respx.post(ENGAGE).mock(
        side_effect=[page(0, [profile(i) for i in range(1000)], session_id=None)]
    )
    records, _ = run(make_tap(), capsys)
    assert len(records) == 1000
    assert route.call_count == 1


@respx.mock
def test_each_page_and_the_run_are_logged(capsys, caplog):
    caplog.set_level(logging.INFO)
    respx.post(ENGAGE).mock(
        side_effect=[
            page(0, [profile(i) for i in range(1000)], total=1001),
            page(1, [profile(1000)]),
        ]
    )
    run(make_tap(), capsys)
    assert "profiles page 0: 1000 profiles so far of 1001, " in caplog.text
    assert "profiles page 1: 1001 profiles so far of 1001, " in caplog.text
    assert "profiles: full refresh " in caplog.text
    assert " complete: 1001 profiles in 2 page(s), 2 API calls" in caplog.text


# What is asked of Mixpanel


@respx.mock
def test_only_the_mapped_and_target_properties_are_asked_for(capsys):
    route = respx.post(ENGAGE).mock(return_value=page(0, []))
    run(make_tap(mapping_file=str(MAPPING_FILE)), capsys)

    asked = json.loads(form(route.calls.last)["output_properties"])
    mapped = set(load_mapping(MAPPING_FILE).property_mapping)
    assert asked == sorted(mapped | {*CONTACT_PROFILE_PROPERTIES, "$last_seen"})
    assert {"plan", "total_revenue", "$email", "$last_seen"} <= set(asked)


@respx.mock
def test_without_a_mapping_all_properties_are_asked_for(capsys):
    route = respx.post(ENGAGE).mock(return_value=page(0, []))
    run(make_tap(), capsys)
    assert "output_properties" not in form(route.calls.last)


def test_the_incremental_where_compares_whole_utc_seconds():
    bookmark = dt.datetime(2024, 3, 20, 12, 0, 0, 750000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert last_seen_where(bookmark) == 'properties["$last_seen"] >= "2024-03-20T10:00:00"'


# Incremental runs and full refreshes


@respx.mock
def test_the_first_run_is_a_full_refresh_proven_complete_by_a_sync_checkpoint(capsys):
    route = respx.post(ENGAGE).mock(
        return_value=page(
            0, [profile(1, "2024-03-20T10:00:00"), profile(2, "2024-03-21T08:30:00"), profile(3)]
        )
    )
    capsys.readouterr()
    make_tap().sync_all()
    written = messages(capsys)
    records = [m["record"] for m in written if m["type"] == "RECORD" and m["stream"] == "profiles"]
    states = [m["value"] for m in written if m["type"] == "STATE"]

    assert "where" not in form(route.calls.last)
    refresh_ids = {r["full_refresh_id"] for r in records}
    assert len(refresh_ids) == 1
    (refresh_id,) = refresh_ids
    assert NOW <= parse_utc(refresh_id) <= dt.datetime.now(UTC)
    final = states[-1]["bookmarks"]["profiles"]
    assert final == {
        "replication_key": "last_seen",
        "replication_key_value": "2024-03-21T08:30:00.000000+00:00",
        "last_full_refresh": refresh_id,  # the tap's own: when the next one is due
    }
    assert "S1" not in json.dumps(states)  # a session never outlives its run
    (checkpoint,) = [
        m["record"] for m in written if m["type"] == "RECORD" and m["stream"] == "sync_checkpoints"
    ]
    assert {k: v for k, v in checkpoint.items() if k != "completed_at"} == {
        "stream": "profiles",
        "id": "all",
        "kind": "full_refresh",
        "snapshot_id": refresh_id,
        "records": 3,
    }
    assert parse_utc(checkpoint["completed_at"]) >= parse_utc(refresh_id)


@respx.mock
def test_an_incremental_run_asks_for_profiles_seen_since_the_bookmark(capsys):
    route = respx.post(ENGAGE).mock(
        return_value=page(0, [profile(1, "2024-03-20T10:00:00"), profile(2, "2024-03-22T09:00:00")])
    )
    state = profiles_state(bookmark="2024-03-20T10:00:00.000000+00:00")
    before = state["bookmarks"]["profiles"]["last_full_refresh"]

    records, states = run(make_tap(state=state), capsys)

    assert form(route.calls.last)["where"] == 'properties["$last_seen"] >= "2024-03-20T10:00:00"'
    assert [r["full_refresh_id"] for r in records] == [None, None]
    final = states[-1]["bookmarks"]["profiles"]
    assert final["replication_key_value"] == "2024-03-22T09:00:00.000000+00:00"
    assert final["last_full_refresh"] == before  # carried over, not renewed


@pytest.mark.parametrize(
    ("state", "settings"),
    [
        (profiles_state(last_full_refresh=NOW - dt.timedelta(days=8)), {}),
        (
            profiles_state(last_full_refresh=NOW - dt.timedelta(days=3)),
            {"profiles_full_refresh_days": 2},
        ),
        (
            profiles_state(last_full_refresh=NOW - dt.timedelta(minutes=5)),
            {"profiles_full_refresh_days": 0},
        ),
        (profiles_state(last_full_refresh=None), {}),
    ],
    ids=["older-than-7-days", "older-than-the-setting", "setting-0-every-run", "never-completed"],
)
@respx.mock
def test_a_full_refresh_is_due_after_profiles_full_refresh_days(state, settings, capsys):
    route = respx.post(ENGAGE).mock(return_value=page(0, [profile(1, "2024-03-01T00:00:00")]))

    records, states = run(make_tap(state=state, **settings), capsys)

    assert "where" not in form(route.calls.last)
    refresh_id = records[0]["full_refresh_id"]
    final = states[-1]["bookmarks"]["profiles"]
    assert final["last_full_refresh"] == refresh_id
    # Older profiles of a full refresh never move the bookmark back.
    assert final["replication_key_value"] == "2024-03-20T10:00:00.000000+00:00"


@respx.mock
def test_a_full_refresh_that_fails_on_page_2_never_claims_completion(capsys):
    old_refresh = NOW - dt.timedelta(days=8)
    respx.post(ENGAGE).mock(
        side_effect=lambda request: (
            full_page(0, "S1")
            if "page=" not in request.content.decode()
            else full_page(1, "S1")
            if "page=1" in request.content.decode()
            else httpx.Response(500, text="boom")
        )
    )

    error, written = failed_run(
        make_tap(state=profiles_state(last_full_refresh=old_refresh)), capsys
    )

    assert "profiles engage page 2 still failing" in error
    records = [
        m["record"] for m in written if m.get("stream") == "profiles" and m["type"] == "RECORD"
    ]
    assert len(records) == 4000  # pages 0 and 1, twice (one restart)
    assert records[0]["full_refresh_id"]
    states = [m["value"]["bookmarks"]["profiles"] for m in written if m["type"] == "STATE"]
    assert states
    assert all(s.get("last_full_refresh") == old_refresh.isoformat() for s in states)


@respx.mock
def test_an_error_mid_paging_restarts_the_query_from_page_0_once(capsys, caplog):
    route = respx.post(ENGAGE).mock(
        side_effect=[
            full_page(0, "S1"),
            httpx.Response(500),
            httpx.Response(500),  # page 1 of session S1 still fails after 1 retry
            full_page(0, "S2"),
            page(1, [profile(5000)], session_id="S2"),
        ]
    )

    records, states = run(make_tap(), capsys)

    bodies = [form(call) for call in route.calls]
    assert [(b.get("session_id"), b.get("page")) for b in bodies] == [
        (None, None),
        ("S1", "1"),
        ("S1", "1"),
        (None, None),
        ("S2", "1"),
    ]
    assert len(records) == 2001  # page 0's profiles are sent again after the restart
    assert len({r["distinct_id"] for r in records}) == 1001
    assert "restarting the query from page 0 once" in caplog.text
    final = states[-1]["bookmarks"]["profiles"]
    assert final["last_full_refresh"] == records[0]["full_refresh_id"]


@respx.mock
def test_a_second_error_mid_paging_ends_the_run(capsys):
    route = respx.post(ENGAGE).mock(
        side_effect=lambda request: (
            httpx.Response(400, json={"error": "session expired"})
            if "page=1" in request.content.decode()
            else full_page(0)
        )
    )
    message, _ = failed_run(make_tap(), capsys)
    assert message.startswith("Mixpanel refused profiles engage page 1 (HTTP 400)")
    assert "\n" not in message
    assert route.call_count == 4  # page 0, page 1, page 0 again, page 1 again


@respx.mock
def test_a_plan_without_api_access_ends_with_the_clients_one_line(capsys):
    respx.post(ENGAGE).respond(402, json={"error": "Payment Required"})
    message, _ = failed_run(make_tap(), capsys)
    assert message.startswith("Mixpanel answered 402 Payment Required")
    assert "\n" not in message


SYNC_OFF = "connectors:\n  mixpanel:\n    sync:\n      profiles: false\n"


@pytest.mark.parametrize(
    ("yaml", "reason"),
    [
        (SYNC_OFF, "connectors.mixpanel.sync.profiles is false"),
        ("connectors:\n  mixpanel:\n    enabled: false\n", "connectors.mixpanel.enabled is false"),
    ],
)
@respx.mock
def test_the_mapping_can_turn_the_stream_off(yaml, reason, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    mapping = tmp_path / "off.yml"
    mapping.write_text(yaml)
    route = respx.post(ENGAGE).respond(200, json={"results": []})
    records, _ = run(make_tap(mapping_file=str(mapping)), capsys)
    assert records == []
    assert route.call_count == 0
    assert f"Skipping the profiles stream: {reason}" in caplog.text


# Catalog and settings


def test_discovery_lists_the_profiles_stream_and_its_setting(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--discover", "--config", str(config)])
    assert result.exit_code == 0, result.output
    streams = {s["tap_stream_id"]: s for s in json.loads(result.stdout)["streams"]}
    profiles = streams["profiles"]
    assert profiles["key_properties"] == ["distinct_id"]
    assert profiles["replication_key"] == "last_seen"
    assert set(profiles["schema"]["properties"]) == {
        "distinct_id",
        "last_seen",
        "properties",
        "full_refresh_id",
    }
    setting = TapMixpanelTajo.config_jsonschema["properties"]["profiles_full_refresh_days"]
    assert setting["default"] == 7
    assert setting["title"]
    assert setting["description"]


# Against the sandbox's Mixpanel


pytestmark = pytest.mark.sandbox(now=SANDBOX_NOW, profiles=1500, events=10, days=1)


def sandbox_tap(sandbox: SandboxServer, state: dict | None = None) -> TapMixpanelTajo:
    return make_tap(
        state=state,
        base_url=f"{sandbox.url}/mixpanel",
        service_account_username="sandbox-user",
        service_account_secret="sandbox-secret",
        mapping_file=str(MAPPING_FILE),
    )


def test_every_sandbox_profile_arrives_once_with_only_the_asked_properties(sandbox, capsys):
    records, _ = run(sandbox_tap(sandbox), capsys)

    seeded = http.get(f"{sandbox.url}/_sandbox/health").json()["profiles"]
    assert len(records) == seeded == 1500  # two pages
    assert len({r["distinct_id"] for r in records}) == 1500
    asked = set(load_mapping(MAPPING_FILE).property_mapping) | {
        *CONTACT_PROFILE_PROPERTIES,
        "$last_seen",
    }
    assert all(set(r["properties"]) <= asked for r in records)


def test_an_incremental_sandbox_run_returns_the_profile_seen_since(sandbox, capsys):
    first, states = run(sandbox_tap(sandbox), capsys)
    bookmark = states[-1]["bookmarks"]["profiles"]["replication_key_value"]
    changed = next(r for r in first if r["last_seen"] and r["last_seen"] < bookmark)
    seen = (parse_utc(bookmark) + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    http.post(
        f"{sandbox.url}/_sandbox/mixpanel/profiles",
        json={
            "profiles": [
                {
                    "$distinct_id": changed["distinct_id"],
                    "$properties": {"$last_seen": seen, "plan": "enterprise"},
                }
            ]
        },
    ).raise_for_status()

    second, states = run(sandbox_tap(sandbox, state=states[-1]), capsys)

    # ">=" re-reads the bookmark's own second; everything newer is the changed profile.
    newer = [r for r in second if r["last_seen"] > bookmark]
    assert [r["distinct_id"] for r in newer] == [changed["distinct_id"]]
    assert newer[0]["properties"]["plan"] == "enterprise"
    assert newer[0]["full_refresh_id"] is None
    assert all(r["last_seen"] == bookmark for r in second if r not in newer)
    assert states[-1]["bookmarks"]["profiles"]["replication_key_value"] == parse_utc(
        seen
    ).isoformat(timespec="microseconds")


def test_a_sandbox_session_failing_mid_paging_is_read_again_from_page_0(sandbox, capsys):
    http.post(
        f"{sandbox.url}/_sandbox/faults",
        json={
            "api": "mixpanel",
            "path": "/api/query/engage",
            "kind": "status",
            "status": 503,
            "after": 1,  # page 0 passes, page 1 fails on its try and its retry
            "times": 2,
        },
    ).raise_for_status()

    records, states = run(sandbox_tap(sandbox), capsys)

    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    engage = [c["status"] for c in calls if c["path"] == "/api/query/engage"]
    assert engage == [200, 503, 503, 200, 200]  # page 0, page 1 twice, then both again
    assert len({r["distinct_id"] for r in records}) == 1500
    assert states[-1]["bookmarks"]["profiles"]["last_full_refresh"] == records[0]["full_refresh_id"]


@respx.mock
def test_the_properties_lookup_tables_enrich_profiles_by_are_asked_for(capsys, tmp_path):
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(
        "property_mapping: {$email: email}\n"
        "lookup_enrichment:\n"
        "  - {property: plan_id, table: Plans, attributes: {name: PLAN_NAME}}\n"
        "  - {property: country, table: Countries, attributes: {label: C}, apply_to: [events]}\n"
    )
    route = respx.post(ENGAGE).mock(return_value=page(0, []))
    run(make_tap(mapping_file=str(mapping)), capsys)

    asked = json.loads(form(route.calls.last)["output_properties"])
    assert "plan_id" in asked
    assert "country" not in asked  # looked up on events only

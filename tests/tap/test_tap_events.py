"""The tap and its events stream: settings, windows, pushdown, records, state and the CLI."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
import respx
from click.testing import CliRunner

from mixpanel_brevo_mapping import IDENTITY_EVENTS, load_mapping
from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.dates import day_windows, epoch_text, epoch_to_utc, utc_iso
from tap_mixpanel_tajo.streams.export_records import ExportLine, line_record, to_record
from tap_mixpanel_tajo.tap import TapMixpanelTajo

ROOT = Path(__file__).resolve().parents[2]
EXPORT_SAMPLE = ROOT / "tests" / "data" / "events_export.jsonl"
SEED_MAPPING = ROOT / "mappings" / "mixpanel-to-brevo.yml"
BASE = "http://mixpanel.test"
EXPORT = f"{BASE}/api/2.0/export"
SECRET = "sa-SECRET-value-42"
TODAY = dt.datetime.now(dt.timezone.utc).date()

CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": SECRET,
    "start_date": "2024-03-01T00:00:00Z",
    "end_date": "2024-03-02T00:00:00Z",
}


def make_tap(state: dict | None = None, **overrides) -> TapMixpanelTajo:
    config = {**CONFIG, **overrides}
    config = {key: value for key, value in config.items() if value is not None}
    tap = TapMixpanelTajo(config=config, state=state or {}, parse_env_config=False)
    for name in ("lookup_tables", "profiles", "cohorts", "cohort_members"):  # events only
        tap.streams[name].selected = False
    return tap


def ev(event: str, insert_id: str | None, time: float = 1709251200, **props) -> bytes:
    properties = {"time": time, "distinct_id": "u1", **props}
    if insert_id is not None:
        properties["$insert_id"] = insert_id
    return json.dumps({"event": event, "properties": properties}).encode() + b"\n"


def run(tap: TapMixpanelTajo, capsys) -> tuple[list[dict], list[dict]]:
    """Sync and return (records, state messages) from stdout."""
    tap.sync_all()
    messages = [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states


# Windows


def plan(tap: TapMixpanelTajo, today: dt.date | None = None) -> list[tuple[dt.date, dt.date]]:
    """The windows the events stream would export (as at the start of a sync)."""
    stream = tap.streams["events"]
    stream._write_starting_replication_value(None)  # what Stream.sync does first
    return stream.windows(None, today=today)


def test_day_windows_are_inclusive_and_never_overlap():
    windows = day_windows(dt.date(2024, 1, 30), dt.date(2024, 2, 2))
    assert windows == [
        (dt.date(2024, 1, 30), dt.date(2024, 1, 30)),
        (dt.date(2024, 1, 31), dt.date(2024, 1, 31)),
        (dt.date(2024, 2, 1), dt.date(2024, 2, 1)),
        (dt.date(2024, 2, 2), dt.date(2024, 2, 2)),
    ]


def test_multi_day_windows_tile_the_range():
    windows = day_windows(dt.date(2024, 1, 1), dt.date(2024, 1, 8), days=3)
    assert windows == [
        (dt.date(2024, 1, 1), dt.date(2024, 1, 3)),
        (dt.date(2024, 1, 4), dt.date(2024, 1, 6)),
        (dt.date(2024, 1, 7), dt.date(2024, 1, 8)),
    ]
    assert day_windows(dt.date(2024, 1, 2), dt.date(2024, 1, 1)) == []


def test_windows_run_from_start_date_to_end_date():
    assert plan(make_tap(), today=dt.date(2024, 6, 1)) == [
        (dt.date(2024, 3, 1), dt.date(2024, 3, 1)),
        (dt.date(2024, 3, 2), dt.date(2024, 3, 2)),
    ]


def test_windows_end_is_clamped_to_today():
    windows = plan(make_tap(end_date="2030-01-01T00:00:00Z"), today=dt.date(2024, 3, 3))
    assert windows[-1] == (dt.date(2024, 3, 3), dt.date(2024, 3, 3))
    assert plan(make_tap(end_date=None), today=dt.date(2024, 3, 2))[-1][1] == dt.date(2024, 3, 2)


def test_windows_today_is_in_the_project_timezone():
    tap = make_tap(end_date=None, project_timezone="Pacific/Kiritimati")
    kiritimati_today = dt.datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert plan(tap)[-1][1] == kiritimati_today


def bookmark_state(value: str) -> dict:
    return {"bookmarks": {"events": {"replication_key": "time", "replication_key_value": value}}}


def test_windows_reread_lookback_days_before_the_bookmark():
    tap = make_tap(state=bookmark_state("2024-03-20T10:00:00+00:00"), end_date=None)
    windows = plan(tap, today=dt.date(2024, 3, 22))
    assert windows[0] == (dt.date(2024, 3, 15), dt.date(2024, 3, 15))  # 5 days of lookback
    assert windows[-1] == (dt.date(2024, 3, 22), dt.date(2024, 3, 22))
    assert len(windows) == 8


def test_lookback_never_goes_before_start_date():
    tap = make_tap(state=bookmark_state("2024-03-02T10:00:00+00:00"), end_date=None)
    windows = plan(tap, today=dt.date(2024, 3, 4))
    assert windows[0][0] == dt.date(2024, 3, 1)


def test_custom_lookback_and_window_size():
    tap = make_tap(
        state=bookmark_state("2024-03-20T10:00:00+00:00"),
        end_date=None,
        lookback_days=2,
        window_days=7,
    )
    windows = plan(tap, today=dt.date(2024, 3, 30))
    assert windows == [
        (dt.date(2024, 3, 18), dt.date(2024, 3, 24)),
        (dt.date(2024, 3, 25), dt.date(2024, 3, 30)),
    ]


# Record shape


def test_record_lifts_common_fields_and_keeps_properties():
    raw = {
        "event": "Purchase",
        "properties": {
            "time": 1709251200,
            "distinct_id": "user-1",
            "$insert_id": "abc",
            "$device_id": "dev-9",
            "$user_id": "user-1",
            "mp_processing_time_ms": 1709251201234,
            "$browser": "Chrome",
            "browser": "not-the-same",
        },
    }
    record = to_record(raw, None)
    assert record == {
        "event": "Purchase",
        "time": "2024-03-01T00:00:00.000000+00:00",
        "distinct_id": "user-1",
        "insert_id": "abc",
        "device_id": "dev-9",
        "user_id": "user-1",
        "mp_processing_time_ms": 1709251201234,
        "properties": raw["properties"],
    }


def test_an_export_line_is_the_record_of_its_decoded_event():
    """The sync reads lines with ``properties`` left encoded; the record is the same."""
    for raw_line in EXPORT_SAMPLE.read_bytes().splitlines():
        for tz in (None, ZoneInfo("America/Los_Angeles")):
            record = line_record(msgspec.json.decode(raw_line, type=ExportLine), tz)
            record["properties"] = json.loads(bytes(record["properties"]))
            assert record == to_record(json.loads(raw_line), tz)


@pytest.mark.parametrize(
    "value",
    [0, 59, 60, 1709251199, 1709251200, 1709313402, 99_999_999_999, 1709313402.5, 1709251200123],
)
@pytest.mark.parametrize("tz", [None, ZoneInfo("UTC"), ZoneInfo("Europe/Paris")])
def test_the_time_text_is_the_utc_iso_form_of_the_time(value, tz):
    assert epoch_text(value, tz) == utc_iso(epoch_to_utc(value, tz))


@pytest.mark.parametrize("value", [None, True, "1709251200", [1709251200]])
def test_a_value_that_is_not_a_time_has_no_text(value):
    assert epoch_text(value, None) is None


def test_time_in_milliseconds_is_detected():
    assert epoch_to_utc(1709251200123, None) == dt.datetime(
        2024, 3, 1, 0, 0, 0, 123000, tzinfo=dt.timezone.utc
    )
    assert epoch_to_utc(1709251200, None) == dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    assert epoch_to_utc(None, None) is None


def test_project_local_time_is_converted_to_utc():
    # 2024-07-01 12:00 wall clock in Los Angeles (PDT, UTC-7) stored as a "local epoch".
    local_epoch = dt.datetime(2024, 7, 1, 12, tzinfo=dt.timezone.utc).timestamp()
    utc = epoch_to_utc(local_epoch, ZoneInfo("America/Los_Angeles"))
    assert utc == dt.datetime(2024, 7, 1, 19, tzinfo=dt.timezone.utc)


# Sync


def events_states(messages: list[dict]) -> list[dict]:
    return [m["value"]["bookmarks"]["events"] for m in messages if m["type"] == "STATE"]


def written(capsys) -> list[dict]:
    return [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]


def window_dates(route: respx.Route) -> list[str]:
    return [call.request.url.params["from_date"] for call in route.calls]


@respx.mock
def test_sync_emits_records_one_request_per_day_and_a_final_bookmark(capsys):
    route = respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(
                200, content=ev("A", "1", time=1709251200) + ev("B", "2", time=1709254800)
            ),
            httpx.Response(200, content=ev("C", "3", time=1709337600)),
        ]
    )
    records, states = run(make_tap(), capsys)
    assert [r["event"] for r in records] == ["A", "B", "C"]
    params = [call.request.url.params for call in route.calls]
    assert [(p["from_date"], p["to_date"]) for p in params] == [
        ("2024-03-01", "2024-03-01"),
        ("2024-03-02", "2024-03-02"),
    ]
    assert all(p["project_id"] == "12345" for p in params)
    # The end of the last window (exclusive), not the newest event's time.
    assert states[-1]["bookmarks"]["events"] == {
        "replication_key": "time",
        "replication_key_value": "2024-03-03T00:00:00.000000+00:00",
    }


@respx.mock
def test_a_state_follows_each_window_once_its_records_are_written(capsys):
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, content=ev("A", "1", time=1709251200)),
            httpx.Response(200, content=ev("C", "3", time=1709337600)),
        ]
    )
    make_tap().sync_all()

    kinds = [
        m["record"]["event"] if m["type"] == "RECORD" else m["type"]
        for m in written(capsys)
        if m["type"] in {"RECORD", "STATE"}
    ]
    assert kinds[:4] == ["A", "STATE", "C", "STATE"]
    assert set(kinds[4:]) <= {"STATE"}


@respx.mock
def test_a_rerun_after_a_failure_starts_at_the_first_unfinished_window(capsys):
    failing = {"2024-03-03"}
    route = respx.get(EXPORT).mock(
        side_effect=lambda request: httpx.Response(
            401 if request.url.params["from_date"] in failing else 200,
            content=ev("A", request.url.params["from_date"]),
        )
    )
    config = {"end_date": "2024-03-04T00:00:00Z"}
    with pytest.raises(MixpanelError):
        make_tap(**config).sync_all()
    interrupted = written(capsys)

    assert window_dates(route) == ["2024-03-01", "2024-03-02", "2024-03-03"]
    last = events_states(interrupted)[-1]
    assert last["replication_key_value"] == "2024-03-03T00:00:00.000000+00:00"
    assert last["resume_from"] == "2024-03-03"

    failing.clear()
    route.reset()
    _, states = run(make_tap(state=interrupted[-1]["value"], **config), capsys)

    assert window_dates(route) == ["2024-03-03", "2024-03-04"]  # no second lookback
    assert states[-1]["bookmarks"]["events"] == {
        "replication_key": "time",
        "replication_key_value": "2024-03-05T00:00:00.000000+00:00",
    }


@respx.mock
def test_an_interrupted_run_whose_next_window_is_past_end_date_is_over(capsys):
    route = respx.get(EXPORT).respond(200, content=b"")
    state = bookmark_state("2024-03-03T00:00:00.000000+00:00")
    state["bookmarks"]["events"]["resume_from"] = "2024-03-03"

    _, states = run(make_tap(state=state), capsys)  # end_date 2024-03-02

    assert route.call_count == 0
    assert "resume_from" not in states[-1]["bookmarks"]["events"]


@respx.mock
def test_a_run_after_a_complete_one_rereads_the_lookback_and_never_moves_the_bookmark_back(
    capsys,
):
    route = respx.get(EXPORT).mock(
        side_effect=lambda request: httpx.Response(
            200,
            content=ev("late", "x", time=1710547200)  # 2024-03-16: a late event
            if request.url.params["from_date"] == "2024-03-16"
            else b"",
        )
    )
    tap = make_tap(
        state=bookmark_state("2024-03-20T10:00:00.000000+00:00"),
        end_date="2024-03-21T00:00:00Z",
    )
    records, states = run(tap, capsys)
    dates = window_dates(route)
    assert [call.request.url.params["to_date"] for call in route.calls] == dates
    assert dates == [f"2024-03-{day}" for day in range(15, 22)]
    assert [r["event"] for r in records] == ["late"]
    bookmarks = [s["bookmarks"]["events"]["replication_key_value"] for s in states]
    # The lookback's windows (15th to 19th) end before the bookmark: it stays put, then moves on.
    assert list(dict.fromkeys(bookmarks)) == [
        "2024-03-20T10:00:00.000000+00:00",
        "2024-03-21T00:00:00.000000+00:00",
        "2024-03-22T00:00:00.000000+00:00",
    ]
    assert states[-1]["bookmarks"]["events"].keys() == {"replication_key", "replication_key_value"}


@respx.mock
def test_records_never_move_a_bookmark(capsys):
    # Out of order, and one dated past its window (a pre-2023 project's local time can be):
    # the bookmarks are window ends only, and the SDK never holds progress markers.
    respx.get(EXPORT).respond(
        200, content=ev("late", "1", time=1709600000) + ev("early", "2", time=1709251300)
    )
    make_tap(end_date="2024-03-01T00:00:00Z").sync_all()

    states = events_states(written(capsys))
    assert {s["replication_key_value"] for s in states} == {"2024-03-02T00:00:00.000000+00:00"}
    assert "progress_markers" not in json.dumps(states)


@respx.mock
def test_todays_window_moves_the_bookmark_only_to_the_start_of_the_run(capsys):
    route = respx.get(EXPORT).respond(200, content=b"")
    today = f"{TODAY.isoformat()}T00:00:00Z"
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)  # the SDK keeps ms

    _, states = run(make_tap(start_date=today, end_date=None), capsys)
    bookmark = dt.datetime.fromisoformat(states[-1]["bookmarks"]["events"]["replication_key_value"])

    assert started <= bookmark <= dt.datetime.now(dt.timezone.utc)
    route.reset()
    run(make_tap(state=states[-1], start_date=today, end_date=None, lookback_days=0), capsys)
    assert window_dates(route) == [TODAY.isoformat()]  # the rest of today is read next time


@respx.mock
def test_mapped_event_names_are_pushed_down(capsys):
    route = respx.get(EXPORT).respond(200, content=b"")
    run(make_tap(mapping_file=str(SEED_MAPPING)), capsys)
    pushed = json.loads(route.calls.last.request.url.params["event"])
    # The mapped events, and the identity events the target learns ID merges from.
    assert pushed == sorted({*load_mapping(SEED_MAPPING).event_mapping, *IDENTITY_EVENTS})


@respx.mock
def test_credentials_fall_back_to_the_seed_mapping(capsys, tmp_path):
    route = respx.get(EXPORT).respond(200, content=b"")
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(SEED_MAPPING.read_text().replace("your-service-account", "sa"))
    tap = make_tap(
        mapping_file=str(mapping),
        project_id=None,
        service_account_username=None,
        service_account_secret=None,
    )
    run(tap, capsys)
    request = route.calls.last.request
    pair = "sa-username:sa-secret"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(pair.encode()).decode()
    assert request.url.params["project_id"] == "12345"


def test_data_residency_falls_back_to_the_mapping(tmp_path):
    mapping = tmp_path / "eu.yml"
    mapping.write_text("connectors:\n  mixpanel:\n    project_id: 777\n    data_residency: eu\n")
    tap = make_tap(base_url=None, project_id=None, mapping_file=str(mapping))
    assert tap.client.export_url == "https://data-eu.mixpanel.com/api/2.0/export"
    assert tap.client.credentials.project_id == "777"
    tap = make_tap(base_url=None, mapping_file=str(mapping), data_residency="IN")
    assert tap.client.export_url == "https://data-in.mixpanel.com/api/2.0/export"


@respx.mock
def test_terminated_early_retries_the_window_without_duplicates(capsys, no_sleep):
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, content=ev("A", "1") + ev("B", "2") + b"terminated early\n"),
            httpx.Response(200, content=ev("A", "1") + ev("B", "2") + ev("C", "3")),
        ]
    )
    records, _ = run(make_tap(end_date="2024-03-01T00:00:00Z"), capsys)
    assert [r["insert_id"] for r in records] == ["1", "2", "3"]
    assert len(no_sleep) == 1


@respx.mock
def test_mid_stream_drop_retries_the_window_without_duplicates(capsys):
    class Dropped(httpx.SyncByteStream):
        def __iter__(self):
            yield ev("A", "1")
            yield b'{"event": "B", "properties": {"ti'
            raise httpx.ReadError("connection reset")

    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, stream=Dropped()),
            httpx.Response(200, content=ev("A", "1") + ev("B", "2")),
        ]
    )
    records, _ = run(make_tap(end_date="2024-03-01T00:00:00Z"), capsys)
    assert [r["insert_id"] for r in records] == ["1", "2"]


@respx.mock
def test_exact_duplicates_in_a_window_are_dropped(capsys, caplog):
    caplog.set_level(logging.INFO)
    body = ev("A", "1") + ev("A", "1") + ev("B", "1") + ev("A", "1", distinct_id="u2")
    respx.get(EXPORT).respond(200, content=body)
    records, _ = run(make_tap(end_date="2024-03-01T00:00:00Z"), capsys)
    # Same insert_id but another event or distinct_id is not Mixpanel's duplicate.
    assert [(r["event"], r["distinct_id"]) for r in records] == [
        ("A", "u1"),
        ("B", "u1"),
        ("A", "u2"),
    ]
    assert "events 2024-03-01..2024-03-01: 3 records, 1 duplicates dropped" in caplog.text
    assert "API calls so far" in caplog.text


@respx.mock
def test_events_stream_is_skipped_when_the_mapping_turns_it_off(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    mapping = tmp_path / "off.yml"
    mapping.write_text("connectors:\n  mixpanel:\n    sync:\n      events: false\n")
    route = respx.get(EXPORT).respond(200, content=ev("A", "1"))
    records, _ = run(make_tap(mapping_file=str(mapping)), capsys)
    assert records == []
    assert route.call_count == 0
    assert "connectors.mixpanel.sync.events is false" in caplog.text


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "tap-mixpanel-tajo: Mixpanel rejected the credentials (HTTP 401)"),
        (402, "tap-mixpanel-tajo: Mixpanel answered 402 Payment Required"),
    ],
)
@respx.mock
def test_fatal_errors_end_with_one_line_and_no_secret(status, expected, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    respx.route().respond(status, text=f"nope {SECRET}")  # every stream's first call
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--config", str(config)])
    assert isinstance(result.exception, SystemExit)
    message = str(result.exception.code)
    assert message.startswith(expected)
    assert "\n" not in message
    assert SECRET not in message
    assert SECRET not in caplog.text
    assert SECRET not in result.output


@respx.mock
def test_a_fatal_error_stops_the_sync_as_a_mixpanel_error(capsys):
    respx.get(EXPORT).respond(401, text="nope")
    with pytest.raises(MixpanelError, match=r"^Mixpanel rejected the credentials \(HTTP 401\)"):
        make_tap().sync_all()
    assert '"type":"RECORD"' not in capsys.readouterr().out.replace(" ", "")


@respx.mock
def test_rate_limit_via_the_tap_honours_retry_after(capsys, no_sleep):
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "11"}),
            httpx.Response(200, content=ev("A", "1")),
        ]
    )
    records, _ = run(make_tap(end_date="2024-03-01T00:00:00Z"), capsys)
    assert len(records) == 1
    assert no_sleep == [11]


# Settings validation


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"service_account_username": None, "service_account_secret": None},
            "tap-mixpanel-tajo: no Mixpanel credentials",
        ),
        ({"project_id": None}, "tap-mixpanel-tajo: project_id is not set"),
        ({"service_account_secret": None}, "service_account_secret is not set"),
        ({"project_timezone": "Mars/Olympus"}, "project_timezone 'Mars/Olympus' is not an IANA"),
        ({"start_date": "2025-01-01T00:00:00Z"}, "is after end_date"),
    ],
)
def test_invalid_settings_end_with_one_line(overrides, expected):
    with pytest.raises(SystemExit) as info:
        make_tap(**overrides)
    assert expected in str(info.value.code)
    assert "\n" not in str(info.value.code)


def test_broken_mapping_file_is_a_one_line_error(tmp_path):
    mapping = tmp_path / "bad.yml"
    mapping.write_text("connectors:\n  mixpanel:\n    sink: 1\n")
    with pytest.raises(SystemExit) as info:
        make_tap(mapping_file=str(mapping))
    assert str(info.value.code).startswith("tap-mixpanel-tajo: ")
    assert "bad.yml:3:" in str(info.value.code)


def test_legacy_secret_needs_no_project_id():
    tap = make_tap(
        project_id=None,
        service_account_username=None,
        service_account_secret=None,
        api_secret="legacy",
    )
    assert tap.client.credentials.mode == "api_secret"


# CLI


def test_cli_about_json_lists_the_settings():
    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--about", "--format", "json"])
    assert result.exit_code == 0, result.output
    about = json.loads(result.stdout)
    assert about["name"] == "tap-mixpanel-tajo"
    assert about["version"] != "[could not be detected]"
    settings = about["settings"]["properties"]
    for name in (
        "base_url",
        "project_id",
        "service_account_username",
        "service_account_secret",
        "api_secret",
        "oauth_token",
        "data_residency",
        "start_date",
        "end_date",
        "lookback_days",
        "mapping_file",
        "project_timezone",
        "max_retries",
        "max_retry_wait_seconds",
    ):
        assert name in settings
        assert settings[name].get("title")
        assert settings[name].get("description")
    for name in ("service_account_secret", "api_secret", "oauth_token"):
        assert settings[name]["secret"] is True
    assert settings["lookback_days"]["default"] == 5


def test_cli_discover_works_without_credentials(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--discover", "--config", str(config)])
    assert result.exit_code == 0, result.output
    catalog = json.loads(result.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {
        "lookup_tables",
        "events",
        "profiles",
        "cohorts",
        "cohort_members",
        "groups",
        "sync_checkpoints",
        "insights",
        "funnels",
        "segmentation",
        "retention",
        "annotations",
    }
    assert streams["sync_checkpoints"]["key_properties"] == ["stream", "id"]
    stream = streams["events"]
    assert stream["tap_stream_id"] == "events"
    assert stream["key_properties"] == ["insert_id"]
    assert stream["replication_key"] == "time"
    assert set(stream["schema"]["properties"]) == {
        "event",
        "time",
        "distinct_id",
        "insert_id",
        "device_id",
        "user_id",
        "mp_processing_time_ms",
        "properties",
    }

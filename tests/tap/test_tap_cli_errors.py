"""The tap's command line ends in one line, never a traceback: bad --config files, bad bytes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import respx
from click.testing import CliRunner

from tap_mixpanel_tajo.tap import TapMixpanelTajo

BASE = "http://mixpanel.test"
CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "start_date": "2024-03-01T00:00:00Z",
    "end_date": "2024-03-01T00:00:00Z",
}


def tap_command(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tap_mixpanel_tajo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "tap-mixpanel-tajo: --config settings.json: no such file"),
        ("{not json", "tap-mixpanel-tajo: --config settings.json: not valid JSON at line 1"),
        ('["a list"]', "tap-mixpanel-tajo: --config settings.json: holds a JSON list"),
        (b"\xff\xfe{}", "tap-mixpanel-tajo: --config settings.json: not UTF-8 text"),
    ],
    ids=["missing", "not-json", "not-an-object", "not-utf8"],
)
def test_an_unusable_config_file_ends_in_one_line(tmp_path, content, expected):
    settings = tmp_path / "settings.json"
    if isinstance(content, str):
        settings.write_text(content)
    elif content is not None:
        settings.write_bytes(content)

    result = tap_command("--config", "settings.json", "--discover", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_config_directory_ends_in_one_line(tmp_path):
    result = tap_command("--config", str(tmp_path), "--discover", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stderr.strip() == (
        f"tap-mixpanel-tajo: --config {tmp_path}: cannot read it (Is a directory); "
        "check the path and permissions"
    )


@respx.mock
def test_export_lines_that_are_not_utf8_are_skipped_and_counted(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    good = json.dumps({"event": "A", "properties": {"time": 1709294400, "$insert_id": "1"}})
    bad = b'{"event": "B", "properties": {"name": "Andr\xe9", "$insert_id": "2"}}'
    body = good.encode() + b"\n" + bad + b"\n" + b"\xff\xfe\n" + good.replace('"1"', '"3"').encode()
    respx.get(f"{BASE}/api/2.0/export").respond(200, content=body)
    respx.post(f"{BASE}/api/query/cohorts/list").respond(200, json=[])
    respx.get(f"{BASE}/lookup-tables").respond(200, json={"code": 200, "results": []})
    respx.post(f"{BASE}/api/query/engage").respond(200, json={"results": [], "page": 0})
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))

    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--config", str(config)])

    assert result.exit_code == 0, result.output
    records = [
        json.loads(row)["record"]
        for row in result.stdout.splitlines()
        if '"RECORD"' in row and '"events"' in row
    ]
    assert [r["insert_id"] for r in records] == ["1", "3"]
    skipped = [r.getMessage() for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert skipped == [
        "export 2024-03-01..2024-03-01: skipped 2 line(s) that are not UTF-8 text "
        "(Mixpanel exports UTF-8 JSON)"
    ]
    assert "Traceback" not in result.output + caplog.text


def test_every_mapping_file_mistake_is_one_line_prefixed_with_the_tap(tmp_path):
    """Issue 17: only the first mistake of a mapping file was shown."""
    (tmp_path / "mapping.yml").write_text(
        'event_mapping:\n  "Purchase": "order completed"\nproperty_mapping:\n  plan: PLAN TYPE\n'
    )
    (tmp_path / "settings.json").write_text(json.dumps(CONFIG | {"mapping_file": "mapping.yml"}))

    result = tap_command("--config", "settings.json", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()[-2:]
    assert lines[0].startswith("tap-mixpanel-tajo: mapping.yml:2: event_mapping.Purchase: ")
    assert lines[1].startswith("tap-mixpanel-tajo: mapping.yml:4: property_mapping.plan: ")


def one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    """The run failed with ``expected`` as its last stderr line, no traceback, no output."""
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr[-2000:]


def test_a_setting_variable_that_is_not_a_number_ends_in_one_line(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_MIXPANEL_TAJO")},
        "TAP_MIXPANEL_TAJO_BASE_URL": "http://127.0.0.1:9",
        "TAP_MIXPANEL_TAJO_API_SECRET": "x-secret",
        "TAP_MIXPANEL_TAJO_LOOKBACK_DAYS": "abc",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tap_mixpanel_tajo", "--config", "ENV"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    one_line_error(
        result,
        "tap-mixpanel-tajo: TAP_MIXPANEL_TAJO_LOOKBACK_DAYS='abc' is not a whole number: "
        "set lookback_days to e.g. 5",
    )


@pytest.mark.parametrize(
    ("option", "content", "expected"),
    [
        ("--catalog", "{not json", "--catalog input.json: not valid JSON at line 1"),
        ("--catalog", "[]", "--catalog input.json: holds a JSON array, not an object"),
        ("--catalog", '{"streams": 3}', "--catalog input.json: has no list of streams"),
        ("--state", "{not json", "--state input.json: not valid JSON at line 1"),
        ("--state", '"a text"', "--state input.json: holds a JSON str, not an object"),
    ],
    ids=["catalog-not-json", "catalog-array", "catalog-no-streams", "state-not-json", "state-str"],
)
def test_a_catalog_or_state_that_is_not_a_json_object_ends_in_one_line(
    tmp_path, option, content, expected
):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "input.json").write_text(content)

    result = tap_command("--config", "config.json", option, "input.json", cwd=tmp_path)

    one_line_error(result, f"tap-mixpanel-tajo: {expected}")


@pytest.mark.parametrize(
    ("stream_state", "expected"),
    [
        (
            {"events": {"replication_key": "time", "resume_from": "garbage"}},
            "state bookmarks.events.resume_from is 'garbage', not a day (YYYY-MM-DD)",
        ),
        (
            {"events": {"replication_key": "time", "replication_key_value": "last tuesday"}},
            "state bookmarks.events.replication_key_value is 'last tuesday', not a date-time",
        ),
        (
            {"profiles": {"replication_key": "last_seen", "last_full_refresh": 17}},
            "state bookmarks.profiles.last_full_refresh is 17, not a date-time",
        ),
        (
            {"groups": {"partitions": [{"context": {}, "replication_key_value": "x"}]}},
            "state bookmarks.groups.partitions[0].replication_key_value is 'x', not a date-time",
        ),
    ],
    ids=["resume-from", "events-bookmark", "full-refresh", "partition-bookmark"],
)
def test_a_state_whose_bookmark_is_not_a_date_ends_in_one_line(tmp_path, stream_state, expected):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "state.json").write_text(json.dumps({"bookmarks": stream_state}))

    result = tap_command("--config", "config.json", "--state", "state.json", cwd=tmp_path)

    one_line_error(result, f"tap-mixpanel-tajo: {expected}; correct or remove it")


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("lookback_days", -3, "-3 is less than the minimum of 0 in config['lookback_days']"),
        ("window_days", 0, "0 is less than the minimum of 1 in config['window_days']"),
        ("max_backfill_days", 0, "0 is less than the minimum of 1 in config['max_backfill_days']"),
    ],
)
def test_a_day_count_out_of_its_bounds_ends_in_one_line(tmp_path, setting, value, expected):
    (tmp_path / "config.json").write_text(json.dumps({**CONFIG, setting: value}))

    result = tap_command("--config", "config.json", cwd=tmp_path)

    one_line_error(result, f"tap-mixpanel-tajo: invalid configuration: {expected}")


def test_about_documents_the_bounds_of_the_day_counts(tmp_path):
    about = tap_command("--about", "--format=json", cwd=tmp_path)
    settings = json.loads(about.stdout)["settings"]["properties"]

    assert settings["lookback_days"]["minimum"] == 0
    assert settings["window_days"]["minimum"] == 1
    assert settings["max_backfill_days"] == {
        **settings["max_backfill_days"],
        "minimum": 1,
        "default": 90,
    }


def test_a_run_reading_more_than_max_backfill_days_refuses_and_says_how_to_backfill(tmp_path):
    """Issue 17: a start_date typo ran 294 export windows against a budget of 60 an hour."""
    config = {**CONFIG, "start_date": "2026-01-13", "end_date": "2026-11-02"}
    (tmp_path / "config.json").write_text(json.dumps(config))

    result = tap_command("--config", "config.json", cwd=tmp_path)

    one_line_error(
        result,
        "tap-mixpanel-tajo: events: this run would read 294 days of history "
        "(2026-01-13..2026-11-02, 294 export calls), more than max_backfill_days (90); check "
        "start_date, then read the range with `make backfill START=2026-01-13 END=2026-11-02` "
        "(a state of its own, no limit), or raise max_backfill_days for this run",
    )


def test_a_run_whose_bookmark_is_months_old_refuses_and_says_how_to_catch_up(tmp_path):
    config = {**CONFIG, "start_date": "2026-01-01", "end_date": "2026-11-02"}
    bookmark = {"replication_key": "time", "replication_key_value": "2026-05-01T00:00:00+00:00"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "state.json").write_text(json.dumps({"bookmarks": {"events": bookmark}}))

    result = tap_command("--config", "config.json", "--state", "state.json", cwd=tmp_path)

    one_line_error(
        result,
        "tap-mixpanel-tajo: events: this run would read 191 days of history "
        "(2026-04-26..2026-11-02, 191 export calls) from its bookmark, more than "
        "max_backfill_days (90); to catch up, run once with max_backfill_days 191 "
        "(TAP_MIXPANEL_TAJO_MAX_BACKFILL_DAYS=191)",
    )


@respx.mock
def test_a_long_run_goes_ahead_once_max_backfill_days_allows_it(tmp_path):
    route = respx.get(f"{BASE}/api/2.0/export").respond(200, content=b"")
    respx.post(f"{BASE}/api/query/cohorts/list").respond(200, json=[])
    respx.get(f"{BASE}/lookup-tables").respond(200, json={"code": 200, "results": []})
    respx.post(f"{BASE}/api/query/engage").respond(200, json={"results": [], "page": 0})
    config = {
        **CONFIG,
        "start_date": "2024-01-01",
        "end_date": "2024-04-30",
        "window_days": 30,
        "max_backfill_days": 121,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))

    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--config", str(tmp_path / "config.json")])

    assert result.exit_code == 0, result.output
    assert route.call_count == 5  # 121 days in windows of 30


@respx.mock
def test_an_export_line_with_a_lone_surrogate_is_passed_on_with_the_escape_replaced(
    tmp_path, caplog
):
    """Issue 17: one such line failed its day's window on every run."""
    caplog.set_level(logging.INFO)
    lines = [
        rb'{"event": "A", "properties": {"time": 1709294400, "$insert_id": "1"}}',
        rb'{"event": "B\ud800", "properties": {"time": 1709294400, "$insert_id": "2"}}',
        rb'{"event": "C", "properties": {"time": 1709294400, "$insert_id": "3", "distinct_id": '
        rb'"u\udc00x", "name": "\ud83d\ude00 ok"}}',
        rb'{"event": "D", "properties": {"time": 1709294400, "$insert_id": "4", "p": "\\ud800"}}',
    ]
    respx.get(f"{BASE}/api/2.0/export").respond(200, content=b"\n".join(lines))
    respx.post(f"{BASE}/api/query/cohorts/list").respond(200, json=[])
    respx.get(f"{BASE}/lookup-tables").respond(200, json={"code": 200, "results": []})
    respx.post(f"{BASE}/api/query/engage").respond(200, json={"results": [], "page": 0})
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))

    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--config", str(tmp_path / "config.json")])

    assert result.exit_code == 0, result.output
    records = [
        json.loads(row)["record"]
        for row in result.stdout.splitlines()
        if '"RECORD"' in row and '"events"' in row
    ]
    assert [(r["event"], r["distinct_id"]) for r in records] == [
        ("A", None),
        ("B\ufffd", None),
        ("C", "u\ufffdx"),
        ("D", None),
    ]
    assert records[2]["properties"]["name"] == "\U0001f600 ok"  # a valid pair is its character
    assert records[3]["properties"]["p"] == "\\ud800"  # an escaped backslash, not an escape
    repaired = [r.getMessage() for r in caplog.records if "lone UTF-16" in r.getMessage()]
    assert repaired == [
        "export 2024-03-01..2024-03-01: 2 event(s) held a broken \\u escape (a lone UTF-16 "
        "surrogate); passed on with U+FFFD in its place"
    ]


def discovered(tmp_path, config: dict) -> subprocess.CompletedProcess:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(config))
    return tap_command("--config", str(settings), "--discover", cwd=tmp_path)


def test_discovery_does_not_fail_on_a_bad_date_so_meltano_shows_the_syncs_one_line(tmp_path):
    """Meltano discovers before it syncs, and shows a failed discovery as its own traceback."""
    jql = {"name": "buyers", "script": "function main() { return []; }", "primary_keys": ["id"]}
    config = {**CONFIG, "start_date": "2026-13-01", "jql_queries": [jql]}

    discovery = discovered(tmp_path, config)
    sync = tap_command("--config", str(tmp_path / "settings.json"), cwd=tmp_path)

    assert discovery.returncode == 0, discovery.stderr
    streams = [s["tap_stream_id"] for s in json.loads(discovery.stdout)["streams"]]
    assert "events" in streams
    assert "jql_buyers" in streams
    assert sync.returncode != 0
    assert (
        sync.stderr.strip()
        .splitlines()[-1]
        .startswith("tap-mixpanel-tajo: start_date '2026-13-01' is not a date")
    )
    assert "Traceback" not in discovery.stderr + sync.stderr


def test_a_jql_mistake_leaves_the_jql_streams_out_of_discovery_with_one_error_line(tmp_path):
    config = {**CONFIG, "jql_queries": [{"name": "bad name", "script": "x", "primary_keys": ["a"]}]}

    discovery = discovered(tmp_path, config)

    assert discovery.returncode == 0, discovery.stderr
    streams = [s["tap_stream_id"] for s in json.loads(discovery.stdout)["streams"]]
    assert "events" in streams
    assert not any(s.startswith("jql_") for s in streams)
    errors = [line for line in discovery.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert "jql_queries[0].name: 'bad name'" in errors[0]
    assert "Traceback" not in discovery.stderr

"""The ``jql_<name>`` streams: one per configured query, keyed, incremental by placeholders.

Against the sandbox's JQL stand-in (results registered by script text, filtered by the params'
dates; an unregistered script throws; a switch makes JQL unavailable), and respx where one
answer is enough.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx
from click.testing import CliRunner

from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.env_settings import env_setting_problem
from tap_mixpanel_tajo.errors import TapConfigError, TapError
from tap_mixpanel_tajo.settings import CONFIG_SCHEMA, TapSettings
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.tap.report_helpers import (
    CONFIG,
    QUERY,
    last_state,
    make_tap,
    records,
    run,
)

SCRIPT = "function main() { return Events(params).groupByUser(mixpanel.reducer.count()); }"
ROWS = [
    {"distinct_id": "u1", "date": "2026-11-01", "purchases": 3},
    {"distinct_id": "u2", "date": "2026-11-02", "purchases": 4},
    {"distinct_id": "u3", "date": "2026-11-04", "purchases": 5},
]
WINDOW = {"from_date": "{{start_date}}", "to_date": "{{end_date}}"}
BUYERS = {"name": "buyers", "script": SCRIPT, "params": WINDOW, "primary_keys": ["distinct_id"]}


def sandbox_config(sandbox: SandboxServer) -> dict:
    return {
        "base_url": f"{sandbox.url}/mixpanel",
        "service_account_username": "sandbox-user",
        "service_account_secret": "sandbox-secret",
        "max_retries": 0,
    }


def register(sandbox: SandboxServer, script: str, rows: list) -> None:
    answer = http.post(
        f"{sandbox.url}/_sandbox/mixpanel/jql", json={"script": script, "result": rows}
    )
    answer.raise_for_status()


@pytest.fixture
def jql_sandbox(sandbox: SandboxServer):
    """The module's sandbox with ``SCRIPT``'s rows registered and JQL available again after."""
    register(sandbox, SCRIPT, ROWS)
    yield sandbox
    http.post(f"{sandbox.url}/_sandbox/mixpanel/jql-availability", json={"available": True})


def test_a_query_is_a_keyed_stream_of_its_rows_within_the_params_days(jql_sandbox, capsys, caplog):
    caplog.set_level(logging.INFO)
    tap = make_tap({"jql_buyers"}, jql_queries=[BUYERS], **sandbox_config(jql_sandbox))

    written = run(tap, capsys)

    schemas = [m for m in written if m["type"] == "SCHEMA" and m["stream"] == "jql_buyers"]
    assert {tuple(m["key_properties"]) for m in schemas} == {("distinct_id",)}
    assert records(written, "jql_buyers") == ROWS[:2]  # end_date 2026-11-03 filled in
    assert last_state(written)["bookmarks"]["jql_buyers"]["replication_key_value"] == "2026-11-03"
    assert tap.client.budget is not None
    assert tap.client.budget.calls == 1
    notices = [r for r in caplog.records if "maintenance mode" in r.getMessage()]
    assert [n.levelno for n in notices] == [logging.INFO]


def test_the_placeholders_are_filled_from_the_bookmark_on_the_next_run(jql_sandbox, capsys):
    first = run(
        make_tap({"jql_buyers"}, jql_queries=[BUYERS], **sandbox_config(jql_sandbox)), capsys
    )
    tap = make_tap(
        {"jql_buyers"},
        last_state(first),
        jql_queries=[BUYERS],
        end_date="2026-11-05",
        **sandbox_config(jql_sandbox),
    )

    second = run(tap, capsys)

    # From the bookmark's day (2026-11-03, read again) to the new end date.
    assert records(second, "jql_buyers") == ROWS[2:]
    assert last_state(second)["bookmarks"]["jql_buyers"]["replication_key_value"] == "2026-11-05"


def unavailable(sandbox: SandboxServer) -> None:
    answer = http.post(
        f"{sandbox.url}/_sandbox/mixpanel/jql-availability", json={"available": False}
    )
    answer.raise_for_status()


@pytest.mark.parametrize(
    ("script", "available", "said"),
    [
        (SCRIPT, False, "Mixpanel answered that JQL is not available to this project"),
        (SCRIPT + " ", True, "the JQL script threw"),  # unregistered: the sandbox throws
    ],
    ids=["jql-unavailable", "script-error"],
)
def test_a_jql_failure_ends_only_its_stream_in_one_line_and_the_run_fails_at_the_end(
    jql_sandbox, capsys, caplog, script, available, said
):
    if not available:
        unavailable(jql_sandbox)
    broken = {**BUYERS, "name": "broken", "script": script}
    tap = make_tap(
        {"jql_broken", "insights"},
        jql_queries=[broken],
        bookmark_ids=[4101],
        **sandbox_config(jql_sandbox),
    )
    capsys.readouterr()

    with pytest.raises(TapError) as error:
        tap.sync_all()

    written = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records(written, "insights")  # the other stream carried on
    assert records(written, "jql_broken") == []
    (line,) = str(error.value).splitlines()
    assert line.startswith("jql_broken ended early, the other streams were synced: ")
    assert said in line
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert said in errors[0].getMessage()
    assert errors[0].exc_info is None  # one line, no traceback


def test_the_command_line_exits_non_zero_naming_the_stream(jql_sandbox, tmp_path):
    unavailable(jql_sandbox)
    config = {**CONFIG, **sandbox_config(jql_sandbox), "jql_queries": [BUYERS]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    catalog = TapMixpanelTajo(config=config, parse_env_config=False).catalog_dict
    for stream in catalog["streams"]:
        stream["metadata"][-1]["metadata"]["selected"] = stream["stream"] == "jql_buyers"
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))

    result = CliRunner().invoke(
        TapMixpanelTajo.cli,
        ["--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
    )

    assert result.exit_code == 1
    assert "tap-mixpanel-tajo: jql_buyers ended early" in result.output
    assert "Traceback" not in result.output


@respx.mock
def test_a_query_without_placeholders_is_read_whole_and_scalar_rows_are_wrapped(capsys):
    route = respx.post(f"{QUERY}/jql").respond(200, json=[7, [1, 2]])
    query = {"name": "totals", "script": SCRIPT, "primary_keys": ["value"]}
    tap = make_tap({"jql_totals"}, jql_queries=[query])

    written = run(tap, capsys)

    form = dict(httpx.QueryParams(route.calls.last.request.content.decode()))
    assert form == {"script": SCRIPT}  # no params, no dates
    assert records(written, "jql_totals") == [{"value": 7}, {"value": [1, 2]}]
    assert last_state(written)["bookmarks"]["jql_totals"] == {}  # no bookmark: read whole
    assert tap.client.budget is not None
    assert tap.client.budget.calls == 1


@respx.mock
def test_every_window_is_one_call_of_the_query_budget(capsys):
    route = respx.post(f"{QUERY}/jql").respond(200, json=[])
    tap = make_tap({"jql_buyers"}, jql_queries=[BUYERS], start_date="2026-09-01")

    run(tap, capsys)

    sent = [
        json.loads(dict(httpx.QueryParams(c.request.content.decode()))["params"])
        for c in route.calls
    ]
    assert sent == [
        {"from_date": "2026-09-01", "to_date": "2026-09-30"},
        {"from_date": "2026-10-01", "to_date": "2026-10-30"},
        {"from_date": "2026-10-31", "to_date": "2026-11-03"},
    ]
    assert tap.client.budget is not None
    assert tap.client.budget.calls == 3


@respx.mock
def test_without_a_declared_schema_each_answer_that_shows_new_fields_sends_a_wider_schema(capsys):
    respx.post(f"{QUERY}/jql").mock(
        side_effect=[
            httpx.Response(200, json=[{"distinct_id": "u1", "purchases": 3}]),
            httpx.Response(200, json=[{"distinct_id": "u2", "purchases": 4}]),
            httpx.Response(200, json=[{"distinct_id": "u3", "purchases": 5.5, "plan": "pro"}]),
        ]
    )
    tap = make_tap({"jql_buyers"}, jql_queries=[BUYERS], start_date="2026-09-01")

    written = [m for m in run(tap, capsys) if m["type"] in {"SCHEMA", "RECORD"}]

    kinds = [m["type"] if m["type"] == "SCHEMA" else m["record"]["distinct_id"] for m in written]
    assert kinds == ["SCHEMA", "SCHEMA", "u1", "u2", "SCHEMA", "u3"]
    assert written[1]["schema"]["properties"] == {
        "distinct_id": {"type": ["string"]},
        "purchases": {"type": ["integer", "null"]},
    }
    assert written[4]["schema"]["properties"]["purchases"] == {
        "type": ["integer", "null", "number"]
    }
    assert written[4]["schema"]["properties"]["plan"] == {"type": ["null", "string"]}
    assert written[4]["schema"]["additionalProperties"] is True
    assert written[-1]["record"] == {"distinct_id": "u3", "purchases": 5.5, "plan": "pro"}


@respx.mock
def test_a_row_without_its_primary_key_ends_the_stream(capsys):
    respx.post(f"{QUERY}/jql").respond(200, json=[{"distinct_id": "u1"}, {"purchases": 2}])

    with pytest.raises(TapError, match=r"row 1 has no distinct_id \(primary_keys\)"):
        run(make_tap({"jql_buyers"}, jql_queries=[BUYERS]), capsys)


def test_a_declared_schema_is_the_streams_and_jql_streams_are_chosen_by_name():
    schema = {"properties": {"distinct_id": {"type": "string"}, "purchases": {"type": "integer"}}}
    with pytest.raises(SystemExit) as refused:  # the tap's one line, before any call
        make_tap(set(), jql_queries=[{**BUYERS, "schema": schema, "replication_key": "date"}])
    assert str(refused.value.code) == (
        "tap-mixpanel-tajo: jql_queries[0].schema: properties lacks date (primary or "
        "replication key)"
    )
    schema["properties"]["date"] = {"type": "string", "format": "date"}
    tap = make_tap(set(), jql_queries=[{**BUYERS, "schema": schema, "replication_key": "date"}])
    (entry,) = [s for s in tap.catalog_dict["streams"] if s["stream"] == "jql_buyers"]

    assert entry["schema"]["properties"] == schema["properties"]
    assert "maintenance mode" in entry["schema"]["description"]
    assert entry["replication_key"] == "date"
    assert entry["metadata"][-1]["metadata"]["selected-by-default"] is False


def test_a_script_file_is_read_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "jql").mkdir()
    (tmp_path / "jql" / "buyers.js").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    query = {"name": "buyers", "script_file": "jql/buyers.js", "primary_keys": ["distinct_id"]}

    read = TapSettings.from_config({"jql_queries": [query]}).jql_queries

    assert read["jql_buyers"].script == SCRIPT


@pytest.mark.parametrize(
    ("queries", "problem"),
    [
        ([{**BUYERS, "name": "big buyers"}], "jql_queries[0].name: 'big buyers' must be letters"),
        ([BUYERS, BUYERS], "jql_queries[1].name: a second query named 'buyers'"),
        ([{**BUYERS, "script_file": "b.js"}], "jql_queries[0]: give either script or script_file"),
        ([{**BUYERS, "scirpt": "x"}], "jql_queries[0]: unknown key(s) scirpt; a query takes"),
        ([{**BUYERS, "primary_keys": []}], "jql_queries[0].primary_keys: a list of the row"),
        (
            [{"name": "b", "script_file": "missing.js", "primary_keys": ["id"]}],
            "jql_queries[0].script_file: cannot read",
        ),
        (
            [{**BUYERS, "params": {}, "replication_key": "date"}],
            "jql_queries[0].replication_key: needs {{start_date}} or {{end_date}} in params",
        ),
    ],
)
def test_a_jql_setting_mistake_is_one_line_naming_the_key(queries, problem):
    with pytest.raises(TapConfigError) as error:
        TapSettings.from_config({"jql_queries": queries})

    assert str(error.value).startswith(problem)
    assert "\n" not in str(error.value)


def test_jql_queries_from_the_environment_are_json_text(monkeypatch):
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_JQL_QUERIES", json.dumps([BUYERS]))
    tap = TapMixpanelTajo(config=CONFIG, parse_env_config=True)
    assert list(tap.settings.jql_queries) == ["jql_buyers"]

    problem = env_setting_problem(
        CONFIG_SCHEMA["properties"], "TAP_MIXPANEL_TAJO_", {"TAP_MIXPANEL_TAJO_JQL_QUERIES": "[{"}
    )
    assert problem == (
        "TAP_MIXPANEL_TAJO_JQL_QUERIES is not a JSON array: set jql_queries as JSON text"
    )

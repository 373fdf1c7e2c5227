"""Poison records end in rejects and the run goes on; every user error is one line; a failed run
still reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import respx

from target_brevo_tajo.contacts.attributes import AttributeType, ConversionError, to_brevo_value
from target_brevo_tajo.sinks.base import _without_formats
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import event, singer_input, with_record
from tests.target.cli import assert_one_line_error, run_cli

BREVO = "https://api.brevo.com/v3"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(config: dict, tmp_path: Path) -> dict:
    return {
        **config,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "report_file": str(tmp_path / "report.json"),
        "max_retries": 0,
    }


def queued(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"count": len(json.loads(request.content)["events"])})


# -- poison records ------------------------------------------------------------------------------


@respx.mock(base_url=BREVO)
def test_each_kind_of_poison_event_is_rejected_with_its_reason_and_the_rest_is_sent(
    respx_mock, config, tmp_path
):
    route = respx_mock.post("/events/batch").mock(side_effect=queued)
    good = event("Purchase", "good-1")
    poison = [
        with_record(event("Purchase", "x"), insert_id=12345),
        with_record(event("Purchase", "x"), insert_id=..., properties={"price": 1}),
        with_record(event("Purchase", "p-3"), properties="oops"),
        with_record(event("Purchase", "p-4"), event=7),
        with_record(event("Purchase", "p-5"), time="not-a-date"),
    ]

    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.listen(singer_input(*poison, good, event("Purchase", "good-2")))

    assert route.call_count == 1
    report = target.run.report
    assert report.events.sent == 2
    assert report.rejected_records == {"events": 5}
    reasons = [
        json.loads(line)["reason"] for line in (tmp_path / "rejects.jsonl").read_text().splitlines()
    ]
    assert reasons == [
        "schema: data.insert_id must be string",
        "no $insert_id: the event cannot be deduplicated",
        "schema: data.properties must be object",
        "schema: data.event must be string",
        "no time",
    ]


def test_a_date_out_of_range_is_a_rejected_value_not_a_crash():
    with pytest.raises(ConversionError, match="out of the date range") as refused:
        to_brevo_value(1e20, AttributeType("SIGNUP_DATE", "date"))
    assert refused.value.kind == "date out of range"  # the report's reason for the value


# -- one line, never a traceback -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"this is not json\n", "input line 1 is not JSON"),
        (b"[" * 3000 + b"]" * 3000 + b"\n", "input line 1 is nested too deeply"),
        (
            json.dumps({"type": "RECORD", "stream": "events", "record": {}}).encode() + b"\n",
            "before its RECORDs",
        ),
        (b'{"type": "STATE", "value": "\xff\xfe"}\n', "not UTF-8"),
    ],
    ids=["not-json", "too-deep", "record-before-schema", "not-utf8"],
)
def test_unreadable_singer_input_ends_the_run_in_one_line(config, tmp_path, line, fragment):
    result = run_cli(config, tmp_path, line)

    assert_one_line_error(result, fragment)


@pytest.mark.parametrize(
    ("ledger_url", "fragment"),
    [
        ("not a url", "set ledger_url to a SQLAlchemy URL"),
        ("foo://", "set ledger_url to a SQLAlchemy URL"),
        ("sqlite:////nonexistent/dir/l.db", "unable to open database file"),
        ("postgresql+psycopg://u:s3cret@127.0.0.1:9/x", "u:***@"),
    ],
)
def test_a_bad_ledger_url_is_one_line_that_hides_its_password(
    config, tmp_path, ledger_url, fragment
):
    result = run_cli({**config, "ledger_url": ledger_url}, tmp_path, b"")

    assert_one_line_error(result, "cannot use the sync ledger", fragment)
    assert "s3cret" not in result.stderr


def test_a_corrupt_or_read_only_ledger_is_refused_before_any_call(config, tmp_path):
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"not a database" * 100)
    result = run_cli({**config, "ledger_url": f"sqlite:///{corrupt}"}, tmp_path, b"")
    assert_one_line_error(result, "not a sync ledger")

    ledger = tmp_path / "ledger.sqlite"
    run_cli({**config, "ledger_url": f"sqlite:///{ledger}"}, tmp_path, b"")  # created
    read_only = f"sqlite:///file:{ledger}?mode=ro&uri=true"
    result = run_cli({**config, "ledger_url": read_only}, tmp_path, b"")
    assert_one_line_error(result, "readonly", "make the ledger writable")


@pytest.mark.parametrize("contents", [None, "{not json"], ids=["missing", "not-json"])
def test_a_missing_or_broken_config_file_is_one_line(tmp_path, contents):
    config_file = tmp_path / "config.json"
    if contents is not None:
        config_file.write_text(contents)
    result = subprocess.run(
        [sys.executable, "-m", "target_brevo_tajo", "--config", str(config_file)],
        capture_output=True,
        text=True,
        input="",
        check=False,
    )

    assert_one_line_error(result, "cannot read the --config file")


# -- a failed run still reports ------------------------------------------------------------------


def test_a_run_that_fails_still_writes_its_report_with_what_it_sent(config, tmp_path):
    with respx.mock(base_url=BREVO) as brevo:
        calls = {"n": 0}

        def first_then_unauthorised(request: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            if calls["n"] == 1:
                return queued(request)
            return httpx.Response(401, json={"code": "unauthorized", "message": "Key not found"})

        brevo.post("/events/batch").mock(side_effect=first_then_unauthorised)
        records = [event("Purchase", f"f-{i}") for i in range(4)]
        with pytest.raises(SystemExit, match="Brevo rejected the API key"):
            TargetBrevoTajo.invoke(
                config=SimpleNamespace(config={**config, "events_batch_size": 2}, parse_env=False),
                file_input=singer_input(*records),
            )

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "failed"
    assert report["error"].startswith("Brevo rejected the API key (HTTP 401")
    assert report["events"]["sent"] == 2


def test_brevo_error_bodies_never_show_the_api_key(config):
    echo = {"code": "bad_request", "message": "key xkeysib-test-secret is not allowed here"}
    with respx.mock(base_url=BREVO) as brevo:
        brevo.post("/events/batch").mock(return_value=httpx.Response(422, json=echo))
        target = TargetBrevoTajo(config=config, parse_env_config=False)
        with pytest.raises(Exception, match="HTTP 422") as failure:
            target.listen(singer_input(event("Purchase", "k-1")))

    assert "xkeysib-test-secret" not in str(failure.value)
    assert "key *** is not allowed" in str(failure.value)


def test_the_compiled_validator_ignores_formats_but_keeps_a_property_named_format():
    schema = {
        "type": "object",
        "properties": {
            "time": {"type": "string", "format": "date-time"},
            "format": {"type": "string"},
        },
    }

    assert _without_formats(schema) == {
        "type": "object",
        "properties": {"time": {"type": "string"}, "format": {"type": "string"}},
    }

"""One bad line of Singer input is a counted reject with its reason; the run goes on.

Issue 17 item 11: a RECORD whose record is a list, bytes that are not UTF-8, a record time given
as an epoch number, a blank line and a lone surrogate escape each ended the whole run (most with
a traceback), and every rerun stopped at the same line. An unknown message type is one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import EVENTS_SCHEMA, event, line, with_record
from tests.target.cli import assert_one_line_error, run_cli


@pytest.fixture
def config(config: dict, tmp_path: Path) -> dict:
    """A dry run: the mapping and the ledger are read, nothing is sent."""
    return {
        **config,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "report_file": str(tmp_path / "report.json"),
        "dry_run": True,
    }


def rejects(config: dict) -> list[dict]:
    with open(config["rejects_file"], encoding="utf-8") as lines:
        return [json.loads(text) for text in lines]


GOOD = line(event("Purchase", "good-1"))
STATE = line({"type": "STATE", "value": {"bookmarks": {"events": {}}}})


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (
            line({"type": "RECORD", "stream": "events", "record": [1, 2]}),
            "the record is a list, not an object",
        ),
        (
            line(event("Purchase", "u-1", "user-1")).replace(b"user-1", b"user-\xff", 1),
            "the line is not UTF-8 (invalid start byte): fix the source",
        ),
        (
            line(with_record(event("Purchase", "e-1"), time=1_700_000_000)),
            "schema: time is 1700000000, not an RFC 3339 date-time: send it as text such as "
            "2026-11-20T10:00:00Z",
        ),
        (
            line(event("Purchase", "s-1", "user-1")).replace(b"user-1", b"user-\\ud800", 1),
            "record.distinct_id holds a lone surrogate escape (such as \\ud800), which is not "
            "Unicode text: fix the source",
        ),
        (
            line(event("Purchase", "s-2", note="x")).replace(b'"x"', b'"\\udc00x"'),
            "record.properties.note holds a lone surrogate escape (such as \\ud800), which is "
            "not Unicode text: fix the source",
        ),
    ],
    ids=["record-is-a-list", "not-utf8", "epoch-time", "surrogate-in-id", "surrogate-in-property"],
)
def test_a_bad_record_line_is_a_reject_with_its_reason_and_the_rest_is_sent(
    config, tmp_path, bad_line, reason
):
    result = run_cli(config, tmp_path, line(EVENTS_SCHEMA) + bad_line + GOOD + STATE)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["events"]["sent"] == 1  # would be sent: a dry run
    assert report["rejected_records"] == {"events": 1}
    assert report["events"]["rejected_by_reason"] == {reason: 1}
    assert [r["reason"] for r in rejects(config)] == [reason]


def test_blank_lines_are_counted_rejects_and_every_record_is_still_read(config, tmp_path):
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    with open(tmp_path / "in.jsonl", "wb") as out:
        out.write(line(EVENTS_SCHEMA) + b"\n" + GOOD + b"   \n" + STATE)

    with open(tmp_path / "in.jsonl", encoding="utf-8") as messages:
        target.listen(messages)

    assert target.run.report.events.received == 1
    assert target.run.report.rejected_records == {"input": 2}
    assert [r["reason"] for r in rejects(config)] == ["blank line", "blank line"]


def test_an_unknown_message_type_is_one_line_naming_it_and_the_types_read(config, tmp_path):
    result = run_cli(config, tmp_path, line(EVENTS_SCHEMA) + line({"type": "FOO"}))

    assert_one_line_error(result, "input line 2", "unknown type 'FOO'", "RECORD, SCHEMA")

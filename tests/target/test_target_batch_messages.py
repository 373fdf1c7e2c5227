"""BATCH messages: the records of a tap's batch files get every guarantee RECORD messages get.

Issue 17 item 8: the tap advertises ``batch``, and with a batch config the target failed with
``the run FAILED: 'batch'``. Records read from batch files now take the RECORD path: the same
sinks, rejects, report counts and exactly-once ledger. A file that cannot be read is one line.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import run, sandbox_config
from tests.singer_messages import EVENTS_SCHEMA, PROFILES_SCHEMA, event, profile, with_record
from tests.target.cli import assert_one_line_error, run_cli

# What differs between two runs of the same input: when they ran, and which run they were.
RUN_FIELDS = {"run_id", "started_at", "finished_at"}
ROOT = Path(__file__).resolve().parents[2]
TAP_NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)  # the sandbox's today


pytestmark = pytest.mark.sandbox(profiles=5, events=10, days=1)


def target_config(sandbox: SandboxServer, mapping_file: Path, folder: Path) -> dict:
    folder.mkdir(exist_ok=True)
    return sandbox_config(
        sandbox,
        mapping_file,
        folder,
        rejects_file=str(folder / "rejects.jsonl"),
        create_missing_attributes=True,
        import_poll_seconds=0,
        events_batch_size=7,  # several calls, as a long run makes
    )


def records_of_both_streams() -> list[dict[str, Any]]:
    events = [event("Purchase", f"b-{i}", f"user-{i % 4}", price=i) for i in range(40)]
    events += [event("Purchase", "b-3", "user-3", price=3)]  # a duplicate
    events += [with_record(event("Purchase", "x-1"), time="yesterday")]  # rejected: no time
    events += [with_record(event("Purchase", "x-2"), event=7)]  # rejected: schema
    profiles = [profile(f"user-{i}", **{"$email": f"u{i}@example.com"}) for i in range(4)]
    return events + profiles


def as_records(messages: list[dict]) -> io.StringIO:
    state = {"type": "STATE", "value": {"bookmarks": {"events": {"at": "1"}}}}
    lines = [EVENTS_SCHEMA, PROFILES_SCHEMA, *messages, state]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in lines))


def as_batches(messages: list[dict], folder: Path, *, per_file: int = 9) -> io.StringIO:
    """The same records as the SDK's batch files (raw records, gzip JSON lines) and BATCH lines."""
    folder.mkdir(exist_ok=True)
    lines: list[dict] = [EVENTS_SCHEMA, PROFILES_SCHEMA]
    for stream in ("events", "profiles"):
        records = [m["record"] for m in messages if m["stream"] == stream]
        manifest = []
        for start in range(0, len(records), per_file):
            path = folder / f"{stream}-{start}.json.gz"
            with gzip.open(path, "wt", encoding="utf-8") as out:
                out.writelines(json.dumps(r) + "\n" for r in records[start : start + per_file])
            manifest.append(path.as_uri())
        encoding = {"format": "jsonl", "compression": "gzip"}
        lines.append(
            {"type": "BATCH", "stream": stream, "encoding": encoding, "manifest": manifest}
        )
    lines.append({"type": "STATE", "value": {"bookmarks": {"events": {"at": "1"}}}})
    return io.StringIO("".join(json.dumps(m) + "\n" for m in lines))


def comparable(target: TargetBrevoTajo) -> dict:
    report = target.run.report.to_dict()
    return {key: value for key, value in report.items() if key not in RUN_FIELDS}


def brevo_events(sandbox: SandboxServer) -> list[tuple[str, str]]:
    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]
    return sorted((e["event_name"], json.dumps(e, sort_keys=True)) for e in events)


def reasons(folder: Path) -> list[str]:
    lines = (folder / "rejects.jsonl").read_text().splitlines()
    return sorted(json.loads(line)["reason"] for line in lines)


def test_batch_files_give_the_report_brevo_and_rejects_the_record_messages_give(
    mapping_file, tmp_path
):
    messages = records_of_both_streams()
    with SandboxServer(profiles=5, events=10, days=1) as record_brevo:
        by_records = run(
            target_config(record_brevo, mapping_file, tmp_path / "r"), as_records(messages)
        )
        sent_by_records = brevo_events(record_brevo)
    with SandboxServer(profiles=5, events=10, days=1) as batch_brevo:
        config = target_config(batch_brevo, mapping_file, tmp_path / "b")
        by_batches = run(config, as_batches(messages, tmp_path / "files"))
        sent_by_batches = brevo_events(batch_brevo)

    assert by_batches.run.report.events.sent == 40
    assert by_batches.run.report.contacts.received == 4
    assert comparable(by_batches) == comparable(by_records)
    assert len(sent_by_batches) == len(sent_by_records) == 40
    assert reasons(tmp_path / "b") == reasons(tmp_path / "r")


def test_batch_files_read_again_send_nothing_twice(sandbox, mapping_file, tmp_path):
    messages = records_of_both_streams()
    config = target_config(sandbox, mapping_file, tmp_path / "b")
    run(config, as_batches(messages, tmp_path / "files"))

    again = run(config, as_batches(messages, tmp_path / "files"))

    assert again.run.report.events.sent == 0
    assert again.run.report.events.deduplicated_by_ledger == 40
    assert len(brevo_events(sandbox)) == 40


def test_lines_of_a_batch_file_that_cannot_be_read_are_rejected_and_the_rest_is_sent(
    sandbox, mapping_file, tmp_path
):
    good = [json.dumps(event("Purchase", f"g-{i}")["record"]).encode() for i in range(2)]
    bad_utf8 = json.dumps(event("Purchase", "u-1")["record"]).encode().replace(b"user", b"us\xffer")
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([good[0], b"", b"[1, 2]", bad_utf8, good[1]]) + b"\n")
    batch = {
        "type": "BATCH",
        "stream": "events",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [path.as_uri()],
    }
    config = target_config(sandbox, mapping_file, tmp_path / "b")

    target = run(config, io.StringIO(json.dumps(EVENTS_SCHEMA) + "\n" + json.dumps(batch) + "\n"))

    assert target.run.report.events.sent == 2
    assert target.run.report.rejected_records == {"events": 3}
    assert reasons(tmp_path / "b") == [
        "blank line in a batch file",
        "the line is not UTF-8 (invalid start byte): fix the source",
        "the record is a list, not an object",
    ]


@pytest.mark.parametrize(
    ("batch", "fragments"),
    [
        (
            {"encoding": {"format": "jsonl", "compression": "gzip"}, "manifest": ["MISSING"]},
            ["the BATCH message of input line 2 names", "missing.json.gz", "cannot be read"],
        ),
        (
            {"encoding": {"format": "parquet"}, "manifest": ["MISSING"]},
            ["has encoding", "set the tap's batch_config encoding to format jsonl"],
        ),
        (
            {"encoding": {"format": "jsonl", "compression": "gzip"}, "manifest": ["NOT-GZIP"]},
            ["not-gzip.json.gz", "cannot be read", "check the encoding"],
        ),
    ],
    ids=["missing-file", "parquet", "not-gzip"],
)
def test_a_batch_message_the_target_cannot_read_ends_the_run_in_one_line(
    mapping_file, tmp_path, batch, fragments
):
    not_gzip = tmp_path / "not-gzip.json.gz"
    not_gzip.write_text('{"event": "Purchase"}\n')
    files = {"MISSING": (tmp_path / "missing.json.gz").as_uri(), "NOT-GZIP": not_gzip.as_uri()}
    message = {"type": "BATCH", "stream": "events", **batch}
    message["manifest"] = [files[name] for name in message["manifest"]]
    config = {
        "api_key": "xkeysib-test-secret",
        "mapping_file": str(mapping_file),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "dry_run": True,
    }
    lines = [EVENTS_SCHEMA, message]

    result = run_cli(config, tmp_path, "".join(json.dumps(m) + "\n" for m in lines).encode())

    assert_one_line_error(result, *fragments)


def test_the_taps_batch_output_piped_into_the_target_reports_what_its_records_report(tmp_path):
    """The tap with a ``batch_config`` (every stream as gzip JSON lines), end to end."""
    mapping = ROOT / "mappings" / "mixpanel-to-brevo.sandbox.yml"
    reports = {}
    with SandboxServer(now=TAP_NOW, profiles=20, events=300, days=2) as sandbox:
        for mode in ("records", "batch"):
            folder = tmp_path / mode
            folder.mkdir()
            tap = {
                "base_url": f"{sandbox.url}/mixpanel",
                "project_id": "12345",
                "service_account_username": "sandbox-user",
                "service_account_secret": "sandbox-secret",
                "start_date": "2026-11-18T00:00:00Z",
                "end_date": "2026-11-19T00:00:00Z",
                "mapping_file": str(mapping),
            }
            if mode == "batch":
                storage = {"root": folder.as_uri(), "prefix": "batch-"}
                encoding = {"format": "jsonl", "compression": "gzip"}
                tap["batch_config"] = {"encoding": encoding, "storage": storage}
            target = {
                **target_config(sandbox, mapping, folder),
                "dry_run": True,
                "report_file": str(folder / "report.json"),
            }
            (folder / "tap.json").write_text(json.dumps(tap))
            (folder / "target.json").write_text(json.dumps(target))
            tap_run = subprocess.Popen(
                [sys.executable, "-m", "tap_mixpanel_tajo", "--config", folder / "tap.json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            target_run = subprocess.run(
                [sys.executable, "-m", "target_brevo_tajo", "--config", folder / "target.json"],
                stdin=tap_run.stdout,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert tap_run.wait(timeout=60) == 0
            assert target_run.returncode == 0, target_run.stderr[-2000:]
            report = json.loads((folder / "report.json").read_text())
            reports[mode] = {
                k: v for k, v in report.items() if k not in {*RUN_FIELDS, "rate_budgets"}
            }

    assert list((tmp_path / "batch").glob("batch-*events*.json.gz"))
    assert reports["batch"]["events"]["received"] > 100
    assert reports["batch"] == reports["records"]

"""Each run keeps its own report, and rejects say which run and which record, nothing more.

Issue 10: the report JSON had no status, run id or times and the next job overwrote it;
``rejects.jsonl`` held whole profiles (emails, phones) and no run id.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

from target_brevo_tajo.report import SyncReport, job_name_of
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import event, singer_input

PROFILE = {
    "distinct_id": "user-1",
    "properties": {"$email": "ada@example.com", "$phone": "+33612345678"},
}


def rejects_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_report_carries_status_run_id_times_and_job(tmp_path):
    report = SyncReport(job_name="mixpanel-to-brevo")
    report.status = "succeeded"
    report.finished_at = "2026-11-29T12:00:00+00:00"

    data = report.to_dict()

    assert data["status"] == "succeeded"
    assert re.fullmatch("[0-9a-f]{32}", data["run_id"])
    assert data["job_name"] == "mixpanel-to-brevo"
    started = dt.datetime.fromisoformat(data["started_at"])
    assert started.utcoffset() == dt.timedelta(0)
    assert data["finished_at"] == "2026-11-29T12:00:00+00:00"
    assert SyncReport().run_id != report.run_id


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"MELTANO_JOB_NAME": "cohorts-to-brevo-lists", "MELTANO_STATE_ID": "s"},
            "cohorts-to-brevo-lists",
        ),
        ({"MELTANO_STATE_ID": "prod:tap-to-target"}, "prod:tap-to-target"),
        ({}, None),
        ({"MELTANO_EXTRACTOR_NAME": "tap-mixpanel-tajo"}, None),
    ],
)
def test_the_job_name_comes_from_the_environment(environ, expected):
    assert job_name_of(environ) == expected


# What Meltano 4.4 passes a loader under `meltano --environment=prod run tap target`.
MELTANO_RUN = {
    "MELTANO_ENVIRONMENT": "prod",
    "MELTANO_EXTRACTOR_NAME": "tap-mixpanel-tajo--cohorts",
    "MELTANO_LOADER_NAME": "target-brevo-tajo",
}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (MELTANO_RUN, "prod:tap-mixpanel-tajo--cohorts-to-target-brevo-tajo"),
        (
            MELTANO_RUN | {"MELTANO_RUN_STATE_ID_SUFFIX": "backfill-2026-01-01-2026-01-31"},
            "prod:tap-mixpanel-tajo--cohorts-to-target-brevo-tajo:backfill-2026-01-01-2026-01-31",
        ),
        (MELTANO_RUN | {"MELTANO_JOB_NAME": "cohorts-to-brevo-lists"}, "cohorts-to-brevo-lists"),
    ],
)
def test_under_meltano_run_the_job_name_is_the_pipeline_under_its_state_id(environ, expected):
    """Issue 17: ``job_name`` was null in every prod report, Meltano naming no job."""
    assert job_name_of(environ) == expected


def test_two_runs_keep_two_reports_and_the_report_file_links_the_latest(tmp_path):
    latest = tmp_path / "output" / "sync-report.json"
    first, second = SyncReport(job_name="prod:a-to-b"), SyncReport(job_name="prod:a-to-b")
    first.events.received = first.events.sent = 1
    second.events.received = second.events.sent = 2

    first_file = first.write(latest)
    second_file = second.write(latest)

    assert first_file != second_file
    assert json.loads(first_file.read_text())["events"]["sent"] == 1
    assert json.loads(latest.read_text())["run_id"] == second.run_id
    assert latest.is_symlink()
    assert os.readlink(latest) == second_file.name
    assert second_file.name.startswith("sync-report-prod_a-to-b-")
    assert second_file.name.endswith(f"-{second.run_id}.json")
    assert sorted(p.name for p in latest.parent.iterdir()) == sorted(
        [first_file.name, second_file.name, latest.name]
    )


def test_the_report_file_is_a_copy_where_symlinks_fail(tmp_path, monkeypatch):
    def refuse(*_args: object) -> None:
        raise OSError("symlinks not permitted")

    monkeypatch.setattr(Path, "symlink_to", refuse)
    latest = tmp_path / "sync-report.json"
    report = SyncReport()

    run_file = report.write(latest)

    assert not latest.is_symlink()
    assert latest.read_text() == run_file.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([latest.name, run_file.name])


def test_a_reject_keeps_the_run_id_and_ids_but_not_the_profile(tmp_path):
    report = SyncReport(rejects_file=tmp_path / "rejects.jsonl")

    report.reject("profiles", "SMS left out: not a phone number", PROFILE)
    report.reject("events", "no time", {"event": "Purchase", "insert_id": "i-1", "time": "soon"})

    assert rejects_of(tmp_path / "rejects.jsonl") == [
        {
            "run_id": report.run_id,
            "stream": "profiles",
            "reason": "SMS left out: not a phone number",
            "distinct_id": "user-1",
        },
        {
            "run_id": report.run_id,
            "stream": "events",
            "reason": "no time",
            "insert_id": "i-1",
            "event": "Purchase",
            "time": "soon",
        },
    ]


def test_whole_records_in_rejects_only_on_request(tmp_path):
    report = SyncReport(rejects_file=tmp_path / "rejects.jsonl", rejects_include_record=True)

    report.reject("profiles", "SMS left out", PROFILE)

    (line,) = rejects_of(tmp_path / "rejects.jsonl")
    assert line["record"] == PROFILE


def test_the_target_writes_its_report_and_rejects_for_the_run(tmp_path, mapping_file, monkeypatch):
    monkeypatch.setenv("MELTANO_JOB_NAME", "mixpanel-to-brevo")
    latest = tmp_path / "sync-report.json"
    config = {
        "api_key": "xkeysib-test",
        "mapping_file": str(mapping_file),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "dry_run": True,
        "report_file": str(latest),
        "rejects_file": str(tmp_path / "rejects.jsonl"),
    }
    target = TargetBrevoTajo(config=config, parse_env_config=False)

    target.listen(singer_input(event("Purchase", "i-1", distinct_id=None, email="ada@example.com")))

    report = json.loads(latest.read_text())
    assert report["status"] == "dry_run"
    assert report["job_name"] == "mixpanel-to-brevo"
    assert report["started_at"] <= report["finished_at"]
    assert latest.is_symlink()
    (reject,) = rejects_of(tmp_path / "rejects.jsonl")
    assert reject == {
        "run_id": report["run_id"],
        "stream": "events",
        "reason": "no distinct_id: the event belongs to no contact",
        "insert_id": "i-1",
        "event": "Purchase",
        "time": "2026-11-20T10:00:00+00:00",
    }


def report_started_at(hour: int, job: str | None = "prod:a-to-b") -> SyncReport:
    report = SyncReport(job_name=job)
    report.started_at = f"2026-11-29T{hour:02d}:00:00+00:00"
    return report


def test_only_the_newest_report_keep_run_files_of_a_job_stay_beside_the_link(tmp_path):
    """Issue 17: report files were never pruned (an hourly job adds 8,760 a year)."""
    latest = tmp_path / "sync-report.json"
    other_job = report_started_at(0, job="prod:cohorts").write(latest)
    unrelated = tmp_path / "notes.json"
    unrelated.write_text("{}")
    files = [report_started_at(hour).write(latest, keep=3) for hour in range(1, 6)]

    assert sorted(tmp_path.iterdir()) == sorted([*files[-3:], other_job, unrelated, latest])
    assert json.loads(latest.read_text())["started_at"].startswith("2026-11-29T05")


def test_runs_without_a_job_name_are_pruned_among_themselves(tmp_path):
    latest = tmp_path / "sync-report.json"
    named = report_started_at(0).write(latest)

    kept = [report_started_at(hour, job=None).write(latest, keep=1) for hour in range(1, 3)][-1]

    assert sorted(tmp_path.iterdir()) == sorted([named, kept, latest])


def test_the_target_keeps_report_keep_run_files(tmp_path):
    latest = tmp_path / "output" / "sync-report.json"
    config = {
        "api_key": "xkeysib-test",
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "report_file": str(latest),
        "report_keep": 2,
    }

    for _ in range(3):
        TargetBrevoTajo(config=config, parse_env_config=False).listen(singer_input())

    assert len([p for p in latest.parent.iterdir() if p != latest]) == 2
    assert json.loads(latest.read_text())["status"] == "succeeded"  # the link's file stays


def test_report_keep_defaults_to_100():
    assert TargetBrevoTajo.config_jsonschema["properties"]["report_keep"]["default"] == 100

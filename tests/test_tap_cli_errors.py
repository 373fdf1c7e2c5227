"""The tap's command line ends in one line, never a traceback: bad --config files, bad bytes."""

from __future__ import annotations

import json
import logging
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

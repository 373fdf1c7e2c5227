"""Settings the target cannot run with are refused at start in one line that says what to do.

Issue 17 item 11: each of these was accepted with exit 0 (``events_batch_size: 0``,
``ledger_retention_days: 0``, which made the next run resend everything, an empty mapping file,
which skipped every record and moved the bookmark) or ended in a traceback or a misleading line
(a binary mapping file read as "the Singer input is not UTF-8", ``request_timeout_seconds: 0``
as "Brevo unreachable"). Bounds are declared in the config schema, so ``--about`` shows them.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import respx

from target_brevo_tajo.settings import CONFIG_SCHEMA
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import event, singer_input


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "dry_run": True}


def refusal(config: dict, *, parse_env: bool = False) -> str:
    """The one line a run with ``config`` ends in (and that it wrote nothing)."""
    with pytest.raises(SystemExit) as ended:
        TargetBrevoTajo.invoke(
            config=SimpleNamespace(config=config, parse_env=parse_env),
            file_input=io.StringIO(""),
        )
    assert ended.value.code == 1
    return str(ended.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"events_batch_size": 0}, "events_batch_size is 0: set it to 1 or more"),
        ({"events_settle_seconds": -5}, "events_settle_seconds is -5: set it to 0 or more"),
        ({"max_retries": -1}, "max_retries is -1: set it to 0 or more"),
        (
            {"request_timeout_seconds": 0},
            "request_timeout_seconds is 0: set it to more than 0; a Brevo call needs time",
        ),
        ({"request_timeout_seconds": "0"}, "request_timeout_seconds is 0: set it to more than 0"),
        ({"mapping_file": ""}, "mapping_file is empty; set it to the mapping YAML's path"),
    ],
)
def test_a_setting_out_of_its_bounds_is_one_line_naming_the_value_to_write(
    config, changes, expected
):
    assert refusal({**config, **changes}).startswith(f"target-brevo-tajo: {expected}")


@pytest.mark.parametrize("days", [-1, 0])
def test_a_ledger_retention_under_a_day_is_refused_with_why_it_resends(config, days):
    line = refusal({**config, "ledger_retention_days": days})

    assert line.startswith(f"target-brevo-tajo: ledger_retention_days is {days}: set it to 1")
    assert "keep it above the tap's lookback_days, or those events are sent again" in line


def test_the_bounds_are_in_the_config_schema_that_about_documents():
    properties = CONFIG_SCHEMA["properties"]

    assert properties["events_batch_size"]["minimum"] == 1
    assert properties["ledger_retention_days"]["minimum"] == 1
    assert properties["max_retries"]["minimum"] == 0
    assert properties["events_settle_seconds"]["minimum"] == 0
    assert properties["request_timeout_seconds"]["exclusiveMinimum"] == 0
    assert properties["mapping_file"]["minLength"] == 1


def test_an_empty_mapping_file_is_refused_instead_of_skipping_every_record(config, tmp_path):
    empty = tmp_path / "mapping.yml"
    empty.write_text("# nothing mapped yet\n")

    line = refusal({**config, "mapping_file": str(empty)})

    assert line == (
        f"target-brevo-tajo: {empty}: the mapping file is empty; write its sections (see "
        "mappings/mixpanel-to-brevo.yml), or leave mapping_file unset"
    )


def test_a_binary_mapping_file_is_named_as_the_mapping_not_as_the_singer_input(config, tmp_path):
    binary = tmp_path / "mapping.yml"
    binary.write_bytes(bytes(range(256)))

    line = refusal({**config, "mapping_file": str(binary)})

    assert line.startswith(f"target-brevo-tajo: {binary}: the mapping file is not UTF-8 text")
    assert "Singer input" not in line


@pytest.mark.parametrize("parse_env", [True, False], ids=["config-env", "config-file"])
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DRY_RUN", "maybe", "TARGET_BREVO_TAJO_DRY_RUN is 'maybe': set it to true or false"),
        (
            "EVENTS_BATCH_SIZE",
            "abc",
            "TARGET_BREVO_TAJO_EVENTS_BATCH_SIZE is 'abc': set it to a whole number",
        ),
    ],
)
def test_an_environment_variable_the_target_cannot_read_is_one_line(
    monkeypatch, config, tmp_path, variable, value, expected, parse_env
):
    """Meltano passes a config file, and reads DRY_RUN=maybe as false: the variable is checked."""
    monkeypatch.setenv("TARGET_BREVO_TAJO_API_KEY", "xkeysib-test-secret")
    monkeypatch.setenv("TARGET_BREVO_TAJO_LEDGER_URL", f"sqlite:///{tmp_path / 'l.sqlite'}")
    monkeypatch.setenv(f"TARGET_BREVO_TAJO_{variable}", value)

    line = refusal({} if parse_env else config, parse_env=parse_env)

    assert line == f"target-brevo-tajo: {expected}"


@pytest.mark.parametrize(
    ("report_file", "expected"),
    [
        ("DIR", "is a directory: set it to a file path"),
        ("FILE/report.json", "which is a file: choose another path"),
        ("/proc/report.json", "cannot be written"),
    ],
    ids=["a-directory", "under-a-file", "not-writable"],
)
def test_a_report_file_the_run_could_not_write_is_refused_before_it_starts(
    config, tmp_path, report_file, expected
):
    (tmp_path / "DIR").mkdir()
    (tmp_path / "FILE").write_text("")
    path = report_file if report_file.startswith("/") else str(tmp_path / report_file)

    line = refusal({**config, "report_file": path})

    assert line.startswith(f"target-brevo-tajo: report_file {path} ")
    assert expected in line


def test_a_config_file_holding_a_json_array_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")

    result = subprocess.run(
        [sys.executable, "-m", "target_brevo_tajo", "--config", "config.json"],
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "target-brevo-tajo: cannot read the --config file: it holds no JSON object; pass a "
            "JSON file of settings (or --config=ENV)"
        )
    )


def test_settings_within_their_bounds_still_run(config, tmp_path):
    bounded = {
        **config,
        "events_batch_size": 1,
        "max_retries": 0,
        "events_settle_seconds": 0,
        "ledger_retention_days": 1,
        "request_timeout_seconds": "0.5",
        "report_file": str(tmp_path / "out" / "report.json"),
    }
    TargetBrevoTajo.invoke(
        config=SimpleNamespace(config=bounded, parse_env=False), file_input=io.StringIO("")
    )

    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "dry_run"


@pytest.fixture
def unwritable_folder():
    """A folder no one may write into, root included (an immutable folder, where chattr works).

    It is short-named in the system's temporary folder: the line names it twice, and a deep
    tmp_path (pytest-xdist's popen-gw<N>/) would push the advice past the line's 300 characters.
    """
    folder = Path(tempfile.mkdtemp(prefix="ledger-"))
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode != 0:
        folder.rmdir()
        pytest.skip("chattr +i is not available here")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.rmdir()


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_ledger_in_a_folder_that_cannot_be_written_is_one_line_saying_so(
    config, unwritable_folder, dry_run
):
    ledger = f"sqlite:///{unwritable_folder / 'ledger.sqlite'}"

    line = refusal({**config, "ledger_url": ledger, "dry_run": dry_run})

    assert line.startswith(f"target-brevo-tajo: cannot use the sync ledger {ledger}: ")
    assert "the ledger's folder must exist and be writable" in line


def test_a_retention_shorter_than_the_input_reaches_back_forgets_none_of_its_events(config, caplog):
    """The next run re-reads the tap's lookback: an event forgotten within it was sent twice."""
    config = {**config, "dry_run": False, "ledger_retention_days": 1, "max_retries": 0}
    old_events = [event("Purchase", f"old-{i}", time="2026-11-20T10:00:00Z") for i in range(2)]

    def run() -> TargetBrevoTajo:
        target = TargetBrevoTajo(config=config, parse_env_config=False)
        target.listen(singer_input(*old_events))
        return target

    with respx.mock(base_url="https://api.brevo.com/v3") as brevo:
        brevo.post("/events/batch").mock(return_value=httpx.Response(202, json={"count": 2}))
        first = run()
        again = run()

    assert first.run.report.events.sent == 2
    assert again.run.report.events.sent == 0
    assert again.run.report.events.deduplicated_by_ledger == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "ledger_retention_days (1) is shorter than the input reaches back" in w for w in warnings
    )

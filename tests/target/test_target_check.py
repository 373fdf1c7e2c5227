"""``target-brevo-tajo --check`` (``meltano test target-brevo-tajo``) ends in one line.

Issue 17: ``meltano config test target-brevo-tajo`` ended in a ``ProcessLookupError`` traceback.
That is Meltano 4.4's loader test itself: it terminates the loader after the loader exited, so
every loader ends so (``tests`` below show the cause on a bare ``cat``). The project's check is
the ``test`` command of meltano.yml, which runs this option.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mixpanel_brevo_sandbox.brevo_api import API_KEY
from mixpanel_brevo_sandbox.brevo_oauth import CLIENT_ID, CLIENT_SECRET
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.conftest import MAPPING_FILE, ROOT

pytestmark = pytest.mark.sandbox(profiles=5, events=50)


@pytest.fixture
def sandbox(shared_sandbox):
    """The checks only read: the module's tests share one sandbox."""
    return shared_sandbox


def check(
    tmp_path: Path, sandbox: SandboxServer, **credentials: str
) -> subprocess.CompletedProcess:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                **credentials,
                "base_url": f"{sandbox.url}/brevo/v3",
                "mapping_file": str(MAPPING_FILE),
                "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
                "max_retries": 0,
            }
        )
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_", "MELTANO_"))}
    return subprocess.run(
        [sys.executable, "-m", "target_brevo_tajo", "--config", str(config), "--check"],
        input="not a Singer message: --check reads no input\n",
        cwd=tmp_path,
        env=clean | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_says_in_one_line_that_the_configuration_works_and_reads_no_input(tmp_path, sandbox):
    result = check(tmp_path, sandbox, api_key=API_KEY)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert "configuration OK: Brevo accepted the API key" in last
    assert "maps 7 events and 11 contact attributes" in last
    assert sandbox.url.replace("http://", "") in last


def test_check_with_a_key_brevo_refuses_ends_in_one_line(tmp_path, sandbox):
    result = check(tmp_path, sandbox, api_key="xkeysib-wrong")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("target-brevo-tajo: ")
    assert "xkeysib-wrong" not in result.stderr


def test_check_with_brevo_oauth_fetches_a_token_and_says_so(tmp_path, sandbox):
    result = check(
        tmp_path,
        sandbox,
        brevo_oauth_client_id=CLIENT_ID,
        brevo_oauth_client_secret=CLIENT_SECRET,
    )

    assert result.returncode == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert "configuration OK: Brevo accepted the OAuth client's token" in last


def test_check_with_oauth_credentials_brevo_refuses_ends_in_one_line(tmp_path, sandbox):
    result = check(
        tmp_path, sandbox, brevo_oauth_client_id=CLIENT_ID, brevo_oauth_client_secret="wrong-one"
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "target-brevo-tajo: Brevo's OAuth token endpoint refused the client (HTTP 401 "
        "invalid_client): set brevo_oauth_client_id and brevo_oauth_client_secret to the "
        "credentials of a Brevo OAuth client"
    )


def test_meltano_yml_runs_the_check_as_the_loaders_test_command():
    meltano = yaml.safe_load((ROOT / "meltano.yml").read_text())
    [loader] = [p for p in meltano["plugins"]["loaders"] if p["name"] == "target-brevo-tajo"]

    assert loader["commands"]["test"]["args"] == "--config ENV --check"


def test_meltanos_loader_test_fails_on_any_loader_that_exits_by_itself():
    """The cause, on ``cat``: Meltano's LoaderTestService reads the output to its end, waits for
    the exit, then calls ``terminate()``; asyncio has closed the process by then."""

    async def meltanos_loader_test() -> None:
        process = await asyncio.create_subprocess_exec(
            "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        await process.stdin.wait_closed()
        while not process.stdout.at_eof():
            await process.stdout.readline()
        await process.wait()
        process.terminate()

    with pytest.raises(ProcessLookupError):
        asyncio.run(meltanos_loader_test())

"""``make clean`` keeps what a rerun needs; ``make distclean`` removes it only when confirmed.

Issue 10: ``make clean`` deleted ``.meltano/``, which holds Meltano's state (and held the ledger).
Issue 17: ``make distclean`` deleted state and ledger without asking.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from target_brevo_tajo.ledger import default_ledger_url
from tests.conftest import ROOT

MAKE = shutil.which("make")
KEPT_BY_CLEAN = [".meltano/meltano.db", "brevo-sync-ledger.sqlite", "meltano.yml"]
BUILD = [".venv/bin/python", "output/sync-report.json", ".meltano/extractors/tap/bin/python"]


def project(tmp_path: Path) -> Path:
    """A project folder holding state, a ledger and build artefacts."""
    for name in [*KEPT_BY_CLEAN, *BUILD]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    return tmp_path


def make(target: str, cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    assert MAKE, "make is not installed"
    # As run by hand: under `make test` the outer make's variables would change what make prints.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(
        [MAKE, "-f", str(ROOT / "Makefile"), target, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def test_clean_removes_build_artefacts_and_keeps_state_and_ledger(tmp_path):
    folder = project(tmp_path)

    make("clean", folder)

    assert [name for name in KEPT_BY_CLEAN if not (folder / name).exists()] == []
    assert [name for name in BUILD if (folder / name).exists()] == []


def test_distclean_without_confirm_deletes_nothing_and_says_how_to_confirm(tmp_path):
    folder = project(tmp_path)

    result = make("distclean", folder, check=False)

    assert result.returncode != 0
    assert [name for name in [*KEPT_BY_CLEAN, *BUILD] if not (folder / name).exists()] == []
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "would delete Meltano's state (.meltano/) and the sync ledger" in line
    assert "run 'make distclean CONFIRM=1' to delete them" in line


def test_distclean_removes_state_and_ledger_and_says_so(tmp_path):
    folder = project(tmp_path)

    result = make("distclean", folder, "CONFIRM=1")

    assert not (folder / ".meltano").exists()
    assert not (folder / "brevo-sync-ledger.sqlite").exists()
    assert (folder / "meltano.yml").exists()
    assert "removed Meltano's state (.meltano/) and the sync ledger" in result.stdout


def test_the_default_ledger_is_not_in_a_cache_directory(tmp_path, monkeypatch):
    """``.meltano`` carries a CACHEDIR.TAG: backup tools skip everything under it."""
    (tmp_path / ".meltano").mkdir()
    (tmp_path / ".meltano" / "CACHEDIR.TAG").write_text(
        "Signature: 8a477f597d28d172789f06886806bc55"
    )
    monkeypatch.chdir(tmp_path)

    url = default_ledger_url()

    assert url == f"sqlite:///{tmp_path.resolve() / 'brevo-sync-ledger.sqlite'}"


@pytest.mark.parametrize("name", ["brevo-sync-ledger.sqlite", "brevo-sync-ledger.sqlite-wal"])
def test_git_ignores_the_default_ledger(name):
    result = subprocess.run(
        ["git", "check-ignore", "-q", name], cwd=ROOT, capture_output=True, check=False
    )

    assert result.returncode == 0

"""A dry run's ledger copy: the copies of dry runs killed with ``kill -9`` do not pile up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest

from target_brevo_tajo.ledger.scratch import (
    OWNER_FILE,
    PREFIX,
    UNOWNED_GRACE_SECONDS,
    remove_abandoned_copies,
    scratch_copy,
)


@pytest.fixture
def temporary(tmp_path, monkeypatch):
    """The temporary folder the dry runs' copies go to."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def a_copy(temporary, name, owner=None):
    folder = temporary / f"{PREFIX}{name}"
    folder.mkdir()
    (folder / "ledger.sqlite").write_bytes(b"")
    if owner is not None:
        (folder / OWNER_FILE).write_text(str(owner))
    return folder


def a_dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_copy_of_a_killed_dry_run_is_removed_by_the_next_one(temporary):
    killed = a_copy(temporary, "killed", owner=a_dead_pid())
    engine, folder = scratch_copy(f"sqlite:///{temporary / 'ledger.sqlite'}", {})
    engine.dispose()
    assert not killed.exists()
    assert (folder / OWNER_FILE).read_text() == str(os.getpid())


def test_the_copy_of_a_running_dry_run_is_kept(temporary):
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as running:
        try:
            alive = a_copy(temporary, "alive", owner=running.pid)
            remove_abandoned_copies(temporary)
            assert alive.exists()
        finally:
            running.kill()


def test_a_copy_being_made_is_kept_and_one_abandoned_long_ago_is_removed(temporary):
    being_made = a_copy(temporary, "new")
    long_ago = a_copy(temporary, "old")
    then = time.time() - UNOWNED_GRACE_SECONDS - 60
    os.utime(long_ago, (then, then))
    remove_abandoned_copies(temporary)
    assert being_made.exists()
    assert not long_ago.exists()


def test_other_folders_are_left_alone(temporary):
    other = temporary / "brevo-sync-ledger.sqlite"
    other.write_bytes(b"")
    unrelated = temporary / "something-else"
    unrelated.mkdir()
    remove_abandoned_copies(temporary)
    assert other.exists()
    assert unrelated.exists()

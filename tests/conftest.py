"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_mixpanel_tajo import client as tap_client
from target_brevo_tajo.report import SyncReport
from tests.report_checks import report_problems

ROOT = Path(__file__).resolve().parents[1]
MAPPING_FILE = ROOT / "mappings" / "mixpanel-to-brevo.yml"
SHARED_SPECS = ROOT.parent / "shared" / "specs"


@pytest.fixture
def mapping_file() -> Path:
    """The seed-format mapping file shipped in mappings/."""
    return MAPPING_FILE


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch) -> list[float]:
    """The tap's backoffs are recorded, never slept: tests stay fast and can assert the waits."""
    sleeps: list[float] = []
    monkeypatch.setattr(tap_client, "_default_sleep", sleeps.append)
    return sleeps


@pytest.fixture(autouse=True)
def reports_add_up(monkeypatch):
    """Every report a test renders or writes adds up, and its text shows every non-zero count.

    Problems are collected and fail the test at its end: code under test that catches errors
    cannot hide them.
    """
    problems: list[str] = []
    render, write = SyncReport.render, SyncReport.write

    def checked_render(self: SyncReport) -> str:
        text = render(self)
        problems.extend(report_problems(self.to_dict(), text))
        return text

    def checked_write(self: SyncReport, latest: Path, keep: int | None = None) -> Path:
        problems.extend(report_problems(self.to_dict(), render(self)))
        return write(self, latest, keep)

    monkeypatch.setattr(SyncReport, "render", checked_render)
    monkeypatch.setattr(SyncReport, "write", checked_write)
    yield problems
    if problems:
        pytest.fail("reports that do not add up:\n" + "\n".join(dict.fromkeys(problems)))

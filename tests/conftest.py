"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_mixpanel_tajo import client as tap_client

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

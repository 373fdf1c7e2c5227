"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPING_FILE = ROOT / "mappings" / "mixpanel-to-brevo.yml"
SHARED_SPECS = ROOT.parent / "shared" / "specs"


@pytest.fixture
def mapping_file() -> Path:
    """The seed-format mapping file shipped in mappings/."""
    return MAPPING_FILE

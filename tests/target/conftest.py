"""The target's settings shared by its tests (a module adds what it needs by overriding them),
and the PostgreSQL server of the ledger tests that need one.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """A SQLite ledger of the test's own."""
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture
def config(mapping_file: Path, ledger_url: str) -> dict:
    """The target's settings for a Brevo that respx mocks: the shipped mapping, the test's ledger.

    A module that needs more overrides it with ``def config(config): return {**config, ...}``.
    """
    return {
        "api_key": "xkeysib-test-secret",
        "mapping_file": str(mapping_file),
        "ledger_url": ledger_url,
    }


@pytest.fixture(scope="session")
def postgres(pg_server: str) -> str:
    """The session PostgreSQL server (tests/conftest.py) as a SQLAlchemy URL of its admin database.

    Each test takes databases of its own with ``tests.target.postgres.new_database``.
    """
    return pg_server.replace("postgresql://", "postgresql+psycopg://", 1)

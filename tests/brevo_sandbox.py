"""Fixtures shared by the sandbox's tests: a client of the module's server, and the Brevo clock.

Test modules import the fixtures by name (pytest finds them in the module's namespace).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from mixpanel_brevo_sandbox.server import SandboxServer

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clock():
    return FakeClock()


@pytest.fixture(scope="module")
def server(clock):
    with SandboxServer(seed=7, now=NOW, profiles=5, events=50, brevo_clock=clock) as running:
        yield running


@pytest.fixture
def client(server):
    server.state.reset()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def sandbox_config(sandbox: SandboxServer, mapping_file: Path, folder: Path, **settings) -> dict:
    """The target's config against ``sandbox``'s Brevo, its ledger in ``folder``, and more."""
    return {
        "api_key": "sandbox-brevo-key",
        "base_url": f"{sandbox.url}/brevo/v3",
        "mapping_file": str(mapping_file),
        "ledger_url": f"sqlite:///{folder / 'ledger.sqlite'}",
        **settings,
    }


def target_config(sandbox: SandboxServer, tmp_path: Path, mapping_text: str) -> dict:
    """The target's config against ``sandbox``'s Brevo, with this mapping and its own ledger."""
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(mapping_text)
    return sandbox_config(
        sandbox, mapping, tmp_path, create_missing_attributes=True, import_poll_seconds=0
    )

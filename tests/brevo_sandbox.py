"""Fixtures shared by the tests of the sandbox's Brevo: one server whose clock a test moves.

Test modules import the fixtures by name (pytest finds them in the module's namespace).
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from sandbox.server import SandboxServer

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

"""The sandbox's tests: one server per module, a fresh client per test, a Brevo clock that waits.

A module sizes its server with ``pytestmark = pytest.mark.sandbox(...)`` (as for the ``sandbox``
fixtures of tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tests.conftest import sandbox_settings


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move on ``seconds``: Brevo's rate windows and event queue see the time pass."""
        self.now += seconds


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    """The module's Brevo clock: tests cross an hour's rate window without sleeping."""
    return FakeClock()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[SandboxServer]:
    """The module's server, sized by its ``pytest.mark.sandbox(...)``, on the module's clock."""
    with SandboxServer(brevo_clock=clock, **sandbox_settings(request.node)) as running:
        yield running


@pytest.fixture
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    """A client of the module's server, its state back to the seeded one."""
    server.state.reset()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http

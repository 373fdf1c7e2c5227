"""The tap's tests share one sandbox per module: the tap only reads Mixpanel."""

from __future__ import annotations

import httpx
import pytest

from mixpanel_brevo_sandbox.server import SandboxServer


@pytest.fixture
def sandbox(shared_sandbox: SandboxServer) -> SandboxServer:
    """The module's sandbox, without faults and with an empty call log."""
    httpx.delete(f"{shared_sandbox.url}/_sandbox/faults").raise_for_status()
    httpx.delete(f"{shared_sandbox.url}/_sandbox/calls").raise_for_status()
    return shared_sandbox

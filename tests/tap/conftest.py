"""The tap's tests share one sandbox per module: the tap only reads Mixpanel."""

from __future__ import annotations

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http


@pytest.fixture
def sandbox(shared_sandbox: SandboxServer) -> SandboxServer:
    """The module's sandbox, without faults and with an empty call log."""
    http.delete(f"{shared_sandbox.url}/_sandbox/faults").raise_for_status()
    http.delete(f"{shared_sandbox.url}/_sandbox/calls").raise_for_status()
    return shared_sandbox

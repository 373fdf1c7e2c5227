"""The target against a sandbox's Brevo: its settings, a run of input, faults, events held."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TextIO

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http


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


def run(config: dict, messages: TextIO) -> TargetBrevoTajo:
    """The target, after it read ``messages`` to the end with ``config`` (no environment)."""
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.listen(messages)
    return target


def add_fault(sandbox: SandboxServer, **fault) -> None:
    """Have ``sandbox``'s Brevo answer as ``fault`` says (the admin API's fault fields)."""
    response = http.post(f"{sandbox.url}/_sandbox/faults", json={"api": "brevo", **fault})
    assert response.status_code == 201, response.text


def in_brevo(sandbox: SandboxServer) -> Counter[str]:
    """How many times each ``mp_insert_id`` is among the events of ``sandbox``'s Brevo."""
    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]
    return Counter(e["event_properties"]["mp_insert_id"] for e in events)

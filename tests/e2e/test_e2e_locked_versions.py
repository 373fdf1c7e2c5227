"""Meltano's plugin venvs hold the versions of uv.lock, the ones CI tested.

`make setup` installs the project venv from the lock; `meltano install` builds each plugin's own
venv from `pip_url: -e .`, which alone would pick whatever PyPI has that day. The Makefile passes
the lock as a constraints file, so a fresh clone runs the plugins on the tested versions.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import tomllib

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

PLUGIN_VENVS = {
    "tap-mixpanel-tajo": ROOT / ".meltano" / "extractors" / "tap-mixpanel-tajo" / "venv",
    "target-brevo-tajo": ROOT / ".meltano" / "loaders" / "target-brevo-tajo" / "venv",
    # The demo's PyPI plugins: their packages that the lock holds are at its versions too
    # (tap-jsonl declares singer-sdk ~=0.53.4; the Makefile's UV_OVERRIDE holds it to the lock's).
    "tap-jsonl": ROOT / ".meltano" / "extractors" / "tap-jsonl" / "venv",
    "target-csv": ROOT / ".meltano" / "loaders" / "target-csv" / "venv",
}


def locked_versions() -> dict[str, str]:
    """Each package of uv.lock (canonical name) and its version."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {canonical(p["name"]): p["version"] for p in lock["package"] if "version" in p}


def canonical(name: str) -> str:
    """PEP 503's normal form, so `Singer_SDK` and `singer-sdk` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions(venv: Path) -> dict[str, str]:
    """What the venv holds, read by its own interpreter."""
    script = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return {canonical(name): version for name, version in json.loads(out).items()}


@pytest.mark.parametrize("plugin", sorted(PLUGIN_VENVS))
def test_each_plugin_venv_holds_the_locked_versions(plugin):
    venv = PLUGIN_VENVS[plugin]
    assert venv.is_dir(), f"{plugin} is not installed: run `make test`"
    locked = locked_versions()
    installed = installed_versions(venv)
    assert "singer-sdk" in installed, f"{plugin}'s venv does not hold the SDK"
    differing = {
        name: (version, locked[name])
        for name, version in installed.items()
        if name in locked and name != "tajo-mixpanel-brevo" and version != locked[name]
    }
    assert not differing, f"{plugin}: installed vs locked {differing}"

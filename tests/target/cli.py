"""The target run as a command (``python -m target_brevo_tajo``), and the one line it ends in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_cli(config: dict, tmp_path: Path, input_bytes: bytes) -> subprocess.CompletedProcess:
    """The target run on ``input_bytes`` with ``config``, both written to files in ``tmp_path``."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    input_file = tmp_path / "input.jsonl"
    input_file.write_bytes(input_bytes)
    command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(config_file)]
    return subprocess.run(
        [*command, "--input", str(input_file)], capture_output=True, text=True, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """The run failed and its last line is its reason, at ERROR, holding every fragment."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    # The reason is the run's last line, logged at ERROR (issue 17 item 10).
    assert " | ERROR " in last, result.stderr[-2000:]
    assert " | target-brevo-tajo: " in last, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in last, last

"""The target names every mistake of its mapping file, one line each, before it reads any input.

Issue 17: only the first mistake was shown, and a contact attribute name with a space passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_the_target_prints_one_line_per_mapping_mistake_and_stops(tmp_path):
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(
        'event_mapping:\n  "Purchase": "order completed"\nproperty_mapping:\n  plan: PLAN TYPE\n'
    )
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "api_key": "xkeysib-test",
                "mapping_file": str(mapping),
                "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            }
        )
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_", "MELTANO_"))}

    result = subprocess.run(
        [sys.executable, "-m", "target_brevo_tajo", "--config", str(config)],
        input="",
        cwd=tmp_path,
        env=clean | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # The file as the user sees it from the working directory.
    # Each problem is an ERROR line of its own, the last lines of the run.
    last, second_last = result.stderr.splitlines()[-1], result.stderr.splitlines()[-2]
    assert "ERROR" in second_last
    assert second_last.endswith(
        "target-brevo-tajo: mapping.yml:2: event_mapping.Purchase: Brevo event name "
        "'order completed' must be 1-255 characters of A-Z, a-z, 0-9, '_' or '-'"
    )
    assert "ERROR" in last
    assert last.endswith(
        "target-brevo-tajo: mapping.yml:4: property_mapping.plan: Brevo contact attribute "
        "'PLAN TYPE' must be 1-255 characters of A-Z, a-z, 0-9 or '_' (no spaces)"
    )

"""End to end: a dry run through ``meltano run`` warns at the target's first and last line.

Issue 17, item 1: ``meltano run`` in the default environment (``dev``, a dry run) exited 0, wrote
nothing and saved no state, with nothing but an INFO line to say so.
"""

from __future__ import annotations

import re
import uuid

import pytest

from mixpanel_brevo_sandbox.demo import COHORTS_EXTRACTOR
from tests.e2e.meltano import meltano_run

pytestmark = pytest.mark.e2e


# A line Meltano logs for the target: "<time> [<level>] target-brevo-tajo <message>".
TARGET_LINE = re.compile(r"^\S+ \[(\w+)\s*\] target-brevo-tajo (.*)$")


def test_a_dry_run_under_meltano_run_warns_first_and_last_and_reports_dry_run(sandbox, tmp_path):
    report = meltano_run(
        sandbox,
        tmp_path,
        f"dry-{uuid.uuid4().hex[:8]}",
        1,
        extractor=COHORTS_EXTRACTOR,
        dry_run="true",
    )

    log = (tmp_path / "meltano-1.log").read_text().splitlines()
    target = [match.groups() for line in log if (match := TARGET_LINE.match(line))]
    first, last = target[0], target[-1]
    assert first[0] == "warning"
    assert first[1].startswith("DRY RUN (dry_run is true in Meltano environment 'sandbox')")
    assert last[0] == "warning"
    assert "nothing was written to Brevo and no state was saved" in last[1]
    assert f"`meltano --environment=prod run {COHORTS_EXTRACTOR} target-brevo-tajo`" in last[1]
    assert report["status"] == "dry_run"

"""End to end at Brevo's documented limits: 200,000 exported events, one `meltano run`.

The sandbox's Brevo enforces 200 events and 512 KB per batch call and the general tier's
budgets (10 event calls a second, 100 other calls an hour), answering 429 past them, as Brevo does.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.admin_http import http
from tests.e2e.meltano import brevo_events, expected_in_brevo, meltano_run

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox(events=200_000, days=2)]


@pytest.mark.slow
def test_200k_events_reach_brevo_once_in_paced_calls_of_at_most_200(sandbox, tmp_path):
    today = dt.datetime.now(dt.timezone.utc).date()
    window = ((today - dt.timedelta(days=9)).isoformat(), today.isoformat())

    report = meltano_run(sandbox, tmp_path, f"e2e-limits-{uuid.uuid4().hex[:8]}", 1)

    in_brevo = brevo_events(sandbox)
    assert set(in_brevo) == expected_in_brevo(sandbox, *window)
    assert max(in_brevo.values()) == 1
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=60).json()["calls"]
    batches = [c for c in calls if c["api"] == "brevo" and c["path"] == "/events/batch"]
    refused = [c for c in batches if c["status"] not in (202, 429)]
    assert refused == [], "a batch call broke Brevo's 200-event or 512 KB cap"
    answered_429 = sum(1 for c in calls if c["api"] == "brevo" and c["status"] == 429)
    assert answered_429 <= 20  # a handful of ~570 calls: several in flight meet fixed windows
    sent = report["events"]["sent"]
    assert sent == sum(in_brevo.values()) > 50_000
    # About events / 200: each sink batch of 5,000 records may end in one part-filled call.
    assert report["api_calls"]["POST /events/batch"] <= sent / 200 * 1.05 + 5
    events_budget = report["rate_budgets"]["events"]
    assert events_budget["budget"] == "10/s"
    assert events_budget["calls"] == report["api_calls"]["POST /events/batch"]
    assert events_budget["waited_seconds"] > 0  # paced, not hammering

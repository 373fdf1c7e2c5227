"""The report streams against the sandbox's Mixpanel, inside one Query API budget.

The sandbox enforces Mixpanel's Query API budget (calls in a sliding hour, calls at once) and
answers Mixpanel's 429 when it is overspent. The tap and the sandbox share one fake clock: the
tap's waits move it, so an hour passes in no time and the sandbox sees it pass too.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging

import httpx
import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo import tap as tap_module
from tap_mixpanel_tajo.query_budget import QueryBudget
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
REPORT_STREAMS = ["insights", "funnels", "segmentation", "retention", "annotations"]


class SharedClock:
    """Seconds that pass only when someone waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> SharedClock:
    shared = SharedClock()
    monkeypatch.setattr(
        tap_module, "QueryBudget", functools.partial(QueryBudget, clock=shared, sleep=shared.sleep)
    )
    return shared


def run_reports(sandbox: SandboxServer, capsys, *, per_hour: int) -> dict[str, list[dict]]:
    """A 30-day first run of every report stream (and cohorts, also Query API calls)."""
    config = {
        "base_url": f"{sandbox.url}/mixpanel",
        "project_id": "12345",
        "service_account_username": "sandbox-user",
        "service_account_secret": "sandbox-secret",
        "start_date": (NOW - dt.timedelta(days=30)).strftime("%Y-%m-%dT00:00:00Z"),
        "mapping_file": str(MAPPING_FILE),
        "bookmark_ids": [4101, 4102, 4103],
        "funnel_ids": "all",
        "segmentation_queries": [{"event": "Purchase"}, {"event": "Sign Up"}],
        "retention_queries": [{"born_event": "Sign Up", "event": "Purchase"}],
        "query_budget_per_hour": per_hour,
    }
    tap = TapMixpanelTajo(config=config, parse_env_config=False)
    wanted = {*REPORT_STREAMS, "cohorts"}
    for name, stream in tap.streams.items():
        stream.selected = name in wanted
    capsys.readouterr()
    tap.sync_all()
    records: dict[str, list[dict]] = {name: [] for name in wanted}
    for line in capsys.readouterr().out.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records[message["stream"]].append(message["record"])
    return records


def spent(sandbox: SandboxServer) -> dict:
    return http.get(f"{sandbox.url}/_sandbox/mixpanel/query-budget").json()


def test_a_30_day_backfill_of_every_report_stream_fits_the_budget_without_a_429(
    clock, capsys, caplog
):
    with SandboxServer(
        now=NOW, days=30, mixpanel_query_budget=(60, 5), mixpanel_query_clock=clock
    ) as sandbox:
        caplog.set_level(logging.INFO)
        records = run_reports(sandbox, capsys, per_hour=60)
        budget = spent(sandbox)

    assert all(records[name] for name in REPORT_STREAMS), {k: len(v) for k, v in records.items()}
    assert budget["rejected"] == 0
    assert 0 < budget["peak_hour"] <= 60
    assert budget["peak_running"] <= 5
    assert clock.waits == []  # the budget was never spent, so nothing waited
    assert any("Query API" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def test_a_budget_smaller_than_the_run_waits_for_the_next_hour_instead_of_failing(clock, capsys):
    with SandboxServer(
        now=NOW, days=30, mixpanel_query_budget=(4, 5), mixpanel_query_clock=clock
    ) as sandbox:
        records = run_reports(sandbox, capsys, per_hour=4)
        budget = spent(sandbox)

    assert all(records[name] for name in REPORT_STREAMS)
    assert budget["rejected"] == 0  # the tap waited; Mixpanel never had to refuse a call
    assert budget["peak_hour"] <= 4
    assert budget["calls"] > 4  # the run needed more than one hour's budget...
    assert sum(clock.waits) >= 3000  # ...and waited for the hour to pass


def test_calls_made_by_another_run_on_the_project_are_learned_from_mixpanels_429(clock, capsys):
    with SandboxServer(
        now=NOW, days=30, mixpanel_query_budget=(8, 5), mixpanel_query_clock=clock
    ) as sandbox:
        client = httpx.Client(base_url=f"{sandbox.url}/mixpanel")
        for _ in range(8):  # another job of the same customer spends the whole hour first
            client.get(
                "/api/query/funnels/list",
                params={"project_id": "12345"},
                auth=("sandbox-user", "sandbox-secret"),
            ).raise_for_status()
        records = run_reports(sandbox, capsys, per_hour=8)
        budget = spent(sandbox)

    assert all(records[name] for name in REPORT_STREAMS)
    assert budget["rejected"] >= 1  # Mixpanel's 429 told the tap the hour was spent...
    assert sum(clock.waits) >= 3000  # ...and the tap waited for it rather than failing

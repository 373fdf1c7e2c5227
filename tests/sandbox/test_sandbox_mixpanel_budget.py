"""Mixpanel's Query API budget in the sandbox: 60 an hour and 5 at once, Mixpanel's 429 body."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from mixpanel_brevo_sandbox.__main__ import build_parser
from mixpanel_brevo_sandbox.server import SandboxServer

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
SA = ("sandbox-user", "sandbox-secret")
PROJECT = {"project_id": 12345}
INSIGHTS = {**PROJECT, "bookmark_id": 4101}


class FakeClock:
    """The budget's sliding-hour clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def server(clock):
    with SandboxServer(
        seed=7, now=NOW, profiles=50, events=500, days=2, mixpanel_query_budget=(3, 2),
        mixpanel_query_clock=clock,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture
def client(server):
    server.state.reset()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def insights(client: httpx.Client) -> httpx.Response:
    return client.get("/mixpanel/api/query/insights", params=INSIGHTS, auth=SA)


def spent(client: httpx.Client) -> dict:
    return client.get("/_sandbox/mixpanel/query-budget").json()


def test_the_call_over_the_hour_gets_mixpanels_429_until_the_oldest_leaves(client, clock):
    answers = []
    for _ in range(3):
        answers.append(insights(client).status_code)
        clock.now += 600
    refused = insights(client)

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json() == {
        "request": "/api/query/insights?project_id=12345&bookmark_id=4101",
        "error": "Query rate limit exceeded for project_id: 12345. 1/2 queries running "
        "concurrently and 4/3 queries running in the last hour. For more information, please "
        "consult our documentation at https://help.mixpanel.com/hc/en-us/articles/"
        "115004602563-Rate-Limits-for-Export-API-Endpoints",
    }
    assert refused.headers["Retry-After"] == "1800"  # the first call leaves the hour then
    clock.now += 1800
    assert insights(client).status_code == 200
    assert spent(client) | {"running": 0} == {
        "enabled": True, "per_hour": 3, "concurrency": 2, "calls": 4, "rejected": 1,
        "in_last_hour": 3, "running": 0, "peak_hour": 3, "peak_running": 1,
    }  # fmt: skip


def test_every_query_api_endpoint_shares_it_but_not_export_nor_engage_pages(client):
    day = NOW.date().isoformat()
    client.get(
        "/mixpanel/api/query/segmentation",
        params={**PROJECT, "event": "Purchase", "from_date": day, "to_date": day}, auth=SA,
    )  # fmt: skip
    client.post("/mixpanel/api/query/cohorts/list", params=PROJECT, auth=SA)
    first = client.post("/mixpanel/api/query/engage", params=PROJECT, auth=SA).json()
    export = client.get(
        "/mixpanel/api/2.0/export", params={**PROJECT, "from_date": day, "to_date": day}, auth=SA
    )
    later = client.post(
        "/mixpanel/api/query/engage",
        params={**PROJECT, "page": 1, "session_id": first["session_id"]}, auth=SA,
    )  # fmt: skip
    annotations = client.get("/mixpanel/api/app/projects/12345/annotations", auth=SA)
    jql = client.post("/mixpanel/api/query/jql", params=PROJECT, data={"script": "x"}, auth=SA)

    assert (export.status_code, later.status_code, annotations.status_code) == (200, 200, 200)
    assert jql.status_code == 429
    assert "4/3 queries running in the last hour" in jql.json()["error"]
    assert spent(client)["calls"] == 3


def test_more_calls_running_at_once_than_allowed_get_the_429(client, server):
    fault = {
        "api": "mixpanel", "path": "/api/query/insights", "kind": "after_processing",
        "delay_seconds": 3, "times": 2,
    }  # fmt: skip
    assert client.post("/_sandbox/faults", json=fault).status_code == 201
    slow = [threading.Thread(target=insights, args=(client,)) for _ in range(2)]
    for thread in slow:
        thread.start()
    deadline = time.monotonic() + 10
    while spent(client)["running"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    refused = client.get("/mixpanel/api/query/funnels/list", params=PROJECT, auth=SA)
    for thread in slow:
        thread.join()

    assert refused.status_code == 429
    assert "3/2 queries running concurrently and 3/3 queries" in refused.json()["error"]
    budget = spent(client)
    assert (budget["calls"], budget["rejected"], budget["peak_running"]) == (2, 1, 3)


def test_off_by_default_yet_counted(clock):
    with (
        SandboxServer(seed=7, profiles=20, events=200, days=2, mixpanel_query_clock=clock) as sb,
        httpx.Client(base_url=sb.url, timeout=30) as http,
    ):
        answers = {insights(http).status_code for _ in range(70)}
        budget = spent(http)

    assert answers == {200}
    assert budget["enabled"] is False
    assert (budget["calls"], budget["peak_hour"], budget["rejected"]) == (70, 70, 0)


def test_the_admin_api_sets_and_turns_off_the_budget(client):
    set_to = client.post("/_sandbox/mixpanel/query-budget", json={"per_hour": 1, "concurrency": 5})
    statuses = [insights(client).status_code for _ in range(2)]
    off = client.post("/_sandbox/mixpanel/query-budget", json={"enabled": False})
    bad = client.post("/_sandbox/mixpanel/query-budget", json={"per_hour": 0, "concurrency": 5})

    assert set_to.json()["per_hour"] == 1
    assert statuses == [200, 429]
    assert off.json()["enabled"] is False
    assert insights(client).status_code == 200
    assert bad.status_code == 400
    assert json.loads(bad.text)["error"] == "per_hour must be a positive integer"


def test_the_command_line_turns_the_budget_on():
    assert build_parser().parse_args(["serve"]).mixpanel_query_budget is None
    args = build_parser().parse_args(["serve", "--mixpanel-query-budget", "60,5"])
    assert args.mixpanel_query_budget == (60, 5)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--mixpanel-query-budget", "60,0"])


def test_moving_the_sandbox_clock_lets_the_hour_pass(client):
    client.post("/_sandbox/mixpanel/query-budget", json={"per_hour": 1, "concurrency": 5})
    statuses = [insights(client).status_code for _ in range(2)]
    client.post("/_sandbox/clock", json={"advance_hours": 1})

    assert statuses == [200, 429]
    assert insights(client).status_code == 200

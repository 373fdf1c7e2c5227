"""The Query API budget: a sliding hour that waits, a concurrency cap, Mixpanel's 429 understood."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
import respx

from tap_mixpanel_tajo.client import Credentials, MixpanelClient
from tap_mixpanel_tajo.query_budget import QueryBudget, hourly_figure, is_query_api

QUERY = "https://mixpanel.com/api/query/events"
EXPORT = "https://data.mixpanel.com/api/2.0/export"
APP = "https://mixpanel.com/api/app/projects/12345/annotations"
RATE_LIMITED = (
    "Query rate limit exceeded for project_id: 12345. 1/5 queries running concurrently and "
    "{used}/60 queries running in the last hour. Please try again later."
)
SA = Credentials(
    service_account_username="sa-user", service_account_secret="sa-secret", project_id="12345"
)


class Clock:
    """A clock that moves only when the budget sleeps (or the test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def ok() -> httpx.Response:
    return httpx.Response(200, json={})


def budget(clock: Clock, per_hour: int = 3, concurrency: int = 5) -> QueryBudget:
    return QueryBudget(per_hour, concurrency, clock=clock, sleep=clock.sleep)


def test_query_api_urls_are_told_from_export_and_app_api_urls():
    assert is_query_api(QUERY)
    assert is_query_api("http://127.0.0.1:8080/mixpanel/api/query/engage")
    assert not is_query_api(EXPORT)
    assert not is_query_api(APP)


def test_never_more_than_the_budget_in_any_hour_the_call_waits_instead():
    clock = Clock()
    spent = budget(clock, per_hour=3)
    starts: list[float] = []

    def call() -> httpx.Response:
        starts.append(clock.now)
        return ok()

    for _ in range(3):
        spent.send(QUERY, call)
        clock.now += 600  # ten minutes between calls
    for _ in range(4):
        spent.send(QUERY, call)

    assert len(starts) == 7
    assert all(
        sum(1 for s in starts if start <= s < start + 3600) <= 3 for start in starts
    )  # any hour from any call holds at most 3
    assert starts[3] == starts[0] + 3600  # waited for the oldest call to leave the hour
    assert spent.calls == 7
    assert spent.waits == 4
    assert clock.sleeps[0] == pytest.approx(3600 - 1800)


def test_a_spent_budget_says_until_when_it_waits(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    spent = budget(clock, per_hour=1)
    spent.send(QUERY, ok)
    spent.send(QUERY, ok)

    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert len(waits) == 1
    assert "Query API budget spent (1 calls in the last hour, limit 1): waiting 3600 s" in waits[0]
    assert " UTC" in waits[0]


def test_export_and_app_api_calls_take_nothing_from_the_budget():
    clock = Clock()
    spent = budget(clock, per_hour=1)
    for url in (EXPORT, APP, EXPORT):
        spent.send(url, ok)

    assert spent.calls == 0
    assert clock.sleeps == []


def test_mixpanels_429_body_is_read():
    assert hourly_figure(RATE_LIMITED.format(used=61)) == (61, 60)
    assert hourly_figure("Too many requests") is None


def test_a_429_corrects_the_budgets_view_so_the_retry_waits_for_room(caplog):
    """Others spent the project's hour: the retry waits for room instead of failing again."""
    caplog.set_level(logging.INFO)
    clock = Clock()
    spent = budget(clock, per_hour=60)
    answers = [httpx.Response(429, json={"error": RATE_LIMITED.format(used=61)}), ok()]

    first = spent.send(QUERY, lambda: answers.pop(0))
    second = spent.send(QUERY, lambda: answers.pop(0))

    assert (first.status_code, second.status_code) == (429, 200)
    assert spent.rate_limited == 1
    assert spent.calls == 2
    assert spent.waits == 1
    assert clock.sleeps == [pytest.approx(3600)]
    assert any("Mixpanel counts 61 of 60 queries" in r.getMessage() for r in caplog.records)


def test_a_429_without_the_budget_text_is_counted_and_left_to_the_retries():
    clock = Clock()
    spent = budget(clock, per_hour=60)
    spent.send(QUERY, lambda: httpx.Response(429, text="slow down"))
    spent.send(QUERY, ok)

    assert spent.rate_limited == 1
    assert clock.sleeps == []


def test_never_more_than_the_concurrency_cap_in_flight():
    spent = QueryBudget(100, 2)
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def call() -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        return ok()

    threads = [threading.Thread(target=spent.send, args=(QUERY, call)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most[0] == 2
    assert spent.calls == 8


def test_the_summary_says_calls_waits_and_429s(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    spent = budget(clock, per_hour=1, concurrency=5)
    spent.send(QUERY, lambda: httpx.Response(429, text="x"))
    spent.send(QUERY, ok)
    spent.log_summary()

    assert caplog.records[-1].getMessage() == (
        "Query API budget: 2 calls (limit 1 an hour, 5 at once) and 0 later Engage pages, "
        "1 waits (3600 s), "
        "1 rate-limited answers (429)"
    )


@respx.mock
def test_the_client_sends_query_api_requests_through_its_budget_and_retries_a_429():
    clock = Clock()
    spent = budget(clock, per_hour=60)
    sleeps: list[float] = []
    client = MixpanelClient(SA, sleep=sleeps.append, budget=spent)
    route = respx.get(QUERY).mock(
        side_effect=[
            httpx.Response(429, json={"error": RATE_LIMITED.format(used=60)}),
            httpx.Response(200, json={"data": {"values": {}}}),
        ]
    )
    respx.get(EXPORT).respond(200, content=b"")

    assert client.request_json("GET", QUERY) == {"data": {"values": {}}}
    assert list(client.iter_export("2024-01-01", "2024-01-01")) == []

    assert route.call_count == 2
    assert (spent.calls, spent.rate_limited) == (2, 1)
    assert len(sleeps) == 1  # the client's own backoff, then the budget's wait for room
    assert clock.sleeps == [pytest.approx(3600)]


@respx.mock
def test_later_engage_pages_hold_a_slot_but_take_nothing_from_the_hour():
    """Mixpanel counts an Engage query once, at its first page."""
    clock = Clock()
    spent = budget(clock, per_hour=1)
    client = MixpanelClient(SA, sleep=clock.sleep, budget=spent)
    results = [{"$distinct_id": str(n), "$properties": {}} for n in range(2)]
    respx.post("https://mixpanel.com/api/query/engage").mock(
        side_effect=[
            httpx.Response(200, json={"page": p, "page_size": 2, "session_id": "S", "results": r})
            for p, r in enumerate([results, results, results[:1]])
        ]
    )

    pages = list(client.iter_engage({}))

    assert len(pages) == 3
    assert (spent.calls, spent.later_pages, spent.waits) == (1, 2, 0)
    assert clock.sleeps == []


def test_a_wait_ends_even_when_the_sleep_does_not_move_the_clock():
    """A replaced sleep (tests, the ``no_sleep`` fixture) must not spin on an unmoved clock."""
    waits: list[float] = []
    spent = QueryBudget(1, 1, clock=lambda: 500.0, sleep=waits.append)
    for _ in range(3):
        spent.send(QUERY, ok)

    assert waits == [3600, 7200]  # the clock still says 500: the third call is two hours on
    assert spent.calls == 3

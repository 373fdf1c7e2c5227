"""Brevo as documented: calls of 200 events and 512 KB, every answer shape, paced budgets.

The answer bodies below are Brevo's documented ones
(https://developers.brevo.com/reference/create-batch-events).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import respx
from click.testing import CliRunner

from target_brevo_tajo.brevo.client import BrevoClient
from target_brevo_tajo.brevo.rate_budget import (
    ARRIVAL_MARGIN_SECONDS,
    RateBudget,
    RateBudgets,
    bucket_of,
)
from target_brevo_tajo.events.ledger import EventLedger, event_key
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import EVENT_TIME, event, singer_input

BREVO = "https://api.brevo.com/v3"
QUEUED = "Batch accepted. Valid events have been added to the processing queue."


@pytest.fixture
def config(config: dict, tmp_path: Path) -> dict:
    return {**config, "rejects_file": str(tmp_path / "rejects.jsonl")}


def run_target(config: dict, *records: dict) -> TargetBrevoTajo:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = lambda _seconds: None
    target.listen(singer_input(*records))
    return target


def purchases(count: int, prefix: str = "e") -> list[dict]:
    return [event("Purchase", f"{prefix}-{i}") for i in range(count)]


def events_in(request: httpx.Request) -> list[dict]:
    return json.loads(request.content)["events"]


def queued(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"message": QUEUED, "count": len(events_in(request))})


def ledger_keys(config: dict, count: int, prefix: str = "e") -> set[str]:
    keys = [event_key("Purchase", f"{prefix}-{i}", EVENT_TIME) for i in range(count)]
    return EventLedger(Ledger(config["ledger_url"])).sent_event_keys(keys)


# -- the documented caps ------------------------------------------------------------------------


@respx.mock(base_url=BREVO)
def test_by_default_calls_carry_at_most_200_events_and_512_kb(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=queued)

    run_target(
        config,
        *purchases(450),
        *[event("Purchase", f"big-{i}", note="x" * 4000) for i in range(300)],
    )

    counts = [len(events_in(call.request)) for call in route.calls]
    assert max(counts) == 200
    assert sum(counts) == 750
    assert all(len(call.request.content) <= 524_288 for call in route.calls)


@pytest.mark.parametrize(
    ("setting", "value", "cap"),
    [
        ("events_batch_size", 500, "200 events per POST /events/batch call"),
        ("events_batch_max_bytes", 2_000_000, "524288 bytes (512 KB) per POST /events/batch body"),
        ("contacts_import_max_bytes", 12_000_000, "10000000 bytes (10 MB)"),
    ],
)
def test_a_setting_above_a_documented_cap_is_refused_at_start_with_one_line(
    config, tmp_path, setting, value, cap
):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({**config, setting: value}))

    result = CliRunner().invoke(TargetBrevoTajo.cli, ["--config", str(config_file)], input="")

    message = str(result.exception)
    assert result.exit_code != 0
    assert message.startswith(f"target-brevo-tajo: {setting} is {value}, above Brevo's")
    assert cap in message
    assert "\n" not in message


# -- every documented answer of POST /events/batch ------------------------------------------------


@respx.mock(base_url=BREVO)
def test_202_with_the_full_count_accepts_every_event(respx_mock, config):
    respx_mock.post("/events/batch").mock(side_effect=queued)

    target = run_target(config, *purchases(5))

    assert target.run.report.events.sent == 5
    assert target.run.report.events.undetailed_shortfalls == []
    assert len(ledger_keys(config, 5)) == 5


@respx.mock(base_url=BREVO)
def test_202_with_a_lower_count_is_kept_as_accepted_and_reported_never_resent(
    respx_mock, config, caplog
):
    route = respx_mock.post("/events/batch").mock(
        return_value=httpx.Response(202, json={"message": QUEUED, "count": 195})
    )

    with caplog.at_level(logging.WARNING):
        target = run_target(config, *purchases(200))
    rerun = run_target(config, *purchases(200))

    assert route.call_count == 1  # a resend would double the 195 Brevo queued
    assert rerun.run.report.events.deduplicated_by_ledger == 200
    rendered = target.run.report.render()
    assert "Brevo accepted 195 of 200 in one call and gave no detail" in rendered
    assert "Brevo accepted 195 of 200 in one call and gave no detail" in caplog.text
    assert target.run.report.to_dict()["events"]["calls_accepted_in_part_without_detail"] == [
        {"accepted": 195, "sent": 200}
    ]


@respx.mock(base_url=BREVO)
def test_400_failed_with_event_indices_rejects_those_events_with_brevos_message(
    respx_mock, config, tmp_path
):
    respx_mock.post("/events/batch").mock(
        return_value=httpx.Response(
            400,
            json={
                "status": "failed",
                "total_events": 2,
                "successful_events": 0,
                "failed_events": 2,
                "errors": [{"eventIndex": [0, 1], "message": "identifiers: contact not found"}],
            },
        )
    )

    target = run_target(config, *purchases(2))

    report = target.run.report.to_dict()["events"]
    assert report["sent"] == 0
    assert report["rejected_by_reason"] == {"Brevo: identifiers: contact not found": 2}
    assert ledger_keys(config, 2) == set()
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 2


@respx.mock(base_url=BREVO)
def test_207_accepts_the_rest_and_rejects_the_indexed_events(respx_mock, config):
    respx_mock.post("/events/batch").mock(
        return_value=httpx.Response(
            207,
            json={
                "status": "partiallyQueued",
                "total_events": 4,
                "successful_events": 3,
                "failed_events": 1,
                "errors": [{"eventIndex": [2], "message": "event_date: invalid format"}],
            },
        )
    )

    target = run_target(config, *purchases(4))

    assert target.run.report.events.sent == 3
    assert ledger_keys(config, 4) == {
        event_key("Purchase", f"e-{i}", EVENT_TIME) for i in (0, 1, 3)
    }


def refuse_over(limit: int, status: int):
    """A Brevo whose cap is ``limit`` events: larger calls get ``status`` out_of_range."""

    def answer(request: httpx.Request) -> httpx.Response:
        if len(events_in(request)) > limit:
            return httpx.Response(
                status, json={"code": "out_of_range", "message": f"at most {limit} events"}
            )
        return queued(request)

    return answer


@pytest.mark.parametrize("status", [400, 413])
@respx.mock(base_url=BREVO)
def test_a_call_over_brevos_cap_is_split_in_halves_and_nothing_is_dropped(
    respx_mock, config, status
):
    route = respx_mock.post("/events/batch").mock(side_effect=refuse_over(60, status))

    target = run_target(config, *purchases(200))

    sizes = [len(events_in(call.request)) for call in route.calls]
    assert sizes == [200, 100, 50, 50, 100, 50, 50]
    assert target.run.report.events.sent == 200
    assert len(ledger_keys(config, 200)) == 200


@respx.mock(base_url=BREVO)
def test_a_single_event_over_the_cap_is_rejected_with_brevos_reason_and_the_run_goes_on(
    respx_mock, config
):
    route = respx_mock.post("/events/batch").mock(side_effect=refuse_over(0, 413))

    target = run_target(config, *purchases(2))

    assert route.call_count == 3  # the call, then each half once: no loop
    assert target.run.report.events.rejected == {"Brevo: at most 0 events": 2}


# -- rate budgets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        ("POST", "/events/batch", "events"),
        ("POST", "/events", "events"),
        ("GET", "/events", "other"),
        ("POST", "/contacts/import", "contacts"),
        ("PUT", "/contacts/ada%40example.com", "contacts"),
        ("GET", "/processes/12", "other"),
        ("GET", "/contacts/attributes", "contacts"),
        ("POST", "/contacts/lists/7/contacts/add", "contacts"),
        ("POST", "/contacts/folders", "contacts"),
        ("POST", "/companies/import", "other"),
    ],
)
def test_each_call_spends_the_bucket_brevo_counts_it_in(method, path, bucket):
    assert bucket_of(method, path) == bucket


def test_the_eleventh_events_call_in_a_second_waits_for_the_first_to_leave_the_window():
    budget = RateBudgets("general").buckets["events"]

    waits = [budget.reserve(now=100.0) for _ in range(11)]

    assert waits[:10] == [0.0] * 10
    assert 1.0 <= waits[10] <= 1.1


def test_the_tier_sets_the_budgets_before_brevo_has_answered():
    assert RateBudgets("advanced").buckets["other"].limit == 200
    assert RateBudgets("extended").buckets["contacts"].limit == 60


def test_a_spent_hourly_budget_waits_for_the_reset_and_says_so_in_one_line(caplog):
    budget = RateBudget("other", 100, 3600.0)
    spent = httpx.Response(
        200,
        headers={
            "x-sib-ratelimit-limit": "100",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": "840",
        },
    )

    budget.observe(spent, now=0.0)
    with caplog.at_level(logging.INFO, logger="target-brevo-tajo"):
        wait = budget.reserve(now=0.0)

    assert 840 <= wait < 841
    assert "waiting 14 min for Brevo's hourly budget of other calls: 100 used" in caplog.text


def _per_second_answer(remaining: int) -> httpx.Response:
    # Brevo's reset is whole seconds: a per-second window always says "1".
    return httpx.Response(
        202,
        headers={
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": str(remaining),
            "x-sib-ratelimit-reset": "1",
        },
    )


def test_a_window_spent_by_our_own_calls_costs_no_wait_beyond_the_window():
    budget = RateBudgets("general").buckets["events"]
    for _ in range(10):
        budget.reserve(now=100.0)

    budget.observe(_per_second_answer(remaining=0), now=100.6)
    wait = budget.reserve(now=100.6)

    # The 11th call leaves once the first leaves the window, not a reset after this answer.
    assert 0.4 <= wait <= 0.5


def test_a_window_our_own_calls_spent_is_judged_when_its_last_call_left_not_answered():
    budget = RateBudgets("general").buckets["events"]
    budget.reserve(now=100.0)
    for _ in range(9):
        budget.reserve(now=100.95)

    # The 10th call left at 100.95; its answer, a round trip later, finds the 1st call out of
    # the last window, yet Brevo counted all ten in one window, which ends soon after.
    budget.observe(_per_second_answer(remaining=0), now=101.2, sent_at=100.95)

    assert budget.reserve(now=101.2) <= 0.0


def test_a_window_our_own_late_call_filled_costs_no_wait_for_brevos_reset():
    now = [100.0]
    calls: list[httpx.Request] = []

    def brevo(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _per_second_answer(remaining=10 - len(calls))

    client = BrevoClient(
        BREVO,
        "key",
        transport=httpx.MockTransport(brevo),
        clock=lambda: now[0],
        sleep=lambda _s: None,
    )
    for _ in range(9):
        client.request("POST", "/events/batch", content=b'{"events":[]}')

    def held_up() -> None:  # the ledger busy, the machine loaded: it leaves 0.2 s after its slot
        now[0] += 0.2

    client.request("POST", "/events/batch", content=b'{"events":[]}', before_send=held_up)

    # Our own ten calls filled the window: the 11th waits for the 1st to leave it, not for a
    # reset counted from the 10th's answer.
    slot = client.wait_for_slot("POST", "/events/batch")
    assert slot == pytest.approx(100.0 + 1.0 + ARRIVAL_MARGIN_SECONDS)


def test_a_window_spent_by_another_client_waits_for_brevos_reset():
    budget = RateBudgets("general").buckets["events"]
    for _ in range(3):
        budget.reserve(now=100.0)

    budget.observe(_per_second_answer(remaining=0), now=100.6)

    assert 1.0 <= budget.reserve(now=100.6) <= 1.1


def test_the_headers_reveal_the_accounts_real_limit():
    budget = RateBudget("other", 100, 3600.0)
    answer = httpx.Response(
        200,
        headers={
            "x-sib-ratelimit-limit": "200",
            "x-sib-ratelimit-remaining": "150",
            "x-sib-ratelimit-reset": "2712",
        },
    )

    budget.observe(answer, now=0.0)

    assert budget.limit == 200
    assert budget.reserve(now=0.0) == 0.0


@respx.mock(base_url=BREVO)
def test_the_client_paces_calls_to_the_budget_before_brevo_says_429(respx_mock):
    respx_mock.post("/events/batch").mock(return_value=httpx.Response(202, json={"count": 1}))
    sleeps: list[float] = []
    client = BrevoClient(BREVO, "key", sleep=sleeps.append, clock=lambda: 50.0)

    for _ in range(25):
        client.request("POST", "/events/batch", content=b'{"events":[]}')

    assert len(sleeps) == 15  # calls 11-25 wait for their slot
    assert 2.0 <= max(sleeps) <= 2.2  # call 25 goes in the third second
    assert client.budgets.report()["events"]["calls"] == 25


@respx.mock(base_url=BREVO)
def test_a_429_waits_for_the_announced_reset_then_succeeds_and_is_counted(respx_mock):
    respx_mock.get("/processes/3").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "30"},
                json={"code": "too_many_requests", "message": "Too many requests"},
            ),
            httpx.Response(200, json={"status": "completed"}),
        ]
    )
    sleeps: list[float] = []
    client = BrevoClient(BREVO, "key", sleep=sleeps.append, clock=lambda: 0.0, max_wait_seconds=5)

    assert client.call("GET", "/processes/3") == {"status": "completed"}

    assert len(sleeps) == 1
    assert 30 <= sleeps[0] < 31  # the reset, not the 5 s backoff cap: no hammering
    assert client.budgets.report()["other"]["answered_429"] == 1


@respx.mock(base_url=BREVO)
def test_the_sync_report_shows_each_buckets_calls_budget_and_waiting(respx_mock, config):
    respx_mock.post("/events/batch").mock(side_effect=queued)

    target = run_target(config, *purchases(3))

    report = target.run.report.to_dict()
    assert report["rate_budgets"]["events"] == {
        "calls": 1,
        "budget": "10/s",
        "waited_seconds": 0.0,
        "answered_429": 0,
    }
    assert "events budget 10/s: 1 calls" in target.run.report.render()


# -- budgets learnt from Brevo's headers: limit and window ----------------------------------------


def _rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "x-sib-ratelimit-limit": str(limit),
        "x-sib-ratelimit-remaining": str(remaining),
        "x-sib-ratelimit-reset": str(reset),
    }


def test_limit_10_reset_1_on_a_budget_assumed_hourly_makes_it_10_a_second_not_10_an_hour(caplog):
    budget = RateBudget("other", 100, 3600.0)

    budget.observe(httpx.Response(201, headers=_rate_headers(10, 9, 1)), now=0.0)
    with caplog.at_level(logging.INFO, logger="target-brevo-tajo"):
        waits = [budget.reserve(now=0.0) for _ in range(21)]

    assert waits[:10] == [0.0] * 10
    assert 1.0 <= waits[10] <= 1.1  # the 11th call goes a second later, not an hour later
    assert max(waits) <= 2.2
    assert budget.to_dict()["budget"] == "10/s"
    assert "waiting" not in caplog.text


def test_a_per_second_answer_to_a_call_budgeted_hourly_teaches_that_budget_not_the_contacts_one():
    budgets = RateBudgets("general")

    budgets.observe("GET", "/processes/3", httpx.Response(200, headers=_rate_headers(50, 49, 1)),
                    now=0.0, sent_at=0.0)  # fmt: skip

    other, contacts = budgets.buckets["other"], budgets.buckets["contacts"]
    assert budgets.for_call("GET", "/processes/4") is other
    assert (other.limit, other.window_seconds) == (50, 1.0)
    assert (contacts.limit, contacts.window_seconds) == (10, 1.0)


def test_an_endpoint_whose_answers_show_an_hourly_window_leaves_the_per_second_bucket():
    budgets = RateBudgets("general")
    hourly = httpx.Response(200, headers=_rate_headers(100, 99, 2712))

    budgets.observe("GET", "/contacts/attributes", hourly, now=0.0, sent_at=0.0)

    assert budgets.for_call("GET", "/contacts/attributes") is budgets.buckets["other"]
    contacts = budgets.buckets["contacts"]
    assert (contacts.limit, contacts.window_seconds) == (10, 1.0)  # its pacing is not misled
    assert budgets.for_call("POST", "/contacts/lists/7/contacts/add") is contacts


def test_an_answer_describing_the_contacts_buckets_hourly_ceiling_keeps_its_per_second_pace():
    budgets = RateBudgets("general")
    ceiling = httpx.Response(201, headers=_rate_headers(36_000, 35_000, 2712))  # 36,000 an hour

    for path in ("/contacts/import", "/contacts/lists/7/contacts/add"):
        budgets.observe("POST", path, ceiling, now=0.0, sent_at=0.0)

    contacts = budgets.buckets["contacts"]
    assert (contacts.limit, contacts.window_seconds) == (10, 1.0)
    assert budgets.for_call("POST", "/contacts/lists/7/contacts/add") is contacts


class FakeClock:
    """Monotonic seconds that move only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class PerSecondBrevo:
    """Brevo's list-membership endpoint with a fixed one-second window of ``limit`` calls."""

    def __init__(self, clock: FakeClock, limit: int) -> None:
        self.clock, self.limit = clock, limit
        self.window_start, self.used, self.refused = -10.0, 0, 0

    def __call__(self, _request: httpx.Request) -> httpx.Response:
        if self.clock.now - self.window_start >= 1.0:
            self.window_start, self.used = self.clock.now, 0
        if self.used >= self.limit:
            self.refused += 1
            return httpx.Response(429, headers=_rate_headers(self.limit, 0, 1))
        self.used += 1
        headers = _rate_headers(self.limit, self.limit - self.used, 1)
        return httpx.Response(
            201, json={"contacts": {"success": [], "failure": []}}, headers=headers
        )


@pytest.mark.parametrize("per_second", [10, 20])
@respx.mock(base_url=BREVO)
def test_list_membership_calls_pace_to_brevos_per_second_headers_so_100000_members_take_a_minute(
    respx_mock, per_second
):
    clock = FakeClock()
    brevo = PerSecondBrevo(clock, per_second)
    respx_mock.post("/contacts/lists/7/contacts/add").mock(side_effect=brevo)
    client = BrevoClient(BREVO, "key", sleep=clock.sleep, clock=clock)

    calls = -(-100_000 // 150)  # 150 members a call: 667 calls
    for _ in range(calls):
        client.request("POST", "/contacts/lists/7/contacts/add", json={"ids": [1]})

    assert brevo.refused == 0
    # The headers set the pace: 667 calls at 10 (20) a second, not 100 (or 10) an hour.
    assert calls / per_second <= clock.now <= calls / per_second * 1.1
    assert client.budgets.report()["contacts"]["budget"] == f"{per_second}/s"

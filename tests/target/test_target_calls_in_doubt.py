"""Calls in doubt: a batch call whose answer never came is settled from what Brevo shows.

Brevo events carry no idempotency key, so a call that may have been queued is never resent
blindly: after ``events_settle_seconds`` its events are looked up with ``GET /events`` (each
carries ``mp_insert_id``), those found are recorded as sent, and only the missing ones go again.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx
import sqlalchemy as sa

from target_brevo_tajo.brevo.client import BrevoClient
from target_brevo_tajo.events.api import find_queued
from target_brevo_tajo.events.ledger import EventLedger, LedgerEvent, event_key
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.ledger.schema import event_calls
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import EVENT_TIME, cohort, cohorts_input, event, singer_input

BREVO = "https://api.brevo.com/v3"
BREVO_DATE = "2026-11-20T10:00:00.000Z"  # how Brevo writes the event_date it was sent
STATE = {"bookmarks": {"events": {"replication_key_value": "2026-11-20T10:00:00Z"}}}


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "events_settle_seconds": 30}


def run_target(
    config: dict, *records: dict, sleeps: list[float] | None = None, state: dict | None = None
) -> TargetBrevoTajo:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = (sleeps if sleeps is not None else []).append
    target.listen(singer_input(*records, state=state))
    return target


def batch_ids(request: httpx.Request) -> list[str]:
    return [e["event_properties"]["mp_insert_id"] for e in json.loads(request.content)["events"]]


def queued(request: httpx.Request) -> httpx.Response:
    count = len(json.loads(request.content)["events"])
    return httpx.Response(202, json={"message": "Batch accepted.", "count": count})


def brevo_lists(*insert_ids: str) -> httpx.Response:
    """``GET /events`` answering that Brevo holds these order_completed events."""
    events = [
        {
            "contact_id": 7,
            "event_date": BREVO_DATE,
            "event_name": "order_completed",
            "event_properties": {"mp_insert_id": insert_id},
        }
        for insert_id in insert_ids
    ]
    return httpx.Response(200, json={"count": len(events), "events": events})


def purchases(*insert_ids: str) -> list[dict]:
    return [event("Purchase", insert_id) for insert_id in insert_ids]


def sent_keys(config: dict, *insert_ids: str) -> set[str]:
    keys = [event_key("Purchase", i, EVENT_TIME) for i in insert_ids]
    return EventLedger(Ledger(config["ledger_url"])).sent_event_keys(keys)


@respx.mock(base_url=BREVO)
def test_a_502_after_brevo_queued_the_call_is_settled_without_resending_anything(
    respx_mock, config
):
    batches = respx_mock.post("/events/batch").mock(return_value=httpx.Response(502))
    respx_mock.get("/events").mock(return_value=brevo_lists("a", "b"))
    sleeps: list[float] = []

    target = run_target(config, *purchases("a", "b"), sleeps=sleeps)

    assert batches.call_count == 1
    assert any(29 <= s <= 30 for s in sleeps)  # the lookup waited for Brevo's queue
    report = target.run.report.events
    assert (report.sent, report.calls_in_doubt, report.found_in_brevo_when_settling) == (2, 1, 2)
    assert report.sent_by_earlier_runs == 0  # this run's own call delivered them
    assert len(sent_keys(config, "a", "b")) == 2
    assert EventLedger(Ledger(config["ledger_url"])).calls_in_doubt() == []


@respx.mock(base_url=BREVO)
def test_only_the_events_brevo_does_not_show_are_resent(respx_mock, config):
    batches = respx_mock.post("/events/batch").mock(
        side_effect=[httpx.Response(503), httpx.Response(202, json={"count": 1})]
    )
    respx_mock.get("/events").mock(return_value=brevo_lists("a", "c"))

    target = run_target(config, *purchases("a", "b", "c"))

    assert [batch_ids(call.request) for call in batches.calls] == [["a", "b", "c"], ["b"]]
    assert target.run.report.events.resent_after_settling == 1
    assert len(sent_keys(config, "a", "b", "c")) == 3


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("stalled"), httpx.RemoteProtocolError("reset mid-answer")],
    ids=["timeout", "reset"],
)
@respx.mock(base_url=BREVO)
def test_a_call_that_got_no_answer_is_looked_up_not_resent_blindly(respx_mock, config, failure):
    batches = respx_mock.post("/events/batch").mock(side_effect=[failure])
    lookups = respx_mock.get("/events").mock(return_value=brevo_lists("a"))

    run_target(config, *purchases("a"))

    assert (batches.call_count, lookups.call_count) == (1, 1)
    assert len(sent_keys(config, "a")) == 1


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_a_call_that_never_left_is_retried_without_a_lookup(respx_mock, config):
    batches = respx_mock.post("/events/batch").mock(
        side_effect=[httpx.ConnectError("refused"), queued]
    )
    lookups = respx_mock.get("/events")

    run_target(config, *purchases("a"))

    assert (batches.call_count, lookups.call_count) == (2, 0)


@respx.mock(base_url=BREVO)
def test_a_call_left_in_doubt_by_a_killed_run_is_settled_first_by_the_next_run(respx_mock, config):
    ledger = Ledger(config["ledger_url"])
    payload = {
        "event_name": "order_completed",
        "event_date": "2026-11-20T10:00:00Z",
        "identifiers": {"ext_id": "user-1"},
        "event_properties": {"mp_insert_id": "x"},
    }
    entries = [
        LedgerEvent(
            event_key("Purchase", i, EVENT_TIME),
            i,
            "Purchase",
            EVENT_TIME,
            json.dumps({**payload, "event_properties": {"mp_insert_id": i}}).encode(),
        )
        for i in ("a", "b")
    ]
    EventLedger(ledger).open_call(
        "killed-mid-call", entries, lease_seconds=0
    )  # died before the answer
    batches = respx_mock.post("/events/batch").mock(side_effect=queued)
    respx_mock.get("/events").mock(return_value=brevo_lists("a"))

    rerun = run_target(config, *purchases("a", "b", "c"))

    assert [batch_ids(call.request) for call in batches.calls] == [["b"], ["c"]]
    report = rerun.run.report.events
    assert report.deduplicated_by_ledger == 2
    # "a" was delivered by the killed run's call: this run sent only "b" (again) and "c".
    assert (report.taken_over_from_earlier_runs, report.sent_by_earlier_runs) == (2, 1)
    assert (report.sent, report.resent_after_settling) == (2, 1)
    assert EventLedger(Ledger(config["ledger_url"])).calls_in_doubt() == []


def killed_call(config: dict, *insert_ids: str, lease_seconds: float = 0) -> None:
    """A call of these order_completed events, claimed by a run killed before the answer."""
    entries = [
        LedgerEvent(
            event_key("Purchase", i, EVENT_TIME),
            i,
            "Purchase",
            EVENT_TIME,
            json.dumps(
                {
                    "event_name": "order_completed",
                    "event_date": "2026-11-20T10:00:00Z",
                    "identifiers": {"ext_id": "user-1"},
                    "event_properties": {"mp_insert_id": i},
                }
            ).encode(),
        )
        for i in insert_ids
    ]
    EventLedger(Ledger(config["ledger_url"])).open_call("killed-mid-call", entries, lease_seconds)


@respx.mock(base_url=BREVO)
def test_a_run_that_receives_no_events_settles_the_calls_an_earlier_run_left_in_doubt(
    respx_mock, config
):
    """Issue 17: only a run that received events settled them; a cohorts job never did."""
    killed_call(config, "a", "b")
    batches = respx_mock.post("/events/batch").mock(side_effect=queued)
    respx_mock.get("/events").mock(return_value=brevo_lists("a"))
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = [].append

    target.listen(cohorts_input(cohort(1, "Engaged Users (Last 7 Days)", "engaged_users")))

    assert [batch_ids(call.request) for call in batches.calls] == [["b"]]
    assert EventLedger(Ledger(config["ledger_url"])).calls_in_doubt() == []
    report = target.run.report.events
    assert (report.received, report.calls_in_doubt, report.taken_over_from_earlier_runs) == (
        0,
        1,
        2,
    )
    assert (report.sent_by_earlier_runs, report.sent) == (1, 1)
    assert "already sent by earlier runs 1" in target.run.report.render()


@respx.mock(base_url=BREVO)
def test_a_dry_run_settles_calls_in_doubt_as_a_real_run_would_and_leaves_them_to_it(
    respx_mock, config
):
    killed_call(config, "a", "b")
    respx_mock.get("/events").mock(return_value=brevo_lists("a"))

    target = run_target({**config, "dry_run": True}, *purchases("z"))

    report = target.run.report.events
    assert (report.calls_in_doubt, report.sent_by_earlier_runs, report.sent) == (1, 1, 2)
    assert report.resent_after_settling == 1
    assert len(EventLedger(Ledger(config["ledger_url"])).calls_in_doubt()) == 1


@respx.mock(base_url=BREVO)
def test_the_lookup_asks_for_the_calls_names_and_time_span_and_stops_once_all_are_found(
    respx_mock,
):
    lookups = respx_mock.get("/events").mock(return_value=brevo_lists("a", "zz"))
    client = BrevoClient(BREVO, "key", sleep=lambda _s: None)

    found = find_queued(
        client, [("order_completed", "a", EVENT_TIME), ("order_completed", "b", EVENT_TIME)]
    )

    assert found == {0}
    params = lookups.calls[0].request.url.params
    assert params.get_list("event_name") == ["order_completed"]
    assert (params["startDate"], params["endDate"]) == (
        "2026-11-20T09:59:59Z",
        "2026-11-20T10:00:01Z",
    )
    assert params["limit"] == "10000"


@respx.mock(base_url=BREVO)
def test_a_call_taken_over_while_it_waited_for_a_429_reset_is_not_sent_by_its_old_owner(
    respx_mock, config
):
    """Say the heartbeat failed and the lease ran out: the check before sending still holds."""
    limited = httpx.Response(429, headers={"x-sib-ratelimit-reset": "200"})
    batches = respx_mock.post("/events/batch").mock(side_effect=[limited, queued])
    other_worker = Ledger(config["ledger_url"])

    def reset_outlasts_the_lease(seconds: float) -> None:
        if seconds > 100:
            with other_worker.engine.begin() as conn:
                conn.execute(sa.update(event_calls).values(lease_until=None))
            assert EventLedger(other_worker).take_over_expired_calls(60)

    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = reset_outlasts_the_lease
    target.listen(singer_input(*purchases("a")))

    assert batches.call_count == 1  # only the 429: the call is the other worker's now
    assert target.run.report.events.left_to_another_worker == 1
    assert (
        len(EventLedger(Ledger(config["ledger_url"])).calls_in_doubt()) == 1
    )  # the other worker settles it


@pytest.fixture
def short_lease(config: dict) -> dict:
    """A lease of 6 s: request timeout 0.5 s + settle time 0.5 s + the 5 s margin."""
    return {**config, "request_timeout_seconds": 0.5, "events_settle_seconds": 0.5}


def states_passed_on(capsys) -> list[dict]:
    """What the target wrote to stdout: the STATE values it passed on, one a line."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@respx.mock(base_url=BREVO)
def test_a_rerun_right_after_a_kill_waits_for_the_killed_runs_claims_and_settles_them(
    respx_mock, short_lease, capsys
):
    """Issue 18: the rerun said succeeded while a killed run's lease still held 800 events."""
    killed_call(short_lease, "a", "b", lease_seconds=2)  # its lease still runs at the rerun
    batches = respx_mock.post("/events/batch").mock(side_effect=queued)
    respx_mock.get("/events").mock(return_value=brevo_lists("a"))
    capsys.readouterr()

    rerun = run_target(short_lease, *purchases("a", "b", "c"), state=STATE)

    assert [batch_ids(call.request) for call in batches.calls] == [["c"], ["b"]]
    report = rerun.run.report
    assert (report.status, report.events.sent_by_earlier_runs) == ("succeeded", 1)
    assert len(sent_keys(short_lease, "a", "b", "c")) == 3
    assert EventLedger(Ledger(short_lease["ledger_url"])).calls_in_doubt() == []
    assert states_passed_on(capsys) == [STATE]


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_events_another_worker_holds_beyond_a_lease_end_the_run_incomplete_without_state(
    respx_mock, short_lease, capsys, caplog
):
    killed_call(short_lease, "a", lease_seconds=600)  # renewed by a live worker, say
    respx_mock.post("/events/batch").mock(side_effect=queued)
    capsys.readouterr()

    rerun = run_target(short_lease, *purchases("a", "b"), state=STATE)

    report = rerun.run.report
    assert report.status == "incomplete"
    assert report.to_dict()["incomplete"].startswith("1 events are still held in doubt")
    assert "the run is INCOMPLETE: 1 events are still held" in report.render()
    assert any(r.levelname == "WARNING" and "incomplete" in r.message for r in caplog.records)
    assert states_passed_on(capsys) == []
    assert len(sent_keys(short_lease, "b")) == 1


@respx.mock(base_url=BREVO)
def test_a_call_in_doubt_is_settled_no_earlier_than_a_margin_above_the_delay_observed(
    respx_mock, config
):
    EventLedger(Ledger(config["ledger_url"])).note_events_visibility_delay(
        100
    )  # an earlier run saw it
    respx_mock.post("/events/batch").mock(return_value=httpx.Response(502))
    respx_mock.get("/events").mock(return_value=brevo_lists("a"))
    sleeps: list[float] = []

    run_target(config, *purchases("a"), sleeps=sleeps)

    assert max(sleeps) >= 150  # the setting says 30 s; the queue was seen to take 100 s


@respx.mock(base_url=BREVO)
def test_events_not_yet_shown_at_the_settle_time_are_looked_up_once_more_before_any_resend(
    respx_mock, config
):
    batches = respx_mock.post("/events/batch").mock(return_value=httpx.Response(502))
    lookups = respx_mock.get("/events").mock(side_effect=[brevo_lists(), brevo_lists("a")])

    target = run_target(config, *purchases("a"))

    assert (batches.call_count, lookups.call_count) == (1, 2)
    report = target.run.report.events
    assert (report.found_at_second_look, report.resent_after_settling) == (1, 0)
    assert EventLedger(Ledger(config["ledger_url"])).events_visibility_delay() > 0
    assert "1 of them at a second look; 0 resent after a second look" in target.run.report.render()

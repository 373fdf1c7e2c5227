"""Membership calls go several at a time, and the ledger takes Brevo's answers in call order.

One at a time, Brevo's round trip held the calls under the contacts budget (at 150 ms, 6.7 calls
a second of the 10 allowed). Several in flight fill the budget; the answers are still taken one
by one, in the order the calls were made, and a failed call stops the ones not sent yet without
losing the answers of those that were.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from target_brevo_tajo.brevo.client import BrevoClient, BrevoError
from target_brevo_tajo.lists.api import CALLS_IN_FLIGHT, LIST_CALL_MAX, BrevoLists

BREVO = "https://api.brevo.com/v3"
ROUND_TRIP = 0.05


class SlowBrevo:
    """Answers each membership call after a round trip; counts the calls in flight at once."""

    def __init__(self, refuse_call: int | None = None) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.calls: list[list[str]] = []
        self.refuse_call = refuse_call  # the call (0-based) Brevo answers 404

    def __call__(self, request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["extIds"]
        with self.lock:
            number = len(self.calls)
            self.calls.append(ids)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        # Later calls answer sooner: the answers arrive out of call order.
        time.sleep(ROUND_TRIP * (2 if number % 2 == 0 else 1))
        with self.lock:
            self.in_flight -= 1
        if number == self.refuse_call:
            return httpx.Response(404, json={"code": "document_not_found", "message": "List"})
        return httpx.Response(201, json={"contacts": {"success": ids, "failure": []}})


def brevo_lists(brevo: SlowBrevo) -> BrevoLists:
    client = BrevoClient(BREVO, "key", rate_tier="extended", transport=httpx.MockTransport(brevo))
    return BrevoLists(client, dry_run=False)


IDS = [f"m{i:04d}" for i in range(10 * LIST_CALL_MAX)]


def test_several_calls_are_in_flight_and_their_answers_are_taken_in_call_order():
    brevo = SlowBrevo()
    taken: list[list[str]] = []

    failed = brevo_lists(brevo).add(16, IDS, on_added=taken.append)

    assert failed == []
    assert brevo.most_in_flight == CALLS_IN_FLIGHT > 1
    assert taken == [IDS[i : i + LIST_CALL_MAX] for i in range(0, len(IDS), LIST_CALL_MAX)]


def test_a_refused_call_stops_the_calls_not_sent_and_keeps_the_answers_of_those_sent():
    brevo = SlowBrevo(refuse_call=2)
    taken: list[list[str]] = []

    with pytest.raises(BrevoError, match="HTTP 404"):
        brevo_lists(brevo).add(16, IDS, on_added=taken.append)

    sent = {tuple(ids) for ids in brevo.calls}
    refused = tuple(IDS[2 * LIST_CALL_MAX : 3 * LIST_CALL_MAX])
    # Every call Brevo answered 201 reached the ledger; none of the refused one did.
    assert {tuple(ids) for ids in taken} == sent - {refused}
    # Calls not yet sent when the refusal came never left.
    assert len(brevo.calls) < len(IDS) // LIST_CALL_MAX


def test_queued_adds_return_at_once_and_settle_when_brevo_answers():
    answer = threading.Event()

    def brevo(request: httpx.Request) -> httpx.Response:
        answer.wait(timeout=5)
        ids = json.loads(request.content)["extIds"]
        return httpx.Response(201, json={"contacts": {"success": ids, "failure": ids[:0]}})

    client = BrevoClient(BREVO, "key", rate_tier="extended", transport=httpx.MockTransport(brevo))
    lists = BrevoLists(client, dry_run=False)
    taken: list[str] = []

    first = lists.start_adding(16, IDS[:300], on_added=taken.extend)
    second = lists.start_adding(16, IDS[300:450], on_added=taken.extend)

    # The caller goes on (reads its next batch) while the calls wait for Brevo.
    assert not first.done()
    assert taken == []
    answer.set()
    assert (first.result(timeout=5), second.result(timeout=5)) == ([], [])
    assert taken == IDS[:450]
    lists.close()


def test_after_a_failed_call_no_call_of_a_later_batch_leaves():
    brevo = SlowBrevo(refuse_call=0)
    lists = brevo_lists(brevo)

    later_ids = [f"n{i:04d}" for i in range(30 * LIST_CALL_MAX)]
    first = lists.start_adding(16, IDS[:LIST_CALL_MAX])
    later = lists.start_adding(16, later_ids)

    with pytest.raises(BrevoError, match="HTTP 404"):
        first.result(timeout=5)
    with pytest.raises(BrevoError):
        later.result(timeout=5)
    # Only calls that had left when the refusal came were sent: never the whole later batch.
    assert len(brevo.calls) < 1 + 30
    lists.close()

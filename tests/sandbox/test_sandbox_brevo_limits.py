"""The sandbox's Brevo enforces Brevo's documented limits (developers.brevo.com: events, rates)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from mixpanel_brevo_sandbox.__main__ import build_parser
from mixpanel_brevo_sandbox.brevo_limits import UNLIMITED, bucket_of
from mixpanel_brevo_sandbox.state import SandboxState

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
pytestmark = pytest.mark.sandbox(seed=7, now=NOW, profiles=5, events=50)
BREVO = {"api-key": "sandbox-brevo-key"}
JSON = {**BREVO, "content-type": "application/json"}
HEADERS = ("x-sib-ratelimit-limit", "x-sib-ratelimit-remaining", "x-sib-ratelimit-reset")
BATCH_ACCEPTED = "Batch accepted. Valid events have been added to the processing queue."
MAX_BATCH_BYTES = 512 * 1024
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def brevo_event(n=0, **extra):
    return {"event_name": "order_completed", "identifiers": {"ext_id": f"user-{n}"}, **extra}


def batch(client, events):
    return client.post("/brevo/v3/events/batch", json={"events": events}, headers=BREVO)


def single_event(client):
    return client.post("/brevo/v3/events", json=brevo_event(), headers=BREVO)


def account(client):
    return client.get("/brevo/v3/account", headers=BREVO)


def rate(response):
    """The three rate headers as integers: limit, remaining, reset."""
    return tuple(int(response.headers[name]) for name in HEADERS)


def stored_events(client):
    return client.get("/_sandbox/brevo/events").json()["events"]


def set_tier(client, tier):
    return client.post("/_sandbox/brevo/rate-tier", json={"tier": tier})


def sized_batch(size: int) -> bytes:
    """A valid batch body of exactly ``size`` bytes; each event's properties stay under 50 KB."""
    pad = 40_000
    one = len(json.dumps(brevo_event(event_properties={"pad": ""})))
    empty = len(json.dumps({"events": []}))
    full = one + pad + len(", ")
    count = (size - empty - one) // full
    last = size - empty - count * full - one
    events = [brevo_event(event_properties={"pad": "x" * pad}) for _ in range(count)]
    events.append(brevo_event(event_properties={"pad": "x" * last}))
    body = json.dumps({"events": events}).encode()
    assert len(body) == size
    return body


# -- body limits ------------------------------------------------------------------------------


def test_a_batch_of_201_events_is_refused_whole(client):
    refused = batch(client, [brevo_event(i) for i in range(201)])

    assert refused.status_code == 400
    assert refused.json() == {"code": "out_of_range", "message": "at most 200 events"}
    assert stored_events(client) == []
    assert batch(client, [brevo_event(i) for i in range(200)]).json()["count"] == 200


def test_a_batch_body_over_512_kb_is_refused_whole(client):
    post = "/brevo/v3/events/batch"

    at_limit = client.post(post, content=sized_batch(MAX_BATCH_BYTES), headers=JSON)
    accepted = len(stored_events(client))
    over = client.post(post, content=sized_batch(MAX_BATCH_BYTES + 1), headers=JSON)

    assert at_limit.status_code == 202
    assert over.status_code == 400
    assert over.json() == {"code": "out_of_range", "message": "request body larger than 512 KB"}
    assert len(stored_events(client)) == accepted


def test_an_accepted_batch_answers_as_brevos_reference_shows(client):
    response = batch(client, [brevo_event(1), brevo_event(2)])

    assert response.status_code == 202
    assert response.json() == {"message": BATCH_ACCEPTED, "count": 2}


@pytest.mark.parametrize("key", ["fileBody", "jsonBody"])
def test_an_import_body_over_10_mb_is_refused(client, key):
    header = "EMAIL;FIRSTNAME\nava@example.com;"
    if key == "fileBody":
        value = header + "x" * (MAX_IMPORT_BYTES + 1 - len(header))
    else:
        value = [{"email": "ava@example.com", "attributes": {"FIRSTNAME": "x" * MAX_IMPORT_BYTES}}]
    body = {key: value, "listIds": [15]}

    response = client.post("/brevo/v3/contacts/import", json=body, headers=BREVO)

    assert response.status_code == 400
    assert response.json() == {"code": "out_of_range", "message": f"{key} larger than 10 MB"}
    assert client.get("/_sandbox/brevo/contacts").json()["contacts"] == []


def test_an_import_body_of_exactly_10_mb_is_accepted(client):
    def rows(name):
        return [{"email": "ava@example.com", "attributes": {"FIRSTNAME": name}}]

    empty = len(json.dumps(rows(""), separators=(",", ":")))
    body = {"jsonBody": rows("x" * (MAX_IMPORT_BYTES - empty)), "listIds": [15]}

    response = client.post("/brevo/v3/contacts/import", json=body, headers=BREVO)

    assert response.status_code == 202


# -- rate limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        ("POST", "/contacts", "contacts"),
        ("GET", "/contacts", "contacts"),
        ("POST", "/contacts/import", "contacts"),
        ("POST", "/contacts/batch", "contacts"),
        ("GET", "/contacts/ava@example.com", "contacts"),
        ("PUT", "/contacts/user-1", "contacts"),
        ("DELETE", "/contacts/12", "contacts"),
        ("POST", "/events", "events"),
        ("POST", "/events/batch", "events"),
        ("GET", "/events", "other"),
        ("GET", "/processes/3", "other"),
        ("GET", "/account", "other"),
        ("GET", "/contacts/attributes", "contacts"),
        ("POST", "/contacts/attributes/normal/PLAN", "contacts"),
        ("GET", "/contacts/lists", "contacts"),
        ("POST", "/contacts/lists/15/contacts/add", "contacts"),
        ("POST", "/contacts/lists/15/contacts/remove", "contacts"),
        ("POST", "/contacts/folders", "contacts"),
        ("POST", "/companies", "other"),
        ("GET", "/crm/attributes/companies", "other"),
    ],
)
def test_bucket_of_each_endpoint(method, path, bucket):
    assert bucket_of(method, path) == bucket


def test_the_11th_events_call_within_a_second_gets_429(client, clock):
    answers = [
        batch(client, [brevo_event(i)]) if i % 2 else single_event(client) for i in range(10)
    ]

    limited = single_event(client)

    assert [rate(a) for a in answers] == [(10, 9 - i, 1) for i in range(10)]
    assert limited.status_code == 429
    assert limited.json()["code"] == "too_many_requests"
    assert rate(limited) == (10, 0, 1)
    assert len(stored_events(client)) == 10
    assert account(client).status_code == 200  # other buckets keep their own budget
    clock.advance(1)
    again = single_event(client)
    assert again.status_code == 204
    assert rate(again) == (10, 9, 1)


def test_a_429_spends_no_budget_and_is_logged_with_its_bucket(client, clock):
    for _ in range(10):
        client.get("/brevo/v3/contacts/nobody@example.com", headers=BREVO)
    limited = [client.get("/brevo/v3/contacts/1", headers=BREVO) for _ in range(3)]
    clock.advance(1)

    after = client.get("/brevo/v3/contacts/1", headers=BREVO)

    assert {r.status_code for r in limited} == {429}
    assert rate(after) == (10, 9, 1)
    calls = client.get("/_sandbox/calls").json()["calls"]
    assert [c["bucket"] for c in calls if c["status"] == 429] == ["contacts"] * 3


def test_the_101st_other_call_within_an_hour_gets_429(client, clock):
    answers = []
    for _ in range(100):
        answers.append(account(client))
        clock.advance(30)

    limited = account(client)

    assert {a.status_code for a in answers} == {200}
    assert rate(answers[0]) == (100, 99, 3600)
    assert limited.status_code == 429
    assert rate(limited) == (100, 0, 600)
    clock.advance(600)
    fresh = account(client)
    assert fresh.status_code == 200
    assert rate(fresh) == (100, 99, 3600)


def test_every_answer_carries_the_headers_with_a_relative_reset(client, clock):
    account(client)
    clock.advance(888)
    answers = {
        "200 other": account(client),
        "401": client.get("/brevo/v3/account", headers={"api-key": "nope"}),
        "404": client.get("/brevo/v3/contacts/nobody@example.com", headers=BREVO),
        "405": client.delete("/brevo/v3/contacts/lists", headers=BREVO),
        "207": batch(client, [brevo_event(), {"event_name": "no_identifiers"}]),
        "400": client.post("/brevo/v3/events", json={}, headers=BREVO),
    }

    for name, answer in answers.items():
        assert all(header in answer.headers for header in HEADERS), name
    assert rate(answers["200 other"]) == (100, 98, 2712)
    assert rate(answers["401"]) == (100, 98, 2712)  # an unknown key is charged nothing
    assert rate(answers["405"]) == (10, 8, 1)  # /contacts/*: the contacts bucket, by path
    assert rate(answers["404"]) == (10, 9, 1)
    assert rate(answers["400"]) == (10, 8, 1)


def test_switching_the_tier_changes_the_budgets(client):
    assert client.get("/_sandbox/brevo/rate-tier").json()["tier"] == "general"
    budgets = {}
    for tier in ("advanced", "extended", "unlimited"):
        assert set_tier(client, tier).json()["tier"] == tier
        budgets[tier] = (rate(single_event(client))[0], rate(account(client))[0])

    assert budgets == {
        "advanced": (20, 200),
        "extended": (60, 600),
        "unlimited": (UNLIMITED, UNLIMITED),
    }
    assert set_tier(client, "platinum").status_code == 400
    assert set_tier(client, ["general"]).status_code == 400
    set_tier(client, "advanced")
    statuses = [single_event(client).status_code for _ in range(21)]
    assert statuses == [204] * 20 + [429]


def test_reset_clears_the_windows_and_restores_the_tier(client):
    set_tier(client, "advanced")
    for _ in range(21):
        single_event(client)

    assert client.post("/_sandbox/reset").status_code == 200

    after = single_event(client)
    assert after.status_code == 204
    assert rate(after) == (10, 9, 1)


def test_the_tier_is_a_constructor_and_command_line_setting():
    state = SandboxState(profiles=2, events=10, days=1, brevo_rate_tier="extended")

    assert state.brevo_rates.tier == "extended"
    with pytest.raises(ValueError, match="unknown Brevo rate tier"):
        SandboxState(profiles=2, events=10, days=1, brevo_rate_tier="platinum")
    args = build_parser().parse_args(["serve", "--brevo-rate-tier", "unlimited"])
    assert args.brevo_rate_tier == "unlimited"

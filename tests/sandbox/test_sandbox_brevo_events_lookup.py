"""The sandbox's Brevo serves GET /events, queues events before showing them, and can lose answers.

GET /events as developers.brevo.com/reference/get-events documents it (verified 2026-11-29): the
faults make an answer ambiguous after Brevo has queued the call, which is what a client must settle.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from mixpanel_brevo_sandbox.state import SandboxState

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
pytestmark = pytest.mark.sandbox(seed=7, now=NOW, profiles=5, events=50)
BREVO = {"api-key": "sandbox-brevo-key"}
MARCH = {"startDate": "2026-03-01", "endDate": "2026-03-31"}
BATCH = "/brevo/v3/events/batch"


def event(name="order_completed", date="2026-03-09T10:00:00Z", user="user-1", **extra):
    return {"event_name": name, "event_date": date, "identifiers": {"ext_id": user}, **extra}


def numbered(n, **extra):
    return event(event_properties={"mp_insert_id": f"id-{n}"}, **extra)


def send(client, events, **options):
    return client.post(BATCH, json={"events": events}, headers=BREVO, **options)


def lookup(client, **params):
    return client.get("/brevo/v3/events", params=params, headers=BREVO)


def listed(client, **params):
    response = lookup(client, **params)
    assert response.status_code == 200, response.text
    return response.json()


def insert_ids(body):
    return [e["event_properties"]["mp_insert_id"] for e in body["events"]]


def stored(client):
    return client.get("/_sandbox/brevo/events").json()["events"]


def statuses(client):
    return [c["status"] for c in client.get("/_sandbox/calls").json()["calls"]]


def add_fault(client, **fault):
    response = client.post("/_sandbox/faults", json={"api": "brevo", **fault})
    assert response.status_code == 201, response.text
    return response.json()["fault"]


def unlimited(client):
    assert client.post("/_sandbox/brevo/rate-tier", json={"tier": "unlimited"}).status_code == 200


# -- GET /events ----------------------------------------------------------------------------------


def test_get_events_lists_custom_events_newest_first_in_brevos_shape(client):
    send(
        client,
        [
            numbered(1, date="2026-03-09T10:00:00Z"),
            numbered(2, date="2026-03-09T13:30:00+02:00", contact_properties={"FIRSTNAME": "A"}),
            numbered(3, date="2026-03-09T12:00:00.123456Z", object={"type": "subscription"}),
        ],
    )
    single = client.post("/brevo/v3/events", json=numbered(4, date="2026-03-08"), headers=BREVO)
    assert single.status_code == 204

    body = listed(client, **MARCH)

    assert body["count"] == 4
    assert insert_ids(body) == ["id-3", "id-2", "id-1", "id-4"]
    assert [e["event_date"] for e in body["events"]] == [
        "2026-03-09T12:00:00.123Z",
        "2026-03-09T11:30:00.000Z",
        "2026-03-09T10:00:00.000Z",
        "2026-03-08T00:00:00.000Z",
    ]
    assert body["events"][0] == {
        "contact_id": None,
        "event_date": "2026-03-09T12:00:00.123Z",
        "event_name": "order_completed",
        "event_properties": {"mp_insert_id": "id-3"},
        "object_type": "subscription",
    }
    assert body["events"][1]["contact_properties"] == {"FIRSTNAME": "A"}


def test_get_events_filters_by_event_name_and_date_range(client):
    send(
        client,
        [
            event("signup", "2026-03-08T23:59:59.999Z", event_properties={"mp_insert_id": "a"}),
            event("purchase", "2026-03-09T00:00:00Z", event_properties={"mp_insert_id": "b"}),
            event("signup", "2026-03-09T11:00:00Z", event_properties={"mp_insert_id": "c"}),
            event("refund", "2026-03-09T23:59:59.999Z", event_properties={"mp_insert_id": "d"}),
            event("purchase", "2026-03-10T00:00:00Z", event_properties={"mp_insert_id": "e"}),
        ],
    )

    one_day = {"startDate": "2026-03-09", "endDate": "2026-03-09"}
    instants = {"startDate": "2026-03-09T12:00:00+01:00", "endDate": "2026-03-10T00:00:00Z"}
    assert insert_ids(listed(client, event_name="purchase", **MARCH)) == ["e", "b"]
    assert insert_ids(listed(client, event_name=["purchase", "refund"], **MARCH)) == ["e", "d", "b"]
    assert insert_ids(listed(client, **one_day)) == ["d", "c", "b"]
    assert insert_ids(listed(client, event_name="signup", **one_day)) == ["c"]
    assert insert_ids(listed(client, **instants)) == ["e", "d", "c"]
    assert listed(client, event_name="nothing_like_it", **MARCH) == {"count": 0, "events": []}


def test_get_events_pages_with_offset_and_counts_every_match(client):
    minutes = [numbered(n, date=f"2026-03-09T10:{n:02d}:00Z") for n in range(25)]
    send(client, minutes)

    pages = [listed(client, limit=10, offset=offset, **MARCH) for offset in (0, 10, 20, 30)]

    assert [page["count"] for page in pages] == [25, 25, 25, 25]
    assert [len(page["events"]) for page in pages] == [10, 10, 5, 0]
    assert [i for page in pages for i in insert_ids(page)] == [f"id-{n}" for n in range(24, -1, -1)]


def test_get_events_answers_100_events_by_default(client):
    send(client, [numbered(n) for n in range(120)])

    body = listed(client, **MARCH)

    assert body["count"] == 120
    assert len(body["events"]) == 100


def test_events_of_the_same_date_keep_a_stable_order_later_arrival_first(client):
    send(client, [numbered(n) for n in range(5)])

    assert insert_ids(listed(client, **MARCH)) == ["id-4", "id-3", "id-2", "id-1", "id-0"]
    assert insert_ids(listed(client, limit=2, offset=2, **MARCH)) == ["id-2", "id-1"]


@pytest.mark.parametrize("limit", ["10001", "0", "ten", "-1"])
def test_a_limit_outside_1_to_10000_is_refused(client, limit):
    response = lookup(client, limit=limit, **MARCH)

    assert response.status_code == 400
    assert response.json() == {
        "code": "out_of_range",
        "message": "limit must be an integer between 1 and 10000",
    }


def test_a_limit_of_10000_is_accepted_and_a_negative_offset_is_not(client):
    assert lookup(client, limit=10000, offset=50000, **MARCH).json() == {"count": 0, "events": []}
    assert lookup(client, offset=-1, **MARCH).status_code == 400


@pytest.mark.parametrize(
    ("dates", "code"),
    [
        ({"startDate": "2026-03-01"}, "missing_parameter"),
        ({"endDate": "2026-03-31"}, "missing_parameter"),
        ({"startDate": "2026-03-01T00:00:00", "endDate": "2026-03-31"}, "invalid_parameter"),
        ({"startDate": "01/03/2026", "endDate": "2026-03-31"}, "invalid_parameter"),
        ({"startDate": "2026-02-30", "endDate": "2026-03-31"}, "invalid_parameter"),
        ({"startDate": "", "endDate": ""}, "invalid_parameter"),
        ({"startDate": "2026-03-31", "endDate": "2026-03-01"}, "invalid_parameter"),
    ],
)
def test_start_date_without_end_date_or_unreadable_dates_are_refused(client, dates, code):
    response = lookup(client, **dates)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_without_dates_the_six_months_before_now_are_listed(client):
    now = datetime.now(timezone.utc)
    dates = {"recent": now - timedelta(days=1), "old": now - timedelta(days=170)}
    dates["too_old"] = now - timedelta(days=190)
    send(client, [numbered(key, date=moment.isoformat()) for key, moment in dates.items()])

    assert insert_ids(listed(client)) == ["id-recent", "id-old"]


def test_contact_id_is_the_contact_the_identifiers_name_and_a_filter(client):
    rows = [
        {"email": "ava@example.com", "attributes": {"EXT_ID": "user-1"}},
        {"email": "bo@example.com"},
    ]
    body = {"jsonBody": rows, "listIds": [15]}
    assert client.post("/brevo/v3/contacts/import", json=body, headers=BREVO).status_code == 202
    ava, bo = (c["id"] for c in client.get("/_sandbox/brevo/contacts").json()["contacts"])
    identifiers = {
        "ext": {"ext_id": "user-1"},
        "email": {"email_id": "BO@example.com"},
        "id": {"contact_id": bo},
        "stranger": {"ext_id": "stranger"},
        "gone": {"contact_id": 999},
    }
    send(
        client,
        [
            {**numbered(key, date=f"2026-03-09T10:0{n}:00Z"), "identifiers": ids}
            for n, (key, ids) in enumerate(identifiers.items())
        ],
    )

    contact_ids = {
        e["event_properties"]["mp_insert_id"]: e["contact_id"]
        for e in listed(client, **MARCH)["events"]
    }
    assert contact_ids == {
        "id-ext": ava,
        "id-email": bo,
        "id-id": bo,
        "id-stranger": None,
        "id-gone": None,
    }
    assert insert_ids(listed(client, contact_id=ava, **MARCH)) == ["id-ext"]
    assert insert_ids(listed(client, contact_id=[ava, bo], **MARCH)) == [
        "id-id",
        "id-email",
        "id-ext",
    ]
    assert lookup(client, contact_id="ava", **MARCH).json()["code"] == "invalid_parameter"


def test_contact_id_follows_a_contact_created_after_the_event(client):
    send(client, [numbered(1, user="late-user")])
    rows = [{"email": "late@example.com", "attributes": {"EXT_ID": "late-user"}}]
    client.post(
        "/brevo/v3/contacts/import", json={"jsonBody": rows, "listIds": [15]}, headers=BREVO
    )

    [late] = client.get("/_sandbox/brevo/contacts").json()["contacts"]
    assert listed(client, **MARCH)["events"][0]["contact_id"] == late["id"]


def test_get_events_filters_by_object_type(client):
    link = {"type": "subscription", "identifiers": {"ext_id": "sub-1"}}
    send(client, [numbered(1, object=link), numbered(2), numbered(3, object={"type": "vehicle"})])

    body = listed(client, object_type="subscription", **MARCH)

    assert insert_ids(body) == ["id-1"]
    assert body["events"][0]["object_type"] == "subscription"
    assert listed(client, object_type=["subscription", "vehicle"], **MARCH)["count"] == 2


def test_get_events_spends_the_other_rate_bucket(client):
    response = lookup(client, **MARCH)

    assert response.headers["x-sib-ratelimit-limit"] == "100"
    assert response.headers["x-sib-ratelimit-remaining"] == "99"
    assert client.get("/_sandbox/calls").json()["calls"][-1]["bucket"] == "other"


# -- visibility delay -----------------------------------------------------------------------------


def test_a_queued_event_shows_in_get_events_only_after_the_visibility_delay(client, clock):
    set_to = client.post("/_sandbox/brevo/events-visibility", json={"seconds": 2})
    assert set_to.json() == {"seconds": 2.0}
    send(client, [numbered(1)])

    hidden = listed(client, **MARCH)
    clock.advance(1.5)
    still_hidden = listed(client, **MARCH)
    clock.advance(0.5)
    shown = listed(client, **MARCH)

    assert hidden == still_hidden == {"count": 0, "events": []}
    assert insert_ids(shown) == ["id-1"]
    assert [e["event_properties"]["mp_insert_id"] for e in stored(client)] == ["id-1"]


def test_a_visibility_change_applies_to_events_already_queued(client, clock):
    client.post("/_sandbox/brevo/events-visibility", json={"seconds": 60})
    send(client, [numbered(1)])
    clock.advance(10)
    assert listed(client, **MARCH)["count"] == 0

    client.post("/_sandbox/brevo/events-visibility", json={"seconds": 10})

    assert listed(client, **MARCH)["count"] == 1
    assert client.get("/_sandbox/brevo/events-visibility").json() == {"seconds": 10.0}


@pytest.mark.parametrize("seconds", [-1, "2", True, None, [2]])
def test_a_bad_visibility_setting_is_refused(client, seconds):
    response = client.post("/_sandbox/brevo/events-visibility", json={"seconds": seconds})

    assert response.status_code == 400
    assert "non-negative number of seconds" in response.json()["error"]


def test_the_visibility_is_a_constructor_setting_that_reset_restores():
    state = SandboxState(profiles=2, events=10, days=1, brevo_events_visibility_seconds=3)
    state.brevo.events_visibility_seconds = 0

    state.reset()

    assert state.brevo.events_visibility_seconds == 3
    server = SandboxServer(profiles=2, events=10, days=1, brevo_events_visibility_seconds=1.5)
    assert server.state.brevo.events_visibility_seconds == 1.5
    with pytest.raises(ValueError, match="non-negative number of seconds"):
        SandboxState(profiles=2, events=10, days=1, brevo_events_visibility_seconds=-1)


# -- answers lost after processing ----------------------------------------------------------------


def test_an_after_processing_502_queues_the_events_and_answers_a_proxy_error(client):
    add_fault(client, method="POST", path="/events/batch", kind="after_processing", status=502)

    lost = send(client, [numbered(1), numbered(2)])
    after = send(client, [numbered(3)])

    assert lost.status_code == 502
    assert lost.headers["content-type"] == "text/html"
    assert "<h1>502 Bad Gateway</h1>" in lost.text
    assert "x-sib-ratelimit-remaining" not in lost.headers
    assert after.status_code == 202
    assert after.headers["x-sib-ratelimit-remaining"] == "8"  # the lost call spent its budget
    assert [e["event_properties"]["mp_insert_id"] for e in stored(client)] == [
        "id-1",
        "id-2",
        "id-3",
    ]
    assert statuses(client) == [502, 202]


def test_a_lost_answer_is_settled_by_looking_the_events_up_after_the_delay(client, clock):
    client.post("/_sandbox/brevo/events-visibility", json={"seconds": 5})
    add_fault(client, path="/events/batch", kind="after_processing", status=504, body="timeout")

    lost = send(client, [numbered(1)])
    too_soon = listed(client, event_name="order_completed", **MARCH)
    clock.advance(5)
    settled = listed(client, event_name="order_completed", **MARCH)

    assert (lost.status_code, lost.text) == (504, "timeout")
    assert too_soon["count"] == 0
    assert insert_ids(settled) == ["id-1"]


def test_every_7th_batch_is_queued_and_then_answered_502(client):
    unlimited(client)
    add_fault(
        client,
        method="POST",
        path="/events/batch",
        kind="after_processing",
        status=502,
        every=7,
        times=-1,
    )

    answers = [send(client, [numbered(n)]).status_code for n in range(1, 23)]

    assert [n for n, status in enumerate(answers, 1) if status == 502] == [7, 14, 21]
    assert set(answers) == {202, 502}
    assert len(stored(client)) == 22


def test_every_counts_from_the_end_of_after_and_stops_after_times(client):
    add_fault(
        client, path="/events/batch", kind="after_processing", status=502, after=1, every=2, times=2
    )

    answers = [send(client, [numbered(n)]).status_code for n in range(7)]

    assert answers == [202, 202, 502, 202, 502, 202, 202]
    assert client.get("/_sandbox/faults").json()["faults"] == []


def test_a_dropped_connection_after_processing_loses_the_answer_not_the_events(client):
    add_fault(client, path="/events/batch", kind="after_processing", drop=True)

    with pytest.raises(httpx.RemoteProtocolError):
        send(client, [numbered(1)])

    assert [e["event_properties"]["mp_insert_id"] for e in stored(client)] == ["id-1"]
    assert statuses(client) == [202]
    assert send(client, [numbered(2)]).status_code == 202


def test_a_stall_after_processing_outlasts_the_client_timeout(client):
    add_fault(client, path="/events/batch", kind="after_processing", delay_seconds=0.5)

    with pytest.raises(httpx.ReadTimeout):
        send(client, [numbered(1)], timeout=0.1)

    assert [e["event_properties"]["mp_insert_id"] for e in stored(client)] == ["id-1"]


def test_a_stall_alone_delays_the_real_answer(client):
    add_fault(client, path="/events/batch", kind="after_processing", delay_seconds=0.3)

    started = time.monotonic()
    answer = send(client, [numbered(1)])

    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 202
    assert answer.json()["count"] == 1


def test_an_armed_after_processing_rule_lists_its_options(client):
    fault = add_fault(client, kind="after_processing", delay_seconds=2, every=3)

    assert fault["status"] is None
    assert (fault["drop"], fault["delay_seconds"], fault["every"]) == (False, 2.0, 3)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "after_processing"}, "needs status, drop or delay_seconds"),
        ({"kind": "after_processing", "status": 502, "drop": True}, "not both"),
        ({"kind": "after_processing", "delay_seconds": 31}, "between 0 and 30"),
        ({"kind": "after_processing", "delay_seconds": -1}, "between 0 and 30"),
        ({"kind": "after_processing", "delay_seconds": "1"}, "must be a number"),
        ({"kind": "after_processing", "drop": "yes"}, "true or false"),
        ({"kind": "after_processing", "status": 1000}, "HTTP status code"),
        ({"kind": "drop", "drop": True}, "after_processing kind only"),
        ({"kind": "status", "delay_seconds": 1}, "after_processing kind only"),
        ({"kind": "status", "every": 0}, "every must be a positive integer"),
        ({"kind": "status", "every": "7"}, "every must be a positive integer"),
    ],
)
def test_bad_after_processing_and_every_options_are_refused(client, fault, message):
    response = client.post("/_sandbox/faults", json={"api": "brevo", **fault})

    assert response.status_code == 400
    assert message in response.json()["error"]

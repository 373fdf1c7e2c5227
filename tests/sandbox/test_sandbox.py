"""The sandbox: a local, stateful stand-in for the Mixpanel and Brevo APIs."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from mixpanel_brevo_sandbox.demo_data import MAPPED_EVENTS, UNMAPPED_EVENTS
from tests.admin_http import http

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
TODAY = NOW.date().isoformat()
FIRST_DAY = (NOW - timedelta(days=8)).date().isoformat()
SA = ("sandbox-user", "sandbox-secret")
SECRET = ("sandbox-project-secret", "")
PID = {"project_id": 12345}
BREVO = {"api-key": "sandbox-brevo-key"}
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.sandbox(seed=7, now=NOW)


def export(client, auth=SA, **params):
    query = {"from_date": FIRST_DAY, "to_date": TODAY, **PID, **params}
    return client.get("/mixpanel/api/2.0/export", params=query, auth=auth)


def events_of(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [json.loads(line) for line in response.text.splitlines()]


def add_fault(client, **fault):
    assert client.post("/_sandbox/faults", json=fault).status_code == 201


def batch(client, events, headers=BREVO):
    return client.post("/brevo/v3/events/batch", json={"events": events}, headers=headers)


def brevo_event(name="order_completed", **extra):
    return {"event_name": name, "identifiers": {"ext_id": "user-00001"}, **extra}


# -- seeded Mixpanel project ------------------------------------------------------------------


def test_seeded_export_has_the_promised_volume_and_shape(client):
    events = events_of(export(client))
    assert len(events) >= 20000
    days = {datetime.fromtimestamp(e["properties"]["time"], timezone.utc).date() for e in events}
    assert len(days) >= 8
    names = Counter(e["event"] for e in events)
    for name in (*MAPPED_EVENTS, *UNMAPPED_EVENTS):
        assert names[name] > 0, name
    assert names.most_common(2)[0][0] in ("Page View", "Session Start")
    props = [e["properties"] for e in events]
    for p in props:
        assert isinstance(p["time"], int)
        assert len(p["$insert_id"]) <= 36
        assert p["mp_processing_time_ms"] <= int(NOW.timestamp() * 1000)
    purchase = next(e["properties"] for e in events if e["event"] == "Purchase")
    assert isinstance(purchase["price"], float)
    assert isinstance(purchase["items"], list)
    assert isinstance(purchase["items"][0], dict)
    assert isinstance(purchase["coupon_applied"], bool)
    assert any("utm.source" in p for p in props)
    assert any("Plan Name" in p for p in props)
    assert any("$current_url" in p for p in props)


def test_export_repeats_some_insert_ids_as_exact_duplicates(client):
    lines = export(client).text.splitlines()
    ids = Counter(json.loads(line)["properties"]["$insert_id"] for line in lines)
    repeated = [i for i, n in ids.items() if n > 1]
    assert len(repeated) >= 100
    assert Counter(lines).most_common(1)[0][1] == 2


def test_export_returns_canonical_ids_retroactively(client):
    props = [e["properties"] for e in events_of(export(client))]
    assert any(p["distinct_id"].startswith("$device:") for p in props)
    identified = {p["$device_id"]: p["$user_id"] for p in props if "$user_id" in p}
    merged_before_identify = [
        p for p in props if "$user_id" not in p and p["$device_id"] in identified
    ]
    assert merged_before_identify
    assert all(p["distinct_id"] == identified[p["$device_id"]] for p in merged_before_identify)
    never_identified = [p for p in props if p["$device_id"] not in identified]
    assert never_identified
    assert all(p["distinct_id"] == f"$device:{p['$device_id']}" for p in never_identified)


def test_late_events_appear_only_after_the_clock_passes_their_processing_time(client):
    before = {e["properties"]["$insert_id"] for e in events_of(export(client))}
    late = [
        e
        for e in events_of(export(client))
        if e["properties"]["mp_processing_time_ms"] - e["properties"]["time"] * 1000 > 3600_000
    ]
    assert late, "some visible events were processed hours after they happened"
    assert client.post("/_sandbox/clock", json={"advance_hours": 72}).status_code == 200
    assert client.get("/_sandbox/clock").json()["now"].startswith("2026-03-13T12:00:00")
    after = events_of(export(client))
    revealed = [e for e in after if e["properties"]["$insert_id"] not in before]
    assert len(revealed) >= 150
    assert all(e["properties"]["mp_processing_time_ms"] > NOW.timestamp() * 1000 for e in revealed)


def test_export_dates_are_inclusive_utc_days(client):
    day = (NOW - timedelta(days=3)).date()
    events = events_of(export(client, from_date=day.isoformat(), to_date=day.isoformat()))
    assert events
    assert {
        datetime.fromtimestamp(e["properties"]["time"], timezone.utc).date() for e in events
    } == {day}


def test_export_event_filter_limit_and_time_in_ms(client):
    events = events_of(export(client, event='["Purchase","Sign Up"]', limit=50, time_in_ms="true"))
    assert len(events) == 50
    assert {e["event"] for e in events} <= {"Purchase", "Sign Up"}
    assert all(e["properties"]["time"] > 1e11 for e in events)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"to_date": (NOW + timedelta(days=1)).date().isoformat()},
            "to_date cannot be later than today",
        ),
        ({"from_date": None}, "from_date"),
        ({"from_date": "03/01/2026"}, "yyyy-mm-dd"),
        ({"event": "Purchase"}, "event"),
        ({"limit": "100001"}, "limit"),
    ],
)
def test_export_rejects_invalid_parameters_with_plain_text_400(client, params, message):
    query = {"from_date": FIRST_DAY, "to_date": TODAY, **PID, **params}
    query = {k: v for k, v in query.items() if v is not None}
    response = client.get("/mixpanel/api/2.0/export", params=query, auth=SA)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert message in response.text


def test_gzip_export_is_decoded_by_the_client(client):
    response = export(client, limit=10)
    assert response.headers["content-encoding"] == "gzip"
    assert len(events_of(response)) == 10


# -- Mixpanel authentication ------------------------------------------------------------------


def test_auth_variants(client):
    engage = "/mixpanel/api/query/engage"
    assert client.post(engage, auth=SA).status_code == 400  # service account needs project_id
    assert client.post(engage, params=PID, auth=SA).status_code == 200
    assert client.post(engage, auth=SECRET).status_code == 200  # legacy secret: no project_id
    bearer = {"Authorization": "Bearer sandbox-oauth-token"}
    assert client.post(engage, params=PID, headers=bearer).status_code == 200
    assert client.post(engage, headers=bearer).status_code == 400
    wrong = client.post(engage, params=PID, auth=("sandbox-user", "nope"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "Invalid credentials"
    other = client.post(engage, params={"project_id": 999}, auth=SA)
    assert other.status_code == 403
    assert "999" in other.json()["error"]
    assert export(client, auth=("x", "y")).status_code == 401
    assert export(client, auth=SECRET).status_code == 200


def test_app_me_lists_the_project(client):
    me = client.get("/mixpanel/api/app/me", auth=SA).json()
    assert me["results"]["projects"]["12345"]["timezone"] == "UTC"


# -- engage and cohorts -----------------------------------------------------------------------


def test_engage_pages_through_a_session(client):
    extra = [
        {"$distinct_id": f"extra-{i}", "$properties": {"$email": f"e{i}@x.io"}} for i in range(700)
    ]
    assert client.post("/_sandbox/mixpanel/profiles", json={"profiles": extra}).status_code == 200
    first = client.post("/mixpanel/api/query/engage", params=PID, auth=SA).json()
    assert first["status"] == "ok"
    assert first["page"] == 0
    assert first["page_size"] == 1000
    assert first["total"] == 1200
    assert len(first["results"]) == 1000
    form = {"session_id": first["session_id"], "page": 1}
    second = client.post("/mixpanel/api/query/engage", params=PID, data=form, auth=SA).json()
    assert len(second["results"]) == 200
    seen = {r["$distinct_id"] for r in first["results"] + second["results"]}
    assert len(seen) == 1200
    no_session = client.post("/mixpanel/api/query/engage", params={**PID, "page": 1}, auth=SA)
    assert no_session.status_code == 400


def test_engage_profiles_where_and_output_properties(client):
    everyone = client.get("/mixpanel/api/query/engage", params=PID, auth=SA).json()["results"]
    props = [r["$properties"] for r in everyone]
    assert all(r["$distinct_id"].startswith("user-") for r in everyone)
    assert any(p.get("$email") == "not-an-email" or "@" not in p.get("$email", "@") for p in props)
    assert any("$email" not in p for p in props)
    assert any(p.get("$phone", "").startswith("+") for p in props)
    assert any("$phone" in p and not p["$phone"].startswith("+") for p in props)
    assert any("$country_code" not in p for p in props)
    assert any(isinstance(p["total_revenue"], str) for p in props)
    assert {p["plan"] for p in props} == {"free", "pro", "enterprise"}
    cutoff = (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    query = {"where": f'properties["$last_seen"] >= "{cutoff}"', "output_properties": '["$email"]'}
    recent = client.post("/mixpanel/api/query/engage", params=PID, data=query, auth=SA).json()
    assert 0 < recent["total"] < len(everyone)
    assert all(set(r["$properties"]) <= {"$email"} for r in recent["results"])
    bad = client.post("/mixpanel/api/query/engage", params=PID, data={"where": "1 +"}, auth=SA)
    assert bad.status_code == 400


def test_cohorts_list_and_members(client):
    cohorts = client.post("/mixpanel/api/query/cohorts/list", params=PID, auth=SA).json()
    by_name = {c["name"]: c for c in cohorts}
    assert {"Engaged Users (Last 7 Days)", "At Risk", "Power Users"} <= set(by_name)
    for cohort in cohorts:
        assert set(cohort) == {
            "count",
            "is_visible",
            "description",
            "created",
            "project_id",
            "id",
            "name",
        }
        assert cohort["count"] > 0
    engaged = by_name["Engaged Users (Last 7 Days)"]
    members = {"filter_by_cohort": json.dumps({"id": engaged["id"]})}
    everyone = client.post("/mixpanel/api/query/engage", params=PID, data=members, auth=SA).json()
    assert everyone["total"] == engaged["count"]
    assert any(r["$distinct_id"].startswith("$device:") for r in everyone["results"])
    profiles_only = {**members, "include_all_users": "false"}
    only = client.post("/mixpanel/api/query/engage", params=PID, data=profiles_only, auth=SA).json()
    assert 0 < only["total"] < everyone["total"]


def test_admin_seeding_events_and_deleting_profiles(client):
    event = {
        "event": "Purchase",
        "properties": {"time": int(NOW.timestamp()) - 60, "$user_id": "user-00001", "price": 1.5},
    }
    assert client.post("/_sandbox/mixpanel/events", json={"events": [event]}).json() == {"added": 1}
    exported = events_of(export(client, from_date=TODAY, event='["Purchase"]'))
    assert any(e["properties"].get("price") == 1.5 for e in exported)
    assert client.delete("/_sandbox/mixpanel/profiles/user-00001").status_code == 200
    gone = client.post(
        "/mixpanel/api/query/engage", params=PID, data={"distinct_id": "user-00001"}, auth=SA
    )
    assert gone.json()["results"] == []


# -- faults -------------------------------------------------------------------------------------


def test_status_fault_answers_once_with_the_given_headers(client):
    add_fault(
        client,
        api="mixpanel",
        path="/api/2.0/export",
        kind="status",
        status=429,
        headers={"Retry-After": "0"},
        body="rate limited",
    )
    limited = export(client, limit=1)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "0"
    assert limited.text == "rate limited"
    assert export(client, limit=1).status_code == 200
    calls = client.get("/_sandbox/calls").json()["calls"]
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[0]["api"] == "mixpanel"
    assert calls[0]["path"] == "/api/2.0/export"
    assert calls[0]["query"]["limit"] == "1"


def test_a_fault_can_let_the_first_requests_through(client):
    add_fault(client, api="mixpanel", path="/api/2.0/export", kind="status", status=503, after=2)

    statuses = [export(client, limit=1).status_code for _ in range(4)]

    assert statuses == [200, 200, 503, 200]


def test_payment_required_fault_on_engage(client):
    add_fault(
        client, api="mixpanel", method="POST", path="/api/query", kind="status", status=402, times=2
    )
    for _ in range(2):
        assert client.post("/mixpanel/api/query/engage", params=PID, auth=SA).status_code == 402
    assert client.post("/mixpanel/api/query/engage", params=PID, auth=SA).status_code == 200


def read_export_lines(client, received):
    params = {"from_date": FIRST_DAY, "to_date": TODAY, **PID}
    with client.stream("GET", "/mixpanel/api/2.0/export", params=params, auth=SA) as response:
        assert response.status_code == 200
        received.extend(response.iter_lines())


def test_drop_fault_breaks_the_stream_midway(client):
    add_fault(client, api="mixpanel", path="/api/2.0/export", kind="drop")
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        read_export_lines(client, received)
    assert 5000 < len(received) < 15000
    assert len(events_of(export(client))) >= 20000


def test_terminated_early_fault_ends_with_the_marker_line(client):
    add_fault(client, api="mixpanel", path="/api/2.0/export", kind="terminated_early")
    lines = export(client).text.splitlines()
    assert lines[-1] == "terminated early"
    assert 5000 < len(lines) < 15000


def test_partial_fault_fails_the_chosen_batch_events(client):
    add_fault(client, api="brevo", path="/events/batch", kind="partial", fail_indices=[0, 3])
    response = batch(client, [brevo_event(event_properties={"n": i}) for i in range(5)])
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "partiallyQueued"
    assert (body["total_events"], body["successful_events"], body["failed_events"]) == (5, 3, 2)
    assert body["errors"][0]["eventIndex"] == [0, 3]
    stored = client.get("/_sandbox/brevo/events").json()["events"]
    assert [e["event_properties"]["n"] for e in stored] == [1, 2, 4]


def test_brevo_429_fault_and_rate_limit_headers(client):
    add_fault(
        client,
        api="brevo",
        path="/events",
        kind="status",
        status=429,
        headers={"x-sib-ratelimit-reset": "1"},
        body='{"code":"too_many_requests"}',
    )
    limited = batch(client, [brevo_event()])
    assert limited.status_code == 429
    assert limited.headers["x-sib-ratelimit-reset"] == "1"
    ok = batch(client, [brevo_event()])
    assert ok.status_code == 202
    assert ok.json()["count"] == 1
    # The injected 429 spent nothing: the accepted call is the first of the second's 10.
    rate = [ok.headers[f"x-sib-ratelimit-{name}"] for name in ("limit", "remaining", "reset")]
    assert rate == ["10", "9", "1"]


def test_bad_fault_definitions_are_rejected(client):
    assert client.post("/_sandbox/faults", json={"api": "x", "kind": "status"}).status_code == 400
    assert client.post("/_sandbox/faults", json={"api": "brevo", "kind": "boom"}).status_code == 400


# -- Brevo events -------------------------------------------------------------------------------


def test_accepted_batch_events_are_visible_in_arrival_order(client):
    events = [
        brevo_event(
            "page_viewed",
            event_date="2026-03-09T10:00:00Z",
            event_properties={
                "url": "/",
                "price": 9.5,
                "coupon_applied": True,
                "items": [{"sku": "a"}],
                "tags": ["x"],
            },
            contact_properties={"FIRSTNAME": "Ava"},
        ),
        brevo_event("order_completed"),
    ]
    assert batch(client, events).status_code == 202
    stored = client.get("/_sandbox/brevo/events").json()["events"]
    assert [e["event_name"] for e in stored] == ["page_viewed", "order_completed"]
    assert stored[0]["event_date"] == "2026-03-09T10:00:00Z"
    assert stored[0]["contact_properties"] == {"FIRSTNAME": "Ava"}
    assert stored[0]["event_properties"]["coupon_applied"] is True
    assert "received_at" in stored[1]


def test_invalid_events_fail_individually_in_a_batch(client):
    response = batch(
        client, [brevo_event("Page View"), brevo_event(event_properties={"utm.source": "x"})]
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failed"
    assert body["failed_events"] == 2
    assert sorted(i for e in body["errors"] for i in e["eventIndex"]) == [0, 1]
    mixed = batch(client, [brevo_event(), {"event_name": "no_identifiers"}])
    assert mixed.status_code == 207
    assert mixed.json()["errors"][0]["eventIndex"] == [1]


def test_single_event_validation(client):
    post = "/brevo/v3/events"
    assert client.post(post, json=brevo_event(), headers=BREVO).status_code == 204
    missing = client.post(post, json={"event_name": "x"}, headers=BREVO)
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid_parameter"
    assert "identifiers" in missing.json()["message"]
    empty_ids = client.post(post, json={"event_name": "x", "identifiers": {}}, headers=BREVO)
    assert empty_ids.status_code == 400
    text = client.post(post, content=b"{}", headers={**BREVO, "content-type": "text/plain"})
    assert text.status_code == 400
    big = brevo_event(event_properties={"blob": "x" * 52000})
    assert client.post(post, json=big, headers=BREVO).status_code == 400


def test_brevo_rejects_wrong_keys_and_oversized_batches(client):
    for headers in ({}, {"api-key": "nope"}):
        response = batch(client, [brevo_event()], headers=headers)
        assert response.status_code == 401
        assert response.json() == {"code": "unauthorized", "message": "Key not found"}
    too_many = batch(client, [brevo_event()] * 201)
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "out_of_range"
    assert batch(client, []).status_code == 400
    not_a_batch = client.post("/brevo/v3/events/batch", json=[brevo_event()], headers=BREVO)
    assert not_a_batch.status_code == 400
    assert client.get("/brevo/v3/account", headers=BREVO).json()["email"]


# -- Brevo contacts -----------------------------------------------------------------------------


def test_contact_import_process_and_lookup(client):
    attributes = client.get("/brevo/v3/contacts/attributes", headers=BREVO).json()["attributes"]
    assert {"EMAIL", "FIRSTNAME", "LASTNAME", "SMS", "EXT_ID"} <= {a["name"] for a in attributes}
    created = client.post(
        "/brevo/v3/contacts/attributes/normal/PLAN_TYPE", json={"type": "text"}, headers=BREVO
    )
    assert created.status_code == 201
    rows = [
        {
            "email": "Ava@Example.com",
            "attributes": {
                "FIRSTNAME": "Ava",
                "PLAN_TYPE": "pro",
                "UNKNOWN": 1,
                "EXT_ID": "user-1",
                "SMS": "+33612345678",
            },
        },
        {"email": "not-an-email", "attributes": {"FIRSTNAME": "Bad"}},
        {"email": "liam@example.com", "attributes": {"SMS": "0033612345678", "LASTNAME": "Smith"}},
    ]
    body = {"jsonBody": rows, "listIds": [15], "updateExistingContacts": True}
    started = client.post("/brevo/v3/contacts/import", json=body, headers=BREVO)
    assert started.status_code == 202
    process_id = started.json()["processId"]
    first = client.get(f"/brevo/v3/processes/{process_id}", headers=BREVO).json()
    assert first["status"] == "in_process"
    done = client.get(f"/brevo/v3/processes/{process_id}", headers=BREVO).json()
    assert done["status"] == "completed"
    assert done["name"] == "IMPORTUSER"
    assert done["info"]["import"]["invalid_emails"] == 1
    assert done["info"]["import"]["duplicate_phone_id"] == 1
    ava = client.get(
        "/brevo/v3/contacts/user-1", params={"identifierType": "ext_id"}, headers=BREVO
    ).json()
    assert ava["email"] == "ava@example.com"
    assert ava["attributes"] == {
        "FIRSTNAME": "Ava",
        "PLAN_TYPE": "pro",
        "EXT_ID": "user-1",
        "SMS": "+33612345678",
    }
    assert ava["listIds"] == [15]
    liam = client.get("/brevo/v3/contacts/liam@example.com", headers=BREVO).json()
    assert "SMS" not in liam["attributes"]
    assert client.get("/brevo/v3/contacts/nobody@example.com", headers=BREVO).status_code == 404
    assert client.delete(f"/brevo/v3/contacts/{ava['id']}", headers=BREVO).status_code == 204
    assert len(client.get("/_sandbox/brevo/contacts").json()["contacts"]) == 1


def test_contacts_list_pages_by_creation_with_the_spec_limit_of_a_thousand(client):
    rows = [{"email": f"u{n}@example.com", "attributes": {"EXT_ID": f"u-{n}"}} for n in range(5)]
    body = {"jsonBody": rows, "listIds": [15]}
    assert client.post("/brevo/v3/contacts/import", json=body, headers=BREVO).status_code == 202

    def page(**params):
        return client.get("/brevo/v3/contacts", params=params, headers=BREVO)

    oldest = page(limit=2, offset=1, sort="asc").json()
    assert oldest["count"] == 5
    assert [c["attributes"]["EXT_ID"] for c in oldest["contacts"]] == ["u-1", "u-2"]
    newest = page(limit=1).json()["contacts"]  # descending by default
    assert newest[0]["attributes"]["EXT_ID"] == "u-4"
    assert page(limit=1000).status_code == 200
    assert page(limit=1001).json()["code"] == "out_of_range"
    assert page(sort="newest").status_code == 400


def test_import_rejects_bodies_the_spec_rejects(client):
    wrong_type = {"jsonBody": "not-a-list", "listIds": [15]}
    response = client.post("/brevo/v3/contacts/import", json=wrong_type, headers=BREVO)
    assert response.status_code == 400
    assert "jsonBody" in response.json()["message"]
    no_list = {"jsonBody": [{"email": "a@b.co"}]}
    assert client.post("/brevo/v3/contacts/import", json=no_list, headers=BREVO).status_code == 400
    nobody = {"jsonBody": [{"email": "nope"}], "listIds": [15]}
    assert client.post("/brevo/v3/contacts/import", json=nobody, headers=BREVO).status_code == 400


def test_lists_and_membership(client):
    folder = client.post("/brevo/v3/contacts/folders", json={"name": "Mixpanel"}, headers=BREVO)
    assert folder.status_code == 201
    folders = client.get("/brevo/v3/contacts/folders", headers=BREVO).json()["folders"]
    assert {"id": folder.json()["id"], "name": "Mixpanel"} in folders
    created = client.post(
        "/brevo/v3/contacts/lists",
        json={"name": "Power Users", "folderId": folder.json()["id"]},
        headers=BREVO,
    )
    assert created.status_code == 201
    list_id = created.json()["id"]
    rows = [{"email": f"p{i}@example.com"} for i in range(3)]
    client.post(
        "/brevo/v3/contacts/import", json={"jsonBody": rows, "listIds": [15]}, headers=BREVO
    )
    add = f"/brevo/v3/contacts/lists/{list_id}/contacts/add"
    added = client.post(
        add,
        json={"emails": ["p0@example.com", "p1@example.com", "ghost@example.com"]},
        headers=BREVO,
    )
    assert added.status_code == 201
    assert added.json() == {
        "contacts": {
            "success": ["p0@example.com", "p1@example.com"],
            "failure": ["ghost@example.com"],
        }
    }
    again = client.post(add, json={"emails": ["p0@example.com"]}, headers=BREVO)
    assert again.status_code == 400
    assert again.json() == {
        "code": "invalid_parameter",
        "message": "Contact already in list and/or does not exist",
    }
    too_many = client.post(add, json={"emails": [f"x{i}@e.co" for i in range(151)]}, headers=BREVO)
    assert too_many.status_code == 400
    members = client.get(f"/brevo/v3/contacts/lists/{list_id}/contacts", headers=BREVO).json()
    assert members["count"] == 2
    removed = client.post(
        f"/brevo/v3/contacts/lists/{list_id}/contacts/remove",
        json={"emails": ["p1@example.com"]},
        headers=BREVO,
    )
    assert removed.json()["contacts"]["success"] == ["p1@example.com"]
    lists = {lst["id"]: lst for lst in client.get("/_sandbox/brevo/lists").json()["lists"]}
    assert len(lists[list_id]["contactIds"]) == 1
    assert len(lists[15]["contactIds"]) == 3


def test_a_without_attributes_fault_lists_members_with_their_ids_but_no_attributes(client):
    rows = [{"email": f"p{i}@example.com", "attributes": {"EXT_ID": f"p{i}"}} for i in range(2)]
    client.post(
        "/brevo/v3/contacts/import", json={"jsonBody": rows, "listIds": [16]}, headers=BREVO
    )
    listing = "/brevo/v3/contacts/lists/16/contacts"
    add_fault(
        client,
        api="brevo",
        method="GET",
        path="/contacts/lists/16/contacts",
        kind="without_attributes",
    )

    trimmed = client.get(listing, headers=BREVO).json()["contacts"]
    whole = client.get(listing, headers=BREVO).json()["contacts"]

    assert [sorted(c) for c in trimmed] == [sorted(set(c) - {"attributes"}) for c in whole]
    assert all(c["id"] for c in trimmed)
    assert [c["attributes"]["EXT_ID"] for c in whole] == ["p0", "p1"]


# -- command line -------------------------------------------------------------------------------


def test_cli_serve_writes_the_url_and_stops_on_sigterm(tmp_path):
    url_file = tmp_path / "url"
    command = [
        sys.executable,
        "-m",
        "mixpanel_brevo_sandbox",
        "serve",
        "--events",
        "300",
        "--profiles",
        "20",
        "--url-file",
        str(url_file),
        "--brevo-rate-tier",
        "advanced",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert url_file.read_text().strip() == url
        assert http.get(f"{url}/_sandbox/health", timeout=5).json()["profiles"] == 20
        assert http.get(f"{url}/_sandbox/brevo/rate-tier", timeout=5).json()["tier"] == "advanced"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_a_contact_takes_a_new_ext_id_through_put(client):
    rows = [{"email": "merge@example.com", "attributes": {"EXT_ID": "$device:d9"}}]
    client.post(
        "/brevo/v3/contacts/import", json={"jsonBody": rows, "listIds": [15]}, headers=BREVO
    )
    put = "/brevo/v3/contacts/$device:d9"

    renamed = client.put(
        put, params={"identifierType": "ext_id"}, json={"ext_id": "user-9"}, headers=BREVO
    )
    missing = client.put(
        put, params={"identifierType": "ext_id"}, json={"ext_id": "x"}, headers=BREVO
    )
    invalid = client.put("/brevo/v3/contacts/merge@example.com", json={"ext_id": 5}, headers=BREVO)

    assert renamed.status_code == 204
    assert missing.status_code == 404
    assert invalid.status_code == 400
    found = client.get(
        "/brevo/v3/contacts/user-9", params={"identifierType": "ext_id"}, headers=BREVO
    )
    assert found.json()["email"] == "merge@example.com"


def test_a_deleted_contact_is_found_by_none_of_its_identifiers(client):
    rows = [{"email": "gone@example.com", "attributes": {"EXT_ID": "user-gone"}}]
    client.post(
        "/brevo/v3/contacts/import", json={"jsonBody": rows, "listIds": [15]}, headers=BREVO
    )

    deleted = client.delete("/brevo/v3/contacts/gone@example.com", headers=BREVO)

    assert deleted.status_code == 204
    by_email = client.get("/brevo/v3/contacts/gone@example.com", headers=BREVO)
    by_ext_id = client.get(
        "/brevo/v3/contacts/user-gone", params={"identifierType": "ext_id"}, headers=BREVO
    )
    assert (by_email.status_code, by_ext_id.status_code) == (404, 404)


def import_company(client, name: str, associated_contact: str) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [["name", "associated_contact"], [name, associated_contact]]
    )
    mapping = {"link_entities": True, "unlink_entities": False,
               "update_existing_records": True, "unset_empty_attributes": False}  # fmt: skip
    answer = client.post(
        "/brevo/v3/companies/import",
        files={"file": ("companies.csv", out.getvalue().encode(), "text/csv")},
        data={"mapping": json.dumps(mapping)},
        headers=BREVO,
    )
    assert answer.status_code == 200, answer.text


def test_the_companies_import_splits_associated_contact_by_the_separator_it_is_set_to(client):
    folder = client.post("/brevo/v3/contacts/folders", json={"name": "F"}, headers=BREVO)
    body = {"name": "L", "folderId": folder.json()["id"]}
    new_list = client.post("/brevo/v3/contacts/lists", json=body, headers=BREVO).json()["id"]
    rows = [{"email": f"c{i}@example.com"} for i in range(2)]
    body = {"jsonBody": rows, "listIds": [new_list]}
    client.post("/brevo/v3/contacts/import", json=body, headers=BREVO).raise_for_status()
    contacts = client.get("/brevo/v3/contacts", params={"sort": "asc"}, headers=BREVO).json()
    ids = [c["id"] for c in contacts["contacts"] if c["email"] in {r["email"] for r in rows}]
    assert client.get("/_sandbox/brevo/associated-contact-separator").json() == {"separator": ";"}

    for separator in (";", ","):
        switch = {"separator": separator}
        client.post("/_sandbox/brevo/associated-contact-separator", json=switch).raise_for_status()
        import_company(client, f"Split by {separator}", f"{ids[0]};{ids[1]}")

    listed = client.get("/brevo/v3/companies", headers=BREVO).json()["items"]
    links = {c["attributes"]["name"]: c["linkedContactsIds"] for c in listed}
    assert links == {"Split by ;": ids, "Split by ,": []}  # a cell it cannot split links nothing
    wrong = client.post("/_sandbox/brevo/associated-contact-separator", json={"separator": "|"})
    assert wrong.status_code == 400


def test_one_company_is_read_by_its_id_with_its_links_and_an_unknown_id_is_not_found(client):
    import_company(client, "Read by id", "")
    listed = client.get("/brevo/v3/companies", headers=BREVO).json()["items"]
    company_id = next(c["id"] for c in listed if c["attributes"]["name"] == "Read by id")

    found = client.get(f"/brevo/v3/companies/{company_id}", headers=BREVO)
    unknown = client.get(f"/brevo/v3/companies/{'0' * 24}", headers=BREVO)

    assert found.status_code == 200
    assert (found.json()["id"], found.json()["linkedContactsIds"]) == (company_id, [])
    assert unknown.status_code == 404

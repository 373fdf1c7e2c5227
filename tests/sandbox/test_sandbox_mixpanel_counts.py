"""The sandbox's Mixpanel: Query API daily event counts, and an export cut at a line boundary."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
DAY = (NOW - timedelta(days=2)).date().isoformat()
NEXT_DAY = (NOW - timedelta(days=1)).date().isoformat()
SA = ("sandbox-user", "sandbox-secret")
EVENTS = ["Purchase", "Page View"]

pytestmark = pytest.mark.sandbox(seed=7, now=NOW, profiles=100, events=4000, days=4)


def counts(client, **params) -> httpx.Response:
    query = {
        "project_id": 12345,
        "event": json.dumps(EVENTS),
        "type": "general",
        "unit": "day",
        "from_date": DAY,
        "to_date": NEXT_DAY,
        **params,
    }
    query = {name: value for name, value in query.items() if value is not None}
    return client.get("/mixpanel/api/query/events", params=query, auth=SA)


def export_lines(client, day: str = DAY) -> list[str]:
    query = {"project_id": 12345, "from_date": day, "to_date": day, "event": json.dumps(EVENTS)}
    response = client.get("/mixpanel/api/2.0/export", params=query, auth=SA)
    assert response.status_code == 200, response.text
    return response.text.splitlines()


def test_event_counts_answer_in_the_specs_shape(client):
    response = counts(client)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["series"] == [DAY, NEXT_DAY]
    assert set(body["data"]["values"]) == set(EVENTS)
    assert body["legend_size"] == len(EVENTS)
    for per_day in body["data"]["values"].values():
        assert set(per_day) == {DAY, NEXT_DAY}
        assert all(isinstance(count, int) and count > 0 for count in per_day.values())


def test_general_counts_are_the_export_without_its_exact_copies(client):
    lines = export_lines(client)
    keys = {
        (e["event"], e["properties"]["distinct_id"], e["properties"]["$insert_id"])
        for e in map(json.loads, lines)
    }

    values = counts(client, to_date=DAY).json()["data"]["values"]

    assert len(keys) < len(lines)  # the raw export repeats some events
    assert sum(per_day[DAY] for per_day in values.values()) == len(keys)
    by_name = Counter(name for name, _, _ in keys)
    assert {name: per_day[DAY] for name, per_day in values.items()} == dict(by_name)


def test_unique_counts_distinct_users(client):
    users = {
        json.loads(line)["properties"]["distinct_id"]
        for line in export_lines(client)
        if json.loads(line)["event"] == "Purchase"
    }

    values = counts(client, type="unique", event='["Purchase"]', to_date=DAY).json()

    assert values["data"]["values"]["Purchase"][DAY] == len(users)


def test_days_and_names_without_events_are_left_out_of_values(client):
    before_any_event = (NOW - timedelta(days=10)).date().isoformat()

    body = counts(client, event='["Purchase", "Never Sent"]', from_date=before_any_event).json()

    assert body["data"]["series"][0] == before_any_event
    assert set(body["data"]["values"]) == {"Purchase"}
    assert before_any_event not in body["data"]["values"]["Purchase"]
    assert body["legend_size"] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": None}, "'type' is a required parameter"),
        ({"unit": None}, "'unit' is a required parameter"),
        ({"event": None}, "'event' is a required parameter"),
        ({"from_date": None}, "'from_date' is a required parameter"),
        ({"type": "total"}, "'type' must be one of general, unique, average"),
        ({"unit": "fortnight"}, "'unit' must be one of minute, hour, day, week, month"),
        ({"format": "xml"}, "'format' must be one of json, csv"),
        ({"interval": "two"}, "'interval' must be an integer"),
        ({"event": "Purchase"}, "'event' is not valid JSON"),
        ({"to_date": "10/03/2026"}, "yyyy-mm-dd"),
    ],
)
def test_event_counts_refuse_what_the_spec_refuses(client, params, message):
    response = counts(client, **params)

    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "params",
    [{"unit": "hour"}, {"type": "average"}, {"format": "csv"}, {"interval": "3"}],
)
def test_event_counts_say_what_the_sandbox_does_not_serve(client, params):
    response = counts(client, **params)

    assert response.status_code == 400
    assert "not supported by the sandbox" in response.json()["error"]


def test_a_clean_cut_fault_ends_the_export_at_a_line_boundary_once(client):
    whole = export_lines(client)
    fault = {"api": "mixpanel", "path": "/api/2.0/export", "kind": "clean_cut"}
    assert client.post("/_sandbox/faults", json=fault).status_code == 201

    cut = export_lines(client)

    assert cut == whole[: len(whole) // 2]
    assert all(json.loads(line) for line in cut)  # every line whole, no marker line
    assert export_lines(client) == whole

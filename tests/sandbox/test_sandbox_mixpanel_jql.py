"""The sandbox's JQL: registered results filtered by the params' dates, errors, unavailable."""

from __future__ import annotations

import json

import httpx
import pytest
from jsonschema import Draft7Validator

from mixpanel_brevo_sandbox.server import SandboxServer
from mixpanel_brevo_sandbox.specs import mixpanel_responses

SA = ("sandbox-user", "sandbox-secret")
SCRIPT = (
    "function main() {\n  return Events(params).groupBy(['name'], mixpanel.reducer.count());\n}"
)
ROWS = [
    {"date": "2026-03-07", "buyers": 4},
    {"date": "2026-03-08T00:00:00", "buyers": 5},
    {"date": "2026-03-09", "buyers": 6},
    {"key": ["total"], "value": 15},
]


@pytest.fixture(scope="module")
def server():
    with SandboxServer(seed=7, profiles=20, events=200, days=2) as running:
        yield running


@pytest.fixture
def client(server):
    server.state.reset()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        registered = http.post("/_sandbox/mixpanel/jql", json={"script": SCRIPT, "result": ROWS})
        assert registered.status_code == 201, registered.text
        yield http


def jql(client: httpx.Client, script: str = SCRIPT, **form) -> httpx.Response:
    return client.post(
        "/mixpanel/api/query/jql", params={"project_id": 12345}, data={"script": script, **form},
        auth=SA,
    )  # fmt: skip


def test_a_registered_script_answers_its_rows_as_the_spec_shows(client):
    response = jql(client)

    assert response.status_code == 200, response.text
    assert response.json() == ROWS
    validator = Draft7Validator(mixpanel_responses()["jql"])
    assert list(validator.iter_errors(response.json())) == []


def test_dated_rows_are_kept_within_the_params_dates(client):
    params = json.dumps({"from_date": "2026-03-08", "to_date": "2026-03-09T23:59:59"})
    response = jql(client, params=params)

    assert response.json() == ROWS[1:]
    only_from = jql(client, params=json.dumps({"from_date": "2026-03-09"})).json()
    assert only_from == ROWS[2:]


def test_an_unregistered_script_answers_mixpanels_script_error(client):
    response = jql(client, script=SCRIPT + " ")

    assert response.status_code == 400
    body = response.json()
    assert body["request"] == "/api/query/jql?project_id=12345"
    assert body["error"].startswith("Uncaught exception Error:")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"params": "{not json"}, "'params' is not valid JSON"),
        ({"params": "[1]"}, "'params' must be a JSON object"),
        ({"params": json.dumps({"from_date": 20260308})}, "params.from_date must be a date"),
        ({"format": "csv"}, "unknown parameter(s): format"),
    ],
)
def test_bad_parameters_are_a_400(client, form, message):
    response = jql(client, **form)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_missing_script_is_a_400(client):
    response = client.post("/mixpanel/api/query/jql", params={"project_id": 12345}, auth=SA)

    assert response.status_code == 400
    assert response.json()["error"] == "'script' is a required parameter"


def test_jql_unavailable_for_the_project_answers_our_stand_in(client):
    switched = client.post("/_sandbox/mixpanel/jql-availability", json={"available": False})
    response = jql(client)

    assert switched.json() == {"available": False}
    assert response.status_code == 403
    assert "JQL is not available for this project" in response.json()["error"]
    assert response.json()["request"] == "/api/query/jql?project_id=12345"
    client.post("/_sandbox/mixpanel/jql-availability", json={"available": True})
    assert jql(client).status_code == 200


def test_the_admin_api_refuses_a_result_that_is_not_an_array(client):
    response = client.post("/_sandbox/mixpanel/jql", json={"script": "x", "result": {"a": 1}})

    assert response.status_code == 400
    assert "JSON array" in response.json()["error"]

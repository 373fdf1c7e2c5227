"""Annotations, the report streams' selection, the API secret warning, the budget's wiring."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.tap.report_helpers import (
    BASE,
    CONFIG,
    INSIGHTS,
    QUERY,
    REPORTS,
    funnel_answer,
    key_properties,
    make_tap,
    records,
    run,
)

ANNOTATIONS = f"{BASE}/api/app/projects/12345/annotations"


@respx.mock
def test_annotations_are_the_projects_annotations_keyed_by_id(capsys):
    user = {"id": 1, "first_name": "Ada", "last_name": "L"}
    respx.get(ANNOTATIONS).respond(
        200,
        json={
            "status": "ok",
            "results": [
                {
                    "id": 5,
                    "project_id": 12345,
                    "date": "2026-11-01 00:00:00",
                    "description": "Launch",
                    "user": user,
                },
                {
                    "id": 6,
                    "project_id": 12345,
                    "date": "2026-11-02 00:00:00",
                    "description": "Sale",
                    "tags": [],
                },
            ],
        },
    )

    tap = make_tap({"annotations"})
    written = run(tap, capsys)

    assert key_properties(written, "annotations") == ["id"]
    assert [(r["id"], r["description"], r["user"]) for r in records(written, "annotations")] == [
        (5, "Launch", user),
        (6, "Sale", None),
    ]
    assert tap.client.budget is not None
    assert tap.client.budget.calls == 0  # the App API is not the Query API


@respx.mock
def test_annotations_refused_end_that_stream_with_one_warning(capsys, caplog):
    respx.get(ANNOTATIONS).respond(403, json={"error": "forbidden"})

    written = run(make_tap({"annotations"}), capsys)

    assert records(written, "annotations") == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "annotations API needs a service account" in warnings[0]


def test_report_streams_are_chosen_by_name_never_by_a_run_that_selects_everything():
    tap = TapMixpanelTajo(config=CONFIG, parse_env_config=False)

    assert {name for name in REPORTS if tap.streams[name].selected} == set()
    assert tap.streams["events"].selected


@pytest.mark.parametrize(
    ("credentials", "warned"),
    [
        (
            {
                "api_secret": "legacy-secret",
                "service_account_username": None,
                "service_account_secret": None,
            },
            True,
        ),
        ({}, False),
    ],
)
def test_a_run_with_the_project_api_secret_warns_once_of_its_retirement(
    caplog, credentials, warned
):
    caplog.set_level(logging.INFO)

    make_tap(set(), **credentials)

    retired = [r for r in caplog.records if "2027-03-03" in r.getMessage()]
    assert len(retired) == int(warned)
    if warned:
        assert retired[0].levelno == logging.WARNING
        message = retired[0].getMessage()
        assert "service_account_username, service_account_secret and project_id" in message
        assert "legacy-secret" not in message


@respx.mock
def test_every_query_api_call_of_the_run_takes_from_the_budget_and_the_run_says_what_it_spent(
    capsys, caplog
):
    caplog.set_level(logging.INFO)
    respx.post(f"{QUERY}/cohorts/list").respond(200, json=[])
    respx.get(f"{QUERY}/insights").respond(200, json=INSIGHTS)
    respx.get(f"{QUERY}/funnels").respond(200, json=funnel_answer(["2026-11-01"]))
    respx.get(ANNOTATIONS).respond(200, json={"results": []})
    tap = make_tap(
        {"cohorts", "insights", "funnels", "annotations"}, bookmark_ids=[1, 2], funnel_ids=[3]
    )

    run(tap, capsys)

    assert tap.client.budget is not None
    assert tap.client.budget.calls == 4  # cohorts list, two reports, one funnel window
    assert caplog.records[-1].getMessage() == (
        "Query API budget: 4 calls (limit 60 an hour, 5 at once) and 0 later Engage pages, "
        "0 waits (0 s), "
        "0 rate-limited answers (429)"
    )


@respx.mock
def test_a_run_told_the_hour_is_spent_waits_for_room_and_carries_on(capsys, caplog, no_sleep):
    caplog.set_level(logging.INFO)
    spent = (
        "Query rate limit exceeded for project_id: 12345. 1/5 queries running concurrently and "
        "61/60 queries running in the last hour."
    )
    route = respx.get(f"{QUERY}/insights").mock(
        side_effect=[
            httpx.Response(429, json={"request": "/insights", "error": spent}),
            httpx.Response(200, json=INSIGHTS),
        ]
    )
    tap = make_tap({"insights"}, bookmark_ids=[1])

    written = run(tap, capsys)

    assert route.call_count == 2
    assert len(records(written, "insights")) == 4
    assert tap.client.budget is not None
    assert (tap.client.budget.calls, tap.client.budget.rate_limited, tap.client.budget.waits) == (
        2,
        1,
        1,
    )
    backoff, budget_wait = no_sleep
    assert backoff == 30  # the client's rate-limit backoff
    assert 3500 < budget_wait <= 3600  # then room in the hour Mixpanel counted as full
    assert "1 rate-limited answers (429)" in caplog.records[-1].getMessage()

"""The sandbox's Query API reports and App API annotations: spec shapes, checks, numbers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from jsonschema import Draft7Validator

from mixpanel_brevo_sandbox.server import SandboxServer
from mixpanel_brevo_sandbox.specs import mixpanel_responses

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
DAY = (NOW - timedelta(days=2)).date().isoformat()
NEXT_DAY = (NOW - timedelta(days=1)).date().isoformat()
TODAY = NOW.date().isoformat()
SA = ("sandbox-user", "sandbox-secret")
SECRET = ("sandbox-project-secret", "")
PROJECT = {"project_id": 12345}
ANNOTATIONS = "/mixpanel/api/app/projects/12345/annotations"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(seed=7, now=NOW, profiles=100, events=4000, days=4) as running:
        yield running


@pytest.fixture
def client(server):
    server.state.reset()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def query(client: httpx.Client, endpoint: str, **params) -> httpx.Response:
    return client.get(f"/mixpanel/api/query/{endpoint}", params={**PROJECT, **params}, auth=SA)


def assert_spec_shape(name: str, body) -> None:
    errors = [e.message for e in Draft7Validator(mixpanel_responses()[name]).iter_errors(body)]
    assert errors == [], errors


def segmentation(client, **params) -> httpx.Response:
    base = {"event": "Purchase", "from_date": DAY, "to_date": NEXT_DAY}
    return query(client, "segmentation", **{**base, **params})


def test_segmentation_counts_are_the_event_counts_per_day(client):
    response = segmentation(client)
    counts = query(
        client, "events", event=json.dumps(["Purchase"]), type="general", unit="day",
        from_date=DAY, to_date=NEXT_DAY,
    ).json()  # fmt: skip

    assert response.status_code == 200, response.text
    body = response.json()
    assert_spec_shape("segmentation", body)
    assert body["data"]["series"] == [DAY, NEXT_DAY]
    assert body["data"]["values"] == {"Purchase": counts["data"]["values"]["Purchase"]}
    assert body["legend_size"] == 1


def test_segmentation_on_a_property_splits_the_same_total(client):
    total = segmentation(client).json()["data"]["values"]["Purchase"]
    response = segmentation(client, on='properties["$browser"]', type="general")

    values = response.json()["data"]["values"]
    assert_spec_shape("segmentation", response.json())
    assert {"Chrome", "Safari"} <= set(values)
    for day in (DAY, NEXT_DAY):
        assert sum(per_day[day] for per_day in values.values()) == total[day]
    top = segmentation(client, on='properties["$browser"]', limit=2).json()["data"]["values"]
    assert len(top) == 2


def test_unique_segmentation_counts_users_at_most_the_events(client):
    general = segmentation(client).json()["data"]["values"]["Purchase"]
    unique = segmentation(client, type="unique").json()["data"]["values"]["Purchase"]

    assert all(0 < unique[day] <= general[day] for day in (DAY, NEXT_DAY))
    assert any(unique[day] < general[day] for day in (DAY, NEXT_DAY))


def test_late_events_raise_the_numbers_of_recent_days(client, server):
    before = segmentation(client, event="Page View", from_date=NEXT_DAY, to_date=TODAY).json()
    server.state.advance_clock(48)  # the late events processed after NOW become visible
    after = segmentation(client, event="Page View", from_date=NEXT_DAY, to_date=TODAY).json()

    old, new = before["data"]["values"]["Page View"], after["data"]["values"]["Page View"]
    assert all(new[day] >= old[day] for day in old)
    assert new != old


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bogus": "1"}, "unknown parameter(s): bogus"),
        ({"type": "median"}, "'type' must be one of general, unique, average"),
        ({"unit": "week"}, "'unit' must be one of minute, hour, day, month"),
        ({"unit": "hour"}, "unit=hour is not supported by the sandbox"),
        ({"limit": "many"}, "'limit' must be an integer"),
        ({"from_date": "03/08/2026"}, "'from_date' must be a date in yyyy-mm-dd format"),
        ({"from_date": NEXT_DAY, "to_date": DAY}, "from_date cannot be later than to_date"),
        ({"on": "properties.browser"}, "unsupported segmentation expression"),
        ({"where": "browser is Chrome"}, "unsupported expression"),
    ],
)
def test_segmentation_parameters_are_checked_against_the_spec(client, params, message):
    response = segmentation(client, **params)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_missing_required_parameter_is_a_400(client):
    response = query(client, "segmentation", from_date=DAY, to_date=NEXT_DAY)

    assert response.status_code == 400
    assert response.json()["error"] == "'event' is a required parameter"


def test_insights_reads_a_saved_report_over_its_own_range(client):
    response = query(client, "insights", bookmark_id=4101)

    assert response.status_code == 200, response.text
    body = response.json()
    assert_spec_shape("insights", body)
    assert body["headers"] == ["$event"]
    assert set(body["series"]) == {"Purchase", "Sign Up"}
    assert body["date_range"]["from_date"] == "2026-03-04T00:00:00+00:00"
    assert body["date_range"]["to_date"].startswith(TODAY)
    day_key = f"{DAY}T00:00:00+00:00"
    by_day = segmentation(client).json()["data"]["values"]["Purchase"]
    assert body["series"]["Purchase"][day_key] == by_day[DAY]


def test_insights_with_a_breakdown_nests_one_level_per_segment(client):
    body = query(client, "insights", bookmark_id=4102).json()

    assert body["headers"] == ["$event", "$browser"]
    segments = body["series"]["Purchase"]
    assert "Chrome" in segments
    assert all(isinstance(per_day, dict) for per_day in segments.values())


def test_a_bookmark_added_through_the_admin_api_is_served(client):
    added = client.post(
        "/_sandbox/mixpanel/bookmarks",
        json={"id": 5001, "name": "Searches", "events": ["Search"], "days": 2, "type": "unique"},
    )
    body = query(client, "insights", bookmark_id=5001).json()

    assert added.status_code == 201, added.text
    assert list(body["series"]) == ["Search"]
    assert len(body["series"]["Search"]) == 2
    assert query(client, "insights", bookmark_id=999).status_code == 404
    bad = client.post("/_sandbox/mixpanel/bookmarks", json={"name": "x", "events": []})
    assert bad.status_code == 400


def test_funnels_list_and_a_funnel_by_day(client):
    listed = query(client, "funnels/list")
    response = query(client, "funnels", funnel_id=7101, from_date=DAY, to_date=NEXT_DAY)

    assert listed.json() == [
        {"funnel_id": 7101, "name": "Browse to purchase"},
        {"funnel_id": 7102, "name": "Sign up to activation"},
    ]
    assert_spec_shape("funnels_list", listed.json())
    assert response.status_code == 200, response.text
    body = response.json()
    assert_spec_shape("funnels", body)
    assert body["meta"]["dates"] == [DAY, NEXT_DAY]
    for day in (DAY, NEXT_DAY):
        steps = body["data"][day]["steps"]
        counts = [step["count"] for step in steps]
        assert [step["event"] for step in steps] == ["Page View", "Add to Cart", "Purchase"]
        assert counts[0] > 0
        assert counts == sorted(counts, reverse=True)
        assert steps[1]["step_conv_ratio"] == counts[1] / counts[0]
        analysis = body["data"][day]["analysis"]
        assert (analysis["starting_amount"], analysis["completion"]) == (counts[0], counts[-1])


def test_a_longer_conversion_window_converts_at_least_as_many(client):
    def completions(length: int) -> int:
        body = query(
            client, "funnels", funnel_id=7101, from_date=DAY, to_date=DAY, length=length,
            length_unit="hour",
        ).json()  # fmt: skip
        return body["data"][DAY]["analysis"]["completion"]

    assert completions(1) <= completions(48)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"length": "91"}, 400, "at most 90 days"),
        ({"length_unit": "week"}, 400, "'length_unit' must be one of day, hour, minute, second"),
        ({"unit": "week"}, 400, "unit=week is not supported by the sandbox"),
        ({"funnel_id": "7999"}, 404, "funnel 7999 does not exist"),
        ({"funnel_id": "x"}, 400, "'funnel_id' must be an integer"),
        ({"on": 'properties["$browser"]'}, 400, "on is not supported by the sandbox"),
        ({"limit": "10001"}, 400, "'limit' must be between 1 and 10000"),
        ({"event": "Purchase"}, 400, "unknown parameter(s): event"),
    ],
)
def test_funnel_parameters_are_checked(client, params, status, message):
    base = {"funnel_id": 7101, "from_date": DAY, "to_date": NEXT_DAY}
    response = query(client, "funnels", **{**base, **params})

    assert response.status_code == status
    assert message in response.json()["error"]


def test_a_funnel_added_through_the_admin_api_is_listed_and_served(client):
    added = client.post(
        "/_sandbox/mixpanel/funnels",
        json={"name": "Search to cart", "steps": ["Search", "Add to Cart"], "length_days": 2},
    )
    funnel_id = added.json()["funnel_id"]
    body = query(client, "funnels", funnel_id=funnel_id, from_date=DAY, to_date=DAY).json()

    assert funnel_id == 7103
    assert {"funnel_id": 7103, "name": "Search to cart"} in query(client, "funnels/list").json()
    assert [step["goal"] for step in body["data"][DAY]["steps"]] == ["Search", "Add to Cart"]


def test_retention_by_day_in_the_specs_shape(client):
    params = {"born_event": "Page View", "from_date": DAY, "to_date": NEXT_DAY}
    response = query(client, "retention", **params, interval_count=2)

    assert response.status_code == 200, response.text
    body = response.json()
    assert_spec_shape("retention", body)
    assert list(body) == [DAY, NEXT_DAY]
    for cohort in body.values():
        assert len(cohort["counts"]) == 3
        assert cohort["first"] > 0
        assert all(0 <= n <= cohort["first"] for n in cohort["counts"])
    compounded = query(
        client, "retention", retention_type="compounded", event="Purchase", from_date=DAY,
        to_date=DAY,
    ).json()  # fmt: skip
    assert (
        compounded[DAY]["first"]
        == segmentation(client, type="unique").json()["data"]["values"]["Purchase"][DAY]
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"born_event": None}, "born_event is required when retention_type is birth"),
        ({"retention_type": "first"}, "'retention_type' must be one of birth, compounded"),
        ({"on": 'properties["$browser"]'}, "on is not supported by the sandbox"),
        ({"limit": "0"}, "'limit' must be between 1 and 10000"),
        ({"interval_count": "0"}, "'interval_count' must be between 1 and 90"),
        ({"unbounded_retention": "maybe"}, "'unbounded_retention' must be a boolean"),
    ],
)
def test_retention_parameters_are_checked(client, params, message):
    base = {"born_event": "Sign Up", "from_date": DAY, "to_date": NEXT_DAY}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    response = query(client, "retention", **merged)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_the_legacy_api_2_0_paths_answer_the_same(client):
    legacy = client.get("/mixpanel/api/2.0/funnels/list", params=PROJECT, auth=SA)

    assert legacy.json() == query(client, "funnels/list").json()


def test_annotations_in_the_app_apis_shape_service_accounts_only(client):
    response = client.get(ANNOTATIONS, auth=SA)
    secret = client.get(ANNOTATIONS, auth=SECRET)

    assert response.status_code == 200, response.text
    body = response.json()
    assert_spec_shape("annotations", body)
    assert [a["id"] for a in body["results"]] == [9101, 9102, 9103]
    assert body["results"][0]["date"] == "2026-03-04 12:00:00"
    assert body["results"][2]["tags"] == [
        {"id": 303, "name": "marketing"},
        {"id": 301, "name": "release"},
    ]
    assert secret.status_code == 401


def test_annotations_are_bounded_by_from_and_to_dates(client):
    added = client.post(
        "/_sandbox/mixpanel/annotations",
        json={"date": f"{DAY} 08:30:00", "description": "Outage", "tags": ["incident"]},
    )
    body = client.get(ANNOTATIONS, params={"fromDate": DAY, "toDate": NEXT_DAY}, auth=SA).json()

    assert added.status_code == 201, added.text
    assert [(a["date"], a["description"]) for a in body["results"]] == [
        (f"{DAY} 08:30:00", "Outage"),
        (f"{NEXT_DAY} 12:00:00", "Newsletter sent"),
    ]
    bad = client.get(ANNOTATIONS, params={"fromDate": "yesterday"}, auth=SA)
    assert bad.status_code == 400
    unknown = client.get(ANNOTATIONS, params={"from_date": DAY}, auth=SA)
    assert unknown.status_code == 400


def at(day: str, clock: str) -> int:
    return int(datetime.fromisoformat(f"{day}T{clock}+00:00").timestamp())


def add_events(client, *events: tuple[str, str, int]) -> None:
    items = [
        {"event": name, "properties": {"time": moment, "$user_id": user, "distinct_id": user}}
        for name, user, moment in events
    ]
    assert client.post("/_sandbox/mixpanel/events", json={"events": items}).status_code == 200


def test_a_funnel_counts_each_user_step_by_step_within_its_window(client):
    add_events(
        client,
        ("Probe A", "u1", at(DAY, "10:00:00")),
        ("Probe B", "u1", at(DAY, "10:30:00")),
        ("Probe C", "u1", at(DAY, "11:30:00")),
        ("Probe A", "u2", at(DAY, "12:00:00")),
        ("Probe B", "u2", at(NEXT_DAY, "13:00:00")),  # 25 hours later: out of the window
        ("Probe A", "u3", at(DAY, "09:00:00")),
    )
    funnel = {"name": "Probe", "steps": ["Probe A", "Probe B", "Probe C"], "length_days": 1}
    funnel_id = client.post("/_sandbox/mixpanel/funnels", json=funnel).json()["funnel_id"]

    day = query(client, "funnels", funnel_id=funnel_id, from_date=DAY, to_date=DAY).json()
    steps = day["data"][DAY]["steps"]

    assert [s["count"] for s in steps] == [3, 1, 1]
    assert [s["avg_time"] for s in steps] == [0, 1800, 3600]
    assert [s["avg_time_from_start"] for s in steps] == [0, 1800, 5400]
    assert steps[2]["overall_conv_ratio"] == 1 / 3
    assert day["data"][DAY]["analysis"] == {
        "completion": 1,
        "starting_amount": 3,
        "steps": 3,
        "worst": 1,
    }


def test_retention_buckets_each_return_by_whole_intervals_after_birth(client):
    add_events(
        client,
        ("Probe Born", "r1", at(DAY, "10:00:00")),
        ("Probe Back", "r1", at(DAY, "15:00:00")),  # interval 0: under a day after birth
        ("Probe Back", "r1", at(NEXT_DAY, "11:00:00")),  # interval 1
        ("Probe Born", "r2", at(DAY, "20:00:00")),
        ("Probe Born", "r2", at(NEXT_DAY, "20:00:00")),  # born already: not a second birth
    )

    body = query(
        client, "retention", born_event="Probe Born", event="Probe Back", from_date=DAY,
        to_date=NEXT_DAY, interval_count=2,
    ).json()  # fmt: skip

    assert body == {
        DAY: {"first": 2, "counts": [1, 1, 0]},
        NEXT_DAY: {"first": 0, "counts": [0, 0, 0]},
    }

"""The report streams: records and keys from answers shaped as the Query API spec shows them,
incremental state and lookback, ``funnel_ids: all``, and no call for an empty setting."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from tap_mixpanel_tajo.report_settings import query_key
from tap_mixpanel_tajo.tap import TapMixpanelTajo

BASE = "http://mixpanel.test"
QUERY = f"{BASE}/api/query"
CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "start_date": "2026-11-01",
    "end_date": "2026-11-03",
    "max_retries": 1,
}
REPORTS = ("insights", "funnels", "segmentation", "retention", "annotations")

# Answers shaped as query.openapi.yaml's examples.
INSIGHTS = {
    "computed_at": "2026-11-04T16:35:41.252314+00:00",
    "date_range": {
        "from_date": "2026-11-01T00:00:00+00:00",
        "to_date": "2026-11-02T23:59:59+00:00",
    },
    "headers": ["$event", "$browser"],
    "series": {
        "Logged in": {"2026-11-01T00:00:00+00:00": 9852, "2026-11-02T00:00:00+00:00": 4325},
        "Viewed page": {
            "Chrome": {"2026-11-01T00:00:00+00:00": 10246},
            "Firefox": {"2026-11-01T00:00:00+00:00": 11432},
        },
    },
}
STEP = {"count": 32688, "step_conv_ratio": 1, "overall_conv_ratio": 1, "event": "App Open"}
ANALYSIS = {"completion": 20524, "starting_amount": 32688, "steps": 2, "worst": 1}


def funnel_answer(days: list[str]) -> dict:
    return {
        "meta": {"dates": days},
        "data": {day: {"steps": [STEP], "analysis": ANALYSIS} for day in days},
    }


def make_tap(streams: set[str], state: dict | None = None, **overrides) -> TapMixpanelTajo:
    """A tap syncing only ``streams``."""
    config = {key: value for key, value in {**CONFIG, **overrides}.items() if value is not None}
    tap = TapMixpanelTajo(config=config, state=state or {}, parse_env_config=False)
    for name, stream in tap.streams.items():
        stream.selected = name in streams
    return tap


def run(tap: TapMixpanelTajo, capsys) -> list[dict]:
    """Sync and return every message written."""
    capsys.readouterr()
    tap.sync_all()
    return [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]


def records(written: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in written if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(written: list[dict]) -> dict:
    return [m["value"] for m in written if m["type"] == "STATE"][-1]


def params(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(str(request.url)).query).items()}


def key_properties(written: list[dict], stream: str) -> list[str]:
    (schema,) = [m for m in written if m["type"] == "SCHEMA" and m["stream"] == stream]
    return schema["key_properties"]


@respx.mock
def test_insights_reads_each_saved_report_whole_one_record_per_series_segment_and_date(capsys):
    route = respx.get(f"{QUERY}/insights").respond(200, json=INSIGHTS)

    written = run(make_tap({"insights"}, bookmark_ids=[701]), capsys)

    assert params(route.calls.last.request) == {"bookmark_id": "701", "project_id": "12345"}
    assert key_properties(written, "insights") == ["bookmark_id", "series", "segment", "date"]
    rows = [
        (r["bookmark_id"], r["series"], r["segment"], r["date"][:10], r["value"])
        for r in records(written, "insights")
    ]
    assert sorted(rows) == [
        (701, "Logged in", "", "2026-11-01", 9852),
        (701, "Logged in", "", "2026-11-02", 4325),
        (701, "Viewed page", "Chrome", "2026-11-01", 10246),
        (701, "Viewed page", "Firefox", "2026-11-01", 11432),
    ]
    assert records(written, "insights")[0]["computed_at"] == INSIGHTS["computed_at"]


@respx.mock
def test_funnels_are_one_record_per_funnel_and_day_with_a_bookmark_per_funnel(capsys):
    route = respx.get(f"{QUERY}/funnels").mock(
        side_effect=lambda request: httpx.Response(
            200, json=funnel_answer(["2026-11-01", "2026-11-02", "2026-11-03"])
        )
    )

    written = run(make_tap({"funnels"}, funnel_ids=[7509, 9070]), capsys)

    assert key_properties(written, "funnels") == ["funnel_id", "date"]
    assert [params(call.request) for call in route.calls] == [
        {
            "funnel_id": str(f),
            "from_date": "2026-11-01",
            "to_date": "2026-11-03",
            "project_id": "12345",
        }
        for f in (7509, 9070)
    ]
    rows = records(written, "funnels")
    assert [(r["funnel_id"], r["date"]) for r in rows] == [
        (f, day) for f in (7509, 9070) for day in ("2026-11-01", "2026-11-02", "2026-11-03")
    ]
    assert rows[0]["steps"] == [STEP]
    assert rows[0]["analysis"] == ANALYSIS
    partitions = last_state(written)["bookmarks"]["funnels"]["partitions"]
    assert [(p["context"], p["replication_key_value"]) for p in partitions] == [
        ({"funnel_id": 7509}, "2026-11-03"),
        ({"funnel_id": 9070}, "2026-11-03"),
    ]


@respx.mock
def test_a_funnel_rerun_reads_the_lookback_again_from_its_bookmark(capsys):
    state = {
        "bookmarks": {
            "funnels": {
                "partitions": [
                    {
                        "context": {"funnel_id": 7509},
                        "replication_key": "date",
                        "replication_key_value": "2026-11-20",
                    }
                ]
            }
        }
    }
    route = respx.get(f"{QUERY}/funnels").respond(200, json=funnel_answer(["2026-11-22"]))
    tap = make_tap(
        {"funnels"},
        state,
        funnel_ids=[7509],
        start_date="2026-10-01",
        end_date="2026-11-22",
        report_lookback_days=3,
    )

    written = run(tap, capsys)

    assert [
        (params(c.request)["from_date"], params(c.request)["to_date"]) for c in route.calls
    ] == [("2026-11-17", "2026-11-22")]
    (partition,) = last_state(written)["bookmarks"]["funnels"]["partitions"]
    assert partition["replication_key_value"] == "2026-11-22"


@respx.mock
def test_funnel_requests_cover_at_most_30_days_and_the_bookmark_follows_each_window(capsys):
    route = respx.get(f"{QUERY}/funnels").respond(200, json=funnel_answer([]))

    run(
        make_tap({"funnels"}, funnel_ids=[1], start_date="2026-09-01", end_date="2026-11-04"),
        capsys,
    )

    windows = [(params(c.request)["from_date"], params(c.request)["to_date"]) for c in route.calls]
    assert windows == [
        ("2026-09-01", "2026-09-30"),
        ("2026-10-01", "2026-10-30"),
        ("2026-10-31", "2026-11-04"),
    ]


@respx.mock
def test_funnel_ids_all_reads_every_funnel_of_the_list(capsys):
    listed = respx.get(f"{QUERY}/funnels/list").respond(
        200,
        json=[{"funnel_id": 7509, "name": "Signup funnel"}, {"funnel_id": 9070, "name": "Tour"}],
    )
    route = respx.get(f"{QUERY}/funnels").respond(200, json=funnel_answer(["2026-11-01"]))

    written = run(make_tap({"funnels"}, funnel_ids="all"), capsys)

    assert listed.call_count == 1
    assert [params(c.request)["funnel_id"] for c in route.calls] == ["7509", "9070"]
    assert [(r["funnel_id"], r["name"]) for r in records(written, "funnels")] == [
        (7509, "Signup funnel"),
        (9070, "Tour"),
    ]


@respx.mock
def test_maintenance_mode_streams_say_so_once_when_used(capsys, caplog):
    caplog.set_level(logging.INFO)
    respx.get(f"{QUERY}/funnels").respond(200, json=funnel_answer(["2026-11-01"]))
    respx.get(f"{QUERY}/segmentation").respond(200, json={"data": {"series": [], "values": {}}})
    tap = make_tap(
        {"funnels", "segmentation"},
        funnel_ids=[1, 2],
        segmentation_queries=[{"event": "A"}, {"event": "B"}],
    )

    written = run(tap, capsys)

    notices = [r.getMessage() for r in caplog.records if "maintenance mode" in r.getMessage()]
    assert len(notices) == 2
    assert notices[0].startswith("funnels: Mixpanel's Funnels Query API is in maintenance mode")
    assert notices[1].startswith("segmentation: Mixpanel's Segmentation Query API is in")
    schemas = {m["stream"]: m["schema"] for m in written if m["type"] == "SCHEMA"}
    assert "maintenance mode" in schemas["funnels"]["description"]
    assert "maintenance mode" in schemas["segmentation"]["description"]


@respx.mock
def test_a_stream_whose_setting_is_empty_emits_nothing_and_makes_no_call(capsys):
    """respx refuses any call not mocked: none is."""
    tap = make_tap({"insights", "funnels", "segmentation", "retention"}, funnel_ids=[])

    written = run(tap, capsys)

    assert [m for m in written if m["type"] == "RECORD"] == []
    assert tap.client.budget is not None
    assert tap.client.budget.calls == 0


@respx.mock
def test_segmentation_is_one_record_per_query_segment_and_date(capsys):
    route = respx.get(f"{QUERY}/segmentation").respond(
        200,
        json={
            "data": {
                "series": ["2026-11-01", "2026-11-02"],
                "values": {
                    "Chrome": {"2026-11-01": 147, "2026-11-02": 146},
                    "Safari": {"2026-11-01": 776},
                },
            },
            "legend_size": 2,
        },
    )
    named = {
        "name": "signups",
        "event": "Signed up",
        "on": 'properties["$browser"]',
        "type": "unique",
    }
    unnamed = {"event": "Logged in", "where": 'properties["plan"] == "pro"'}

    written = run(make_tap({"segmentation"}, segmentation_queries=[named, unnamed]), capsys)

    sent = [params(c.request) for c in route.calls]
    assert sent[0] == {
        "event": "Signed up",
        "on": 'properties["$browser"]',
        "type": "unique",
        "from_date": "2026-11-01",
        "to_date": "2026-11-03",
        "project_id": "12345",
    }
    assert sent[1]["where"] == 'properties["plan"] == "pro"'
    assert key_properties(written, "segmentation") == ["query", "segment", "date"]
    rows = [
        (r["query"], r["segment"], r["date"], r["value"]) for r in records(written, "segmentation")
    ]
    hashed = query_key(unnamed)
    assert len(hashed) == 12
    assert rows == [
        (q, segment, day, n)
        for q in ("signups", hashed)
        for segment, day, n in (
            ("Chrome", "2026-11-01", 147),
            ("Chrome", "2026-11-02", 146),
            ("Safari", "2026-11-01", 776),
        )
    ]
    partitions = last_state(written)["bookmarks"]["segmentation"]["partitions"]
    assert [p["context"] for p in partitions] == [{"query": "signups"}, {"query": hashed}]


def test_a_querys_key_is_its_name_or_a_stable_hash_of_its_canonical_json():
    assert query_key({"name": "signups", "event": "A"}) == "signups"
    assert query_key({"event": "A", "on": "x"}) == query_key({"on": "x", "event": "A"})
    assert query_key({"event": "A"}) != query_key({"event": "B"})


@respx.mock
def test_segmentation_reruns_from_its_bookmark_day_without_lookback(capsys):
    state = {
        "bookmarks": {
            "segmentation": {
                "partitions": [
                    {
                        "context": {"query": "signups"},
                        "replication_key": "date",
                        "replication_key_value": "2026-11-02",
                    }
                ]
            }
        }
    }
    route = respx.get(f"{QUERY}/segmentation").respond(200, json={"data": {"values": {}}})
    query = {"name": "signups", "event": "Signed up"}

    run(make_tap({"segmentation"}, state, segmentation_queries=[query]), capsys)

    assert params(route.calls.last.request)["from_date"] == "2026-11-02"


RETENTION = {
    "2026-11-01": {"counts": [2, 1, 2], "first": 2},
    "2026-11-02": {"counts": [9, 7, 6], "first": 10},
}


@respx.mock
def test_retention_is_one_record_per_query_and_birth_date(capsys):
    route = respx.get(f"{QUERY}/retention").respond(200, json=RETENTION)
    query = {
        "name": "carts",
        "born_event": "Added to cart",
        "retention_type": "birth",
        "interval_count": 3,
    }

    written = run(make_tap({"retention"}, retention_queries=[query]), capsys)

    sent = params(route.calls.last.request)
    assert (sent["born_event"], sent["retention_type"], sent["interval_count"]) == (
        "Added to cart",
        "birth",
        "3",
    )
    assert key_properties(written, "retention") == ["query", "segment", "date"]
    assert [
        (r["query"], r["segment"], r["date"], r["first"], r["counts"])
        for r in records(written, "retention")
    ] == [
        ("carts", "", "2026-11-01", 2, [2, 1, 2]),
        ("carts", "", "2026-11-02", 10, [9, 7, 6]),
    ]


@respx.mock
def test_segmented_retention_keys_each_segment(capsys):
    respx.get(f"{QUERY}/retention").respond(200, json={"pro": RETENTION, "free": RETENTION})
    query = {"name": "carts", "born_event": "Added to cart", "on": 'properties["plan"]'}

    written = run(make_tap({"retention"}, retention_queries=[query]), capsys)

    keys = [(r["segment"], r["date"]) for r in records(written, "retention")]
    assert keys == [
        ("pro", "2026-11-01"),
        ("pro", "2026-11-02"),
        ("free", "2026-11-01"),
        ("free", "2026-11-02"),
    ]


@respx.mock
def test_retention_rereads_the_lookback(capsys):
    state = {
        "bookmarks": {
            "retention": {
                "partitions": [
                    {
                        "context": {"query": "carts"},
                        "replication_key": "date",
                        "replication_key_value": "2026-11-10",
                    }
                ]
            }
        }
    }
    route = respx.get(f"{QUERY}/retention").respond(200, json={})
    query = {"name": "carts", "born_event": "Added to cart"}
    tap = make_tap(
        {"retention"}, state, retention_queries=[query], end_date="2026-11-12"
    )  # default lookback: 5 days

    run(tap, capsys)

    sent = params(route.calls.last.request)
    assert (sent["from_date"], sent["to_date"]) == ("2026-11-05", "2026-11-12")


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

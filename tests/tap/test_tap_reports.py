"""The insights and funnels streams: records and keys from answers shaped as the Query API spec
shows them, state and lookback, ``funnel_ids: all``, and no call for an empty setting."""

from __future__ import annotations

import logging

import httpx
import respx

from tests.tap.report_helpers import (
    ANALYSIS,
    INSIGHTS,
    QUERY,
    STEP,
    funnel_answer,
    key_properties,
    last_state,
    make_tap,
    params,
    records,
    run,
)


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

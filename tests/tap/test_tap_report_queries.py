"""The segmentation and retention streams: a record per query, segment and date; state per query."""

from __future__ import annotations

import pytest
import respx

from tap_mixpanel_tajo.env_settings import env_setting_problem
from tap_mixpanel_tajo.errors import TapConfigError
from tap_mixpanel_tajo.report_settings import query_key
from tap_mixpanel_tajo.settings import CONFIG_SCHEMA, TapSettings
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.tap.report_helpers import (
    CONFIG,
    QUERY,
    key_properties,
    last_state,
    make_tap,
    params,
    records,
    run,
)


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


@pytest.mark.parametrize(
    ("raw", "read"),
    [(None, ()), ([7509, 9070], (7509, 9070)), ("[7509]", (7509,)), ("all", "all"), ("ALL", "all")],
)
def test_funnel_ids_are_ids_or_all_also_as_text_from_the_environment(raw, read):
    assert TapSettings.from_config({"funnel_ids": raw}).funnel_ids == read


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"funnel_ids": "some"}, "funnel_ids 'some' is neither a list of funnel ids nor all"),
        ({"segmentation_queries": [{"on": "x"}]}, "segmentation_queries[0]: needs event"),
        ({"retention_queries": [{"event": "A"}]}, "retention_queries[0]: needs born_event"),
        (
            {
                "retention_queries": [
                    {"name": "a", "born_event": "A"},
                    {"name": "a", "born_event": "B"},
                ]
            },
            "retention_queries[1]: a second query keyed 'a'; give each query its own name",
        ),
    ],
)
def test_a_report_setting_mistake_is_one_line_before_any_call(config, problem):
    with pytest.raises(TapConfigError) as error:
        TapSettings.from_config(config)

    assert str(error.value) == problem


def test_funnel_ids_all_from_the_environment_is_a_quoted_word(monkeypatch):
    """The SDK reads an array setting's variable as JSON: the word is JSON text too."""
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_FUNNEL_IDS", '"all"')
    tap = TapMixpanelTajo(config=CONFIG, parse_env_config=True)
    assert tap.settings.funnel_ids == "all"

    problem = env_setting_problem(
        CONFIG_SCHEMA["properties"], "TAP_MIXPANEL_TAJO_", {"TAP_MIXPANEL_TAJO_FUNNEL_IDS": "all"}
    )
    assert problem == (
        'TAP_MIXPANEL_TAJO_FUNNEL_IDS is not a JSON array or a word in double quotes (e.g. "all"): '
        "set funnel_ids as JSON text"
    )

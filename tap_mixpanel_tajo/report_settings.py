"""The settings of the report streams and of the Query API budget, declared and read.

Part of the tap's one config schema: :mod:`tap_mixpanel_tajo.settings` adds these properties to
it and reads them into ``TapSettings`` with the parsers here; kept apart so each module stays
short. A query's ``query`` key (its ``name``, or a short
stable hash of its canonical JSON) is computed once, here, and names its state partition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping as ConfigMapping
from typing import Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.errors import TapConfigError

#: ``funnel_ids: all`` reads every funnel of ``/funnels/list``.
ALL_FUNNELS = "all"
#: The keys each query setting takes (anything else is a typo, refused before the first call).
SEGMENTATION_KEYS = ("name", "event", "on", "where", "unit", "type")
RETENTION_KEYS = (
    "name",
    "born_event",
    "event",
    "where",
    "born_where",
    "unit",
    "retention_type",
    "interval",
    "interval_count",
)


def _query_type(keys: tuple[str, ...], required: str) -> th.ObjectType:
    integers = {"interval", "interval_count"}
    return th.ObjectType(
        *(
            th.Property(
                key, th.IntegerType if key in integers else th.StringType, required=key == required
            )
            for key in keys
        )
    )


REPORT_PROPERTIES: list[th.Property] = [
    th.Property(
        "bookmark_ids",
        th.ArrayType(th.IntegerType),
        title="Insights bookmark IDs",
        description=(
            "Saved Insights reports to read as the insights stream, by bookmark id (the "
            "report-<id> in the report's URL). Each is read whole, over the date range saved "
            "with it: one Query API call per report and run. Unset or empty: the stream reads "
            "nothing."
        ),
    ),
    th.Property(
        "funnel_ids",
        th.CustomType({"type": ["array", "string"], "items": {"type": "integer"}}),
        title="Funnel IDs",
        description=(
            "Funnels to read as the funnels stream: a list of funnel ids, or all (every funnel "
            "of /funnels/list). Incremental by day, re-reading report_lookback_days. Mixpanel's "
            "Funnels Query API is in maintenance mode. Unset or empty: the stream reads nothing."
        ),
    ),
    th.Property(
        "segmentation_queries",
        th.ArrayType(_query_type(SEGMENTATION_KEYS, "event")),
        title="Segmentation queries",
        description=(
            "Segmentation queries read as the segmentation stream, each {name, event, on, "
            "where, unit, type}; name (else a hash of the query) keys its records and state. "
            "Mixpanel's Segmentation Query API is in maintenance mode: prefer a saved report "
            "in bookmark_ids. Unset or empty: the stream reads nothing."
        ),
    ),
    th.Property(
        "retention_queries",
        th.ArrayType(_query_type(RETENTION_KEYS, "born_event")),
        title="Retention queries",
        description=(
            "Retention queries read as the retention stream, each {name, born_event, event, "
            "where, born_where, unit, retention_type, interval, interval_count}; name (else a "
            "hash of the query) keys its records and state. Incremental by day, re-reading "
            "report_lookback_days. Unset or empty: the stream reads nothing."
        ),
    ),
    th.Property(
        "report_lookback_days",
        th.IntegerType(minimum=0),
        default=5,
        title="Report lookback days",
        description=(
            "Days before the bookmark the funnels and retention streams read again on each run "
            "(their numbers keep changing for days: the attribution window)."
        ),
    ),
    th.Property(
        "query_budget_per_hour",
        th.IntegerType(minimum=1),
        default=60,
        title="Query API budget per hour",
        description=(
            "Query API calls one run may make in any hour (Mixpanel allows 60 per project), "
            "shared by profiles, groups, cohorts, reports, JQL and the export count check. When "
            "it is spent the run waits for the hour to free a call; it never fails for budget."
        ),
    ),
    th.Property(
        "query_concurrency",
        th.IntegerType(minimum=1),
        default=5,
        title="Query API concurrency",
        description="Query API calls running at once (Mixpanel allows 5 per project).",
    ),
]


def query_key(query: ConfigMapping[str, Any]) -> str:
    """A query's ``name``, or a short stable hash of its canonical JSON (its record key)."""
    name = query.get("name")
    if name:
        return str(name)
    canonical = json.dumps(dict(query), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def parse_funnel_ids(raw: Any) -> tuple[int, ...] | str:
    """``funnel_ids`` as ids or ``"all"``; a JSON list in text (from the environment) is read."""
    value = raw
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            value = raw
    if isinstance(value, str) and value.strip().lower() == ALL_FUNNELS:
        return ALL_FUNNELS
    if value is None or value == "":
        return ()
    if isinstance(value, list) and all(_is_int(item) for item in value):
        return tuple(int(item) for item in value)
    msg = f"funnel_ids {raw!r} is neither a list of funnel ids nor all"
    raise TapConfigError(msg)


def _is_int(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int)) or str(value).isdigit()


def parse_queries(config: ConfigMapping[str, Any], name: str, required: str) -> dict[str, dict]:
    """A query list as ``{query key: query}``; a query without ``required`` or a twin is refused."""
    queries: dict[str, dict[str, Any]] = {}
    for index, given in enumerate(config.get(name) or []):
        if not isinstance(given, dict) or not given.get(required):
            msg = f"{name}[{index}]: needs {required}"
            raise TapConfigError(msg)
        query = {key: value for key, value in given.items() if value is not None}
        key = query_key(query)
        if key in queries:
            msg = f"{name}[{index}]: a second query keyed {key!r}; give each query its own name"
            raise TapConfigError(msg)
        queries[key] = query
    return queries

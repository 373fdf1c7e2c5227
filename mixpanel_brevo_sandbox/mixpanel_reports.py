"""Query API report endpoints (insights, funnels, segmentation, retention) and App API annotations.

Answers are shaped as ``query.openapi.yaml`` (and ``annotations.openapi.yaml``) show; parameters
are checked against the vendored spec, strictly: an unknown parameter or a bad value is a 400.
What the sandbox does not compute (other units than ``day``, ``on`` for funnels and retention,
``type=average``, csv) is a 400 that says so, never a silently different answer.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from .expressions import ExpressionError, Predicate, parse, property_name
from .mixpanel_checks import BOOLEANS, MixpanelError, authenticate, check_params, date_range
from .mixpanel_project import PROJECT_ID, MixpanelProject
from .mixpanel_report_data import MAX_FUNNEL_DAYS
from .mixpanel_report_math import (
    RetentionQuery,
    by_user,
    days_between,
    funnel_day,
    occurrences,
    retention,
    segment_counts,
)
from .wire import Request, Response, json_response

SEGMENTATION_LIMIT = 60  # the spec's default
MAX_LIMIT = 10_000
LENGTH_UNIT_SECONDS = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}


def _query_params(request: Request, operation: str) -> dict[str, str]:
    params = request.form()
    authenticate(request, params)
    check_params(operation, params, strict=True)
    return params


def _only(params: dict[str, str], name: str, supported: set[str]) -> None:
    if name in params and params[name] not in supported:
        raise MixpanelError(400, f"{name}={params[name]} is not supported by the sandbox")


def _absent(params: dict[str, str], *names: str) -> None:
    for name in names:
        if name in params:
            raise MixpanelError(400, f"{name} is not supported by the sandbox for this report")


def _where(params: dict[str, str], name: str = "where") -> Predicate | None:
    try:
        return parse(params[name]) if params.get(name) else None
    except ExpressionError as exc:
        raise MixpanelError(400, str(exc)) from exc


def _limit(params: dict[str, str], default: int) -> int:
    limit = int(params.get("limit", default))
    if not 0 < limit <= MAX_LIMIT:
        raise MixpanelError(400, f"'limit' must be between 1 and {MAX_LIMIT}")
    return limit


def _now_ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


def _iso_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+00:00"


def insights(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``GET /api/query/insights?bookmark_id=``: the saved report over its own date range.

    ``series`` maps each event to ``{date: value}``, or with a breakdown to
    ``{segment: {date: value}}``; ``headers`` names those levels.
    """
    params = _query_params(request, "insights")
    bookmark = project.reports.bookmarks.get(int(params["bookmark_id"]))
    if bookmark is None:
        raise MixpanelError(404, f"bookmark {params['bookmark_id']} does not exist")
    days = days_between(now.date() - timedelta(days=bookmark.days - 1), now.date())
    found = occurrences(project, _now_ms(now), set(bookmark.events))
    series: dict[str, Any] = {}
    for event in bookmark.events:
        counts = segment_counts(
            found, event, days, on=bookmark.on, where=None, unique=bookmark.type == "unique",
            limit=MAX_LIMIT,
        )  # fmt: skip
        by_day = {
            segment: {_iso_day(date.fromisoformat(d)): n for d, n in per_day.items()}
            for segment, per_day in counts.items()
        }
        series[event] = by_day if bookmark.on else by_day.get(event, {})
    payload = {
        "computed_at": now.isoformat(),
        "date_range": {
            "from_date": _iso_day(days[0]),
            "to_date": f"{days[-1].isoformat()}T23:59:59.999000+00:00",
        },
        "headers": ["$event", bookmark.on] if bookmark.on else ["$event"],
        "series": series,
    }
    return json_response(200, payload)


def segmentation(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``GET /api/query/segmentation``: one event per day, segmented ``on`` a property."""
    params = _query_params(request, "segmentation")
    _only(params, "unit", {"day"})
    _only(params, "type", {"general", "unique"})
    _absent(params, "interval", "format")
    from_day, to_day = date_range(params)
    on = _on(params)
    days = days_between(from_day, to_day)
    found = occurrences(project, _now_ms(now), {params["event"]})
    values = segment_counts(
        found, params["event"], days, on=on, where=_where(params),
        unique=params.get("type") == "unique", limit=_limit(params, SEGMENTATION_LIMIT),
    )  # fmt: skip
    series = [day.isoformat() for day in days]
    return json_response(
        200, {"data": {"series": series, "values": values}, "legend_size": len(values)}
    )


def _on(params: dict[str, str]) -> str | None:
    try:
        return property_name(params["on"]) if params.get("on") else None
    except ExpressionError as exc:
        raise MixpanelError(400, str(exc)) from exc


def funnels_list(project: MixpanelProject, request: Request, _now: datetime) -> Response:
    """``GET /api/query/funnels/list``: a bare array of ``{funnel_id, name}``."""
    _query_params(request, "funnels_list")
    funnels = sorted(project.reports.funnels.values(), key=lambda f: f.id)
    return json_response(200, [{"funnel_id": f.id, "name": f.name} for f in funnels])


def funnels(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``GET /api/query/funnels``: the saved funnel's steps per day, ``from_date`` to ``to_date``.

    ``length``/``length_unit`` override the saved conversion window (at most 90 days).
    """
    params = _query_params(request, "funnels")
    _only(params, "unit", {"day"})
    _only(params, "interval", {"1"})
    _absent(params, "on")
    _limit(params, MAX_LIMIT)  # checked, though without ``on`` it does nothing (the spec)
    funnel = project.reports.funnels.get(int(params["funnel_id"]))
    if funnel is None:
        raise MixpanelError(404, f"funnel {params['funnel_id']} does not exist")
    from_day, to_day = date_range(params)
    unit = params.get("length_unit", "day")
    length_s = (
        int(params["length"]) * LENGTH_UNIT_SECONDS[unit]
        if "length" in params
        else funnel.length_days * LENGTH_UNIT_SECONDS["day"]
    )
    if not 0 < length_s <= MAX_FUNNEL_DAYS * LENGTH_UNIT_SECONDS["day"]:
        raise MixpanelError(400, f"'length' must be positive and at most {MAX_FUNNEL_DAYS} days")
    where = _where(params)
    found = [
        occ
        for occ in occurrences(project, _now_ms(now), set(funnel.steps))
        if where is None or where(occ.properties)
    ]
    users = by_user(found)
    days = days_between(from_day, to_day)
    data = {day.isoformat(): funnel_day(users, funnel.steps, day, length_s) for day in days}
    return json_response(200, {"meta": {"dates": list(data)}, "data": data})


def retention_report(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``GET /api/query/retention``: birth (default) or compounded retention, by day."""
    params = _query_params(request, "retention")
    _only(params, "unit", {"day"})
    _absent(params, "on")
    _limit(params, MAX_LIMIT)  # checked, though without ``on`` it does nothing (the spec)
    if BOOLEANS[params.get("unbounded_retention", "false").lower()]:
        raise MixpanelError(400, "unbounded_retention=true is not supported by the sandbox")
    birth = params.get("retention_type", "birth") == "birth"
    if birth and not params.get("born_event"):
        raise MixpanelError(400, "born_event is required when retention_type is birth")
    interval, count = int(params.get("interval", "1")), int(params.get("interval_count", "1"))
    if not 0 < interval <= MAX_FUNNEL_DAYS:
        raise MixpanelError(400, f"'interval' must be between 1 and {MAX_FUNNEL_DAYS} days")
    if not 0 < count <= MAX_FUNNEL_DAYS:
        raise MixpanelError(400, f"'interval_count' must be between 1 and {MAX_FUNNEL_DAYS}")
    from_day, to_day = date_range(params)
    query = RetentionQuery(
        born_event=params["born_event"] if birth else None,
        event=params.get("event"),
        born_where=_where(params, "born_where"),
        where=_where(params),
        interval_days=interval,
        interval_count=count,
    )
    found = occurrences(project, _now_ms(now), None)
    return json_response(200, retention(found, days_between(from_day, to_day), query))


def annotations(project: MixpanelProject, request: Request, _now: datetime) -> Response:
    """``GET /api/app/projects/{id}/annotations`` (App API, service accounts only).

    ``fromDate``/``toDate`` (``yyyy-mm-dd``, inclusive, optional) bound the annotations' dates.
    """
    params = request.form()
    authenticate(request, params, needs_project=False, service_account_only=True)
    check_params("annotations", params, strict=True)
    bounds = {}
    for name in ("fromDate", "toDate"):
        if name in params:
            try:
                bounds[name] = date.fromisoformat(params[name]).isoformat()
            except ValueError as exc:
                raise MixpanelError(400, f"'{name}' must be a date in yyyy-mm-dd format") from exc
    tag_ids = project.reports.tag_ids()
    results = [
        annotation.to_json(tag_ids)
        for annotation in sorted(project.reports.annotations.values(), key=lambda a: a.date)
        if bounds.get("fromDate", "") <= annotation.date[:10] <= bounds.get("toDate", "9999")
    ]
    return json_response(200, {"status": "ok", "results": results})


ROUTES = {
    ("GET", "/api/query/insights"): insights,
    ("GET", "/api/query/segmentation"): segmentation,
    ("GET", "/api/query/funnels"): funnels,
    ("GET", "/api/query/funnels/list"): funnels_list,
    ("GET", "/api/query/retention"): retention_report,
    ("GET", f"/api/app/projects/{PROJECT_ID}/annotations"): annotations,
}

"""Mixpanel API subset under ``/mixpanel``: export, engage, cohorts, counts, lookup tables, app."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .expressions import ExpressionError, parse
from .mixpanel_checks import (
    BOOLEANS,
    SERVICE_ACCOUNT,
    MixpanelError,
    authenticate,
    check_params,
    date_param,
    date_range,
    json_param,
)
from .mixpanel_jql import ROUTES as JQL_ROUTES
from .mixpanel_project import ENGAGE_PAGE_SIZE, PROJECT_ID, PROJECT_NAME, MixpanelProject
from .mixpanel_reports import ROUTES as REPORT_ROUTES
from .wire import Request, Response, json_response, text_response

#: ``SERVICE_ACCOUNT`` stays importable from here: the benchmarks read it.
__all__ = ["ROUTES", "SERVICE_ACCOUNT", "handle"]
MAX_EXPORT_LIMIT = 100_000
#: The App API's paths name the project (the sandbox has one).
APP_PROJECT = f"/api/app/projects/{PROJECT_ID}"


def export(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``GET /api/2.0/export``: NDJSON lines in processing order, streamed.

    ``where`` is accepted but not applied: the product slices by whole days. A ``clean_cut``
    fault answers only the first half of the lines: a 200 cut at a line boundary, no marker.
    """
    params = request.form()
    try:
        authenticate(request, params)
        check_params("export", params)
        from_day, to_day = (
            date_param("from_date", params["from_date"]),
            date_param("to_date", params["to_date"]),
        )
        if to_day > now.date():
            raise MixpanelError(400, "to_date cannot be later than today")
        if from_day > to_day:
            raise MixpanelError(400, "from_date cannot be later than to_date")
        names = None
        if "event" in params:
            names = json_param("event", params["event"])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise MixpanelError(400, "'event' must be a JSON array of event names")
            names = set(names)
        limit = int(params["limit"]) if "limit" in params else None
        if limit is not None and not 0 < limit <= MAX_EXPORT_LIMIT:
            raise MixpanelError(400, f"'limit' must be between 1 and {MAX_EXPORT_LIMIT}")
    except MixpanelError as exc:
        return text_response(exc.status, exc.message)
    time_in_ms = BOOLEANS[params.get("time_in_ms", "false").lower()]
    now_ms = int(now.timestamp() * 1000)
    lines = project.export_lines(
        now_ms, from_day, to_day, names=names, limit=limit, time_in_ms=time_in_ms
    )
    if request.fault is not None and request.fault.kind == "clean_cut":
        lines = lines[: len(lines) // 2]
    return Response(200, lines, {"Content-Type": "text/plain; charset=utf-8"})


def event_counts(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``GET /api/query/events``: each event's daily total (``general``) or uniques (``unique``).

    Counted as Mixpanel's reports count, after deduplication; as in the spec's example, days
    without events are left out. The sandbox answers ``unit=day`` with ``from_date``/``to_date``
    in JSON only.
    """
    params = request.form()
    authenticate(request, params)
    check_params("events", params)
    names = json_param("event", params["event"])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MixpanelError(400, "'event' must be a JSON array of event names")
    for name, supported in (("type", {"general", "unique"}), ("unit", {"day"})):
        if params[name] not in supported:
            raise MixpanelError(400, f"{name}={params[name]} is not supported by the sandbox")
    if "interval" in params:
        raise MixpanelError(400, "interval is not supported by the sandbox: use from_date/to_date")
    if params.get("format", "json") != "json":
        raise MixpanelError(400, "format=csv is not supported by the sandbox")
    from_day, to_day = date_range(params)
    values = project.daily_counts(
        int(now.timestamp() * 1000), from_day, to_day, set(names), unique=params["type"] == "unique"
    )
    series = [
        (from_day + timedelta(days=offset)).isoformat()
        for offset in range((to_day - from_day).days + 1)
    ]
    payload = {"data": {"series": series, "values": values}, "legend_size": len(values)}
    return json_response(200, payload)


def engage(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``/api/query/engage``: profile pages of 1000 with a session for the later pages."""
    params = request.form()
    authenticate(request, params)
    check_params("engage", params)
    if "behaviors" in params:
        raise MixpanelError(400, "behaviors is not supported by the sandbox")
    page = int(params.get("page", "0"))
    if page < 0:
        raise MixpanelError(400, "page must be >= 0")
    session_id = params.get("session_id")
    if page > 0 and not session_id:
        raise MixpanelError(400, "session_id is required when page > 0")
    rows = project.sessions.get(session_id) if session_id else None
    if rows is None:
        if page > 0:
            raise MixpanelError(400, "request for page in uncached query for params")
        rows = _engage_query(project, params, now)
        session_id = project.open_session(rows)
    chunk = rows[page * ENGAGE_PAGE_SIZE : (page + 1) * ENGAGE_PAGE_SIZE]
    if "output_properties" in params:
        keep = set(json_param("output_properties", params["output_properties"]))
        chunk = [
            {**row, "$properties": {k: v for k, v in row["$properties"].items() if k in keep}}
            for row in chunk
        ]
    payload: dict[str, Any] = {
        "page": page,
        "page_size": ENGAGE_PAGE_SIZE,
        "session_id": session_id,
        "status": "ok",
        "results": chunk,
    }
    if page == 0:  # like Mixpanel, ``total`` is only given on the first page
        payload["total"] = len(rows)
    return json_response(200, payload)


def _engage_query(
    project: MixpanelProject, params: dict[str, str], now: datetime
) -> list[dict[str, Any]]:
    try:
        where = parse(params["where"]) if params.get("where") else None
    except ExpressionError as exc:
        raise MixpanelError(400, str(exc)) from exc
    if "data_group_id" in params:
        groups = project.group_rows(params["data_group_id"], where)
        if groups is None:
            raise MixpanelError(400, f"data_group_id {params['data_group_id']} is not a group key")
        return groups
    cohort_id = None
    if "filter_by_cohort" in params:
        cohort = json_param("filter_by_cohort", params["filter_by_cohort"])
        if not isinstance(cohort, dict) or not isinstance(cohort.get("id"), int):
            raise MixpanelError(400, 'filter_by_cohort must be a JSON object like {"id": 123}')
        cohort_id = cohort["id"]
    include_all = BOOLEANS[params.get("include_all_users", "true").lower()]
    distinct_ids = None
    if "distinct_ids" in params:
        distinct_ids = json_param("distinct_ids", params["distinct_ids"])
        if not isinstance(distinct_ids, list):
            raise MixpanelError(400, "distinct_ids must be a JSON array")
    elif "distinct_id" in params:
        distinct_ids = [params["distinct_id"]]
    rows = project.engage_rows(now, cohort_id, include_all, distinct_ids, where)
    if rows is None:
        raise MixpanelError(400, f"cohort {cohort_id} does not exist")
    return rows


def cohorts_list(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """``/api/query/cohorts/list``: a bare JSON array."""
    params = request.form()
    authenticate(request, params)
    check_params("cohorts_list", params)
    return json_response(200, project.cohorts(now))


def lookup_tables_list(project: MixpanelProject, request: Request, _now: datetime) -> Response:
    """``GET /lookup-tables`` (documented, service accounts only): each table's id and name."""
    params = request.form()
    authenticate(request, params, service_account_only=True)
    check_params("lookup_tables_list", params)
    results = [{"id": table.id, "name": table.name} for table in project.lookup_tables]
    return json_response(200, {"code": 200, "status": "OK", "results": results})


def app_lookup_tables(project: MixpanelProject, request: Request, _now: datetime) -> Response:
    """``GET /api/app/projects/{id}/data-definitions/lookup-tables/`` (undocumented App API).

    Each table as a data group, in mixpanel-headless's shape: ``id`` is the data-group-id.
    """
    authenticate(request, request.form(), needs_project=False)
    results = [
        {
            "id": table.data_group_id,
            "name": table.name,
            "created_at": table.created_at,
            "has_mapped_properties": True,
        }
        for table in project.lookup_tables
    ]
    return json_response(200, {"status": "ok", "results": results})


def app_lookup_table_download(
    project: MixpanelProject, request: Request, _now: datetime
) -> Response:
    """``GET …/data-definitions/lookup-tables/download/?data-group-id=N``: the table's CSV.

    A table flagged ``refused`` answers 403, as the App API does to an account without access.
    """
    params = request.form()
    authenticate(request, params, needs_project=False)
    wanted = params.get("data-group-id")
    if wanted is None or not wanted.lstrip("-").isdigit():
        raise MixpanelError(400, "'data-group-id' must be an integer")
    table = next((t for t in project.lookup_tables if t.data_group_id == int(wanted)), None)
    if table is None:
        raise MixpanelError(404, f"No lookup table with data-group-id {wanted}")
    if table.refused:
        raise MixpanelError(403, "You do not have permission to download this lookup table")
    return Response(200, table.csv_lines(), {"Content-Type": "text/csv; charset=utf-8"})


def app_me(_project: MixpanelProject, request: Request, _now: datetime) -> Response:
    """``GET /api/app/me``: the projects the credentials can reach."""
    authenticate(request, request.form(), needs_project=False)
    projects = {
        str(PROJECT_ID): {
            "name": PROJECT_NAME,
            "organization_id": 1,
            "timezone": "UTC",
            "domain": "mixpanel.com",
            "has_workspaces": False,
        }
    }
    organizations = {"1": {"id": 1, "name": "Tajo Sandbox"}}
    return json_response(200, {"results": {"projects": projects, "organizations": organizations}})


def _with_legacy_aliases(routes: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """Each ``/api/query`` route also under the Query API's legacy ``/api/2.0`` alias."""
    aliased = dict(routes)
    for (method, path), handler in routes.items():
        if path.startswith("/api/query/"):
            aliased[method, "/api/2.0/" + path.removeprefix("/api/query/")] = handler
    return aliased


ROUTES = {
    ("GET", "/api/2.0/export"): export,
    ("GET", "/api/query/engage"): engage,
    ("POST", "/api/query/engage"): engage,
    ("GET", "/api/2.0/engage"): engage,
    ("POST", "/api/2.0/engage"): engage,
    ("GET", "/api/query/cohorts/list"): cohorts_list,
    ("POST", "/api/query/cohorts/list"): cohorts_list,
    ("GET", "/api/2.0/cohorts/list"): cohorts_list,
    ("POST", "/api/2.0/cohorts/list"): cohorts_list,
    ("GET", "/api/query/events"): event_counts,
    ("GET", "/api/app/me"): app_me,
    ("GET", "/lookup-tables"): lookup_tables_list,
    ("GET", f"{APP_PROJECT}/data-definitions/lookup-tables"): app_lookup_tables,
    ("GET", f"{APP_PROJECT}/data-definitions/lookup-tables/download"): app_lookup_table_download,
    **_with_legacy_aliases({**REPORT_ROUTES, **JQL_ROUTES}),
}


def handle(project: MixpanelProject, request: Request, now: datetime) -> Response:
    """Route and answer one Mixpanel request."""
    handler = ROUTES.get((request.method, request.path.rstrip("/") or "/"))
    if handler is None:
        return json_response(404, {"error": f"Unknown path {request.path}", "status": 0})
    try:
        return handler(project, request, now)
    except MixpanelError as exc:
        return json_response(exc.status, {"error": exc.message, "status": 0})

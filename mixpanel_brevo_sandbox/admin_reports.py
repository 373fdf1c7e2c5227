"""Admin API for the Mixpanel reports: saved reports, funnels, annotations, JQL and the budget.

Mounted under ``/_sandbox/mixpanel/`` by ``admin_api.ROUTES``; bodies are JSON, answers too.
"""

from __future__ import annotations

from typing import Any

from .mixpanel_budget import BudgetLimits
from .mixpanel_report_data import ReportDefinitionError
from .state import SandboxState
from .wire import Request, Response, json_response


def _body(request: Request) -> Any:
    try:
        return request.json() or {}
    except ValueError as exc:
        raise ReportDefinitionError(f"invalid JSON body: {exc}") from exc


def add_bookmark(state: SandboxState, request: Request) -> Response:
    """Save an Insights report ``{id?, name, events, days?, on?, type?}`` (``/insights``)."""
    bookmark = state.mixpanel.reports.add_bookmark(_body(request))
    return json_response(201, {"bookmark_id": bookmark.id, "name": bookmark.name})


def add_funnel(state: SandboxState, request: Request) -> Response:
    """Save a funnel ``{id?, name, steps, length_days?}`` (``/funnels``, ``/funnels/list``)."""
    funnel = state.mixpanel.reports.add_funnel(_body(request))
    return json_response(201, {"funnel_id": funnel.id, "name": funnel.name})


def add_annotation(state: SandboxState, request: Request) -> Response:
    """Add an annotation ``{id?, date: "YYYY-MM-DD HH:mm:ss", description, tags?}``."""
    reports = state.mixpanel.reports
    annotation = reports.add_annotation(_body(request))
    return json_response(201, annotation.to_json(reports.tag_ids()))


def add_jql_result(state: SandboxState, request: Request) -> Response:
    """Register what a script (exact text) returns: ``{script, result: [...]}``."""
    state.mixpanel.reports.add_jql_result(_body(request))
    return json_response(201, {"scripts": len(state.mixpanel.reports.jql_results)})


def get_jql_availability(state: SandboxState, _request: Request) -> Response:
    """Whether ``/jql`` runs scripts or answers that JQL is unavailable to the project."""
    return json_response(200, {"available": state.mixpanel.reports.jql_available})


def set_jql_availability(state: SandboxState, request: Request) -> Response:
    """Switch JQL on or off for the project: ``{available: bool}``."""
    available = _body(request).get("available")
    if not isinstance(available, bool):
        raise ReportDefinitionError("available must be true or false")
    state.mixpanel.reports.jql_available = available
    return json_response(200, {"available": available})


def get_query_budget(state: SandboxState, _request: Request) -> Response:
    """The Query API budget's limits and what was spent since it was last set or reset."""
    return json_response(200, state.query_budget.spent())


def set_query_budget(state: SandboxState, request: Request) -> Response:
    """Set the Query API budget ``{per_hour, concurrency}``, or ``{enabled: false}``.

    The hour and the counts start afresh.
    """
    body = _body(request)
    if not isinstance(body, dict):
        raise ReportDefinitionError("the body must be a JSON object")
    try:
        limits = (
            None
            if body.get("enabled") is False
            else BudgetLimits.from_pair((body.get("per_hour"), body.get("concurrency")))  # type: ignore[arg-type]
        )
    except ValueError as exc:
        raise ReportDefinitionError(str(exc)) from exc
    state.query_budget.reset(limits)
    return json_response(200, state.query_budget.spent())


ROUTES = {
    ("POST", "/mixpanel/bookmarks"): add_bookmark,
    ("POST", "/mixpanel/funnels"): add_funnel,
    ("POST", "/mixpanel/annotations"): add_annotation,
    ("POST", "/mixpanel/jql"): add_jql_result,
    ("GET", "/mixpanel/jql-availability"): get_jql_availability,
    ("POST", "/mixpanel/jql-availability"): set_jql_availability,
    ("GET", "/mixpanel/query-budget"): get_query_budget,
    ("POST", "/mixpanel/query-budget"): set_query_budget,
}

"""``POST /api/query/jql``: registered results, Mixpanel's script error, and JQL unavailable.

The sandbox cannot run JavaScript. A test registers what a script returns (admin
``POST /_sandbox/mixpanel/jql``, keyed by the exact script text); the answer keeps the rows whose
``date`` falls within ``params.from_date``/``params.to_date`` when the rows have one, as a script
reading ``Events(params)`` would. Any other script answers as Mixpanel answers a script that
throws.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .mixpanel_checks import MixpanelError, authenticate, check_params
from .mixpanel_project import MixpanelProject
from .wire import Request, Response, json_response

#: Our stand-in for "JQL is unavailable for this project" (Mixpanel publishes no such answer):
#: the 403 with the Query API's ``{request, error}`` body that a project without access to a
#: maintenance-mode feature is answered.
UNAVAILABLE_STATUS = 403
UNAVAILABLE_ERROR = (
    "JQL is not available for this project: the JQL API is in maintenance mode and is not "
    "enabled for new projects. Save a report and read it through the Insights API instead."
)
#: A script that throws: Mixpanel answers 400 with the uncaught exception.
SCRIPT_ERROR_STATUS = 400


def _error(status: int, request: Request, message: str) -> Response:
    """The Query API's error body: the request it answers and what went wrong."""
    query = urlencode({k: v[0] for k, v in request.query.items() if v})
    target = f"{request.path}?{query}" if query else request.path
    return json_response(status, {"request": target, "error": message})


def jql(project: MixpanelProject, request: Request, _now: datetime) -> Response:
    """Answer a registered script's rows (filtered by the params' dates), or a script error.

    The switch ``jql_available`` (admin ``POST /_sandbox/mixpanel/jql-availability``) makes every
    call answer ``UNAVAILABLE_STATUS``, our stand-in for JQL being unavailable to the project.
    """
    params = request.form()
    authenticate(request, params)
    check_params("jql", params, strict=True)
    if not project.reports.jql_available:
        return _error(UNAVAILABLE_STATUS, request, UNAVAILABLE_ERROR)
    script_params = _script_params(params.get("params"))
    rows = project.reports.jql_results.get(params["script"])
    if rows is None:
        return _error(
            SCRIPT_ERROR_STATUS,
            request,
            "Uncaught exception Error: this script has no registered result in the sandbox "
            "(register one with POST /_sandbox/mixpanel/jql)\n    at main (<anonymous>:1:1)",
        )
    low, high = _bound(script_params, "from_date"), _bound(script_params, "to_date")
    return json_response(200, [row for row in rows if _within(row, low, high)])


def _script_params(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MixpanelError(400, "'params' is not valid JSON") from exc
    if not isinstance(value, dict):
        raise MixpanelError(400, "'params' must be a JSON object")
    return value


def _bound(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) < 10:
        raise MixpanelError(400, f"params.{name} must be a date string (yyyy-mm-dd...)")
    return value[:10]


def _within(row: Any, low: str | None, high: str | None) -> bool:
    """Rows without a string ``date`` are kept: the filter only applies to dated rows."""
    day = row.get("date") if isinstance(row, dict) else None
    if not isinstance(day, str):
        return True
    day = day[:10]
    return (low is None or low <= day) and (high is None or day <= high)


ROUTES = {("POST", "/api/query/jql"): jql}

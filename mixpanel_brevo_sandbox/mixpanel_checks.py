"""What every Mixpanel endpoint of the sandbox checks first: credentials and spec'd parameters."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any

from .mixpanel_project import PROJECT_ID
from .specs import mixpanel_params
from .wire import Request

# Sandbox-only credentials, public by design.
SERVICE_ACCOUNT = ("sandbox-user", "sandbox-secret")
PROJECT_SECRET = "sandbox-project-secret"  # noqa: S105
OAUTH_TOKEN = "sandbox-oauth-token"  # noqa: S105
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class MixpanelError(Exception):
    """An error answered with ``status``; export answers plain text, the rest JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def authenticate(
    request: Request,
    params: dict[str, str],
    needs_project: bool = True,
    *,
    service_account_only: bool = False,
) -> None:
    """Check credentials the way Mixpanel does for service accounts, secrets and OAuth."""
    header = request.header("authorization")
    scheme, _, value = header.partition(" ")
    project_required = True
    if service_account_only and scheme.lower() != "basic":
        raise MixpanelError(401, "Invalid credentials")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except ValueError as exc:
            raise MixpanelError(401, "Invalid credentials") from exc
        if (user, password) == (PROJECT_SECRET, "") and not service_account_only:
            project_required = False
        elif (user, password) != SERVICE_ACCOUNT:
            raise MixpanelError(401, "Invalid credentials")
    elif scheme.lower() != "bearer" or value != OAUTH_TOKEN:
        raise MixpanelError(401, "Invalid credentials")
    project = params.get("project_id")
    if project is None:
        if needs_project and project_required:
            raise MixpanelError(400, "project_id is required when using a service account")
        return
    if not project.isdigit():
        raise MixpanelError(400, f"project_id must be an integer, got {project!r}")
    if int(project) != PROJECT_ID:
        raise MixpanelError(403, f"You do not have permission to access project {project}")


def check_params(operation: str, params: dict[str, str], *, strict: bool = False) -> None:
    """Check presence and types of the parameters against the vendored spec.

    ``project_id`` is left to ``authenticate``: the spec marks it required, but secret auth
    works without it (and the App API, whose paths name the project, takes it too). ``strict``
    also refuses a parameter the spec does not list: the report endpoints answer 400 to one
    rather than run a query that silently ignores it.
    """
    specs = mixpanel_params()[operation]
    if strict:
        known = {spec["name"] for spec in specs}
        unknown = sorted(set(params) - known - {"project_id"})
        if unknown:
            raise MixpanelError(400, f"unknown parameter(s): {', '.join(unknown)}")
    for spec in specs:
        name, kind = spec["name"], spec["type"]
        value = params.get(name)
        if name == "project_id":
            continue
        if value is None:
            if spec["required"]:
                raise MixpanelError(400, f"'{name}' is a required parameter")
            continue
        if kind == "integer" and not value.lstrip("-").isdigit():
            raise MixpanelError(400, f"'{name}' must be an integer")
        if kind == "boolean" and value.lower() not in BOOLEANS:
            raise MixpanelError(400, f"'{name}' must be a boolean")
        if kind == "array" and not isinstance(json_param(name, value), list):
            raise MixpanelError(400, f"'{name}' must be a JSON array")
        if "enum" in spec and value not in spec["enum"]:
            raise MixpanelError(400, f"'{name}' must be one of {', '.join(spec['enum'])}")


def json_param(name: str, value: str) -> Any:
    """A parameter holding JSON, decoded (400 when it is not JSON)."""
    try:
        return json.loads(value)
    except ValueError as exc:
        raise MixpanelError(400, f"'{name}' is not valid JSON") from exc


def date_param(name: str, value: str) -> date:
    """A ``yyyy-mm-dd`` parameter (400 otherwise)."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise MixpanelError(400, f"'{name}' must be a date in yyyy-mm-dd format") from exc


def date_range(params: dict[str, str]) -> tuple[date, date]:
    """``from_date`` and ``to_date``, in order (400 otherwise)."""
    from_day = date_param("from_date", params["from_date"])
    to_day = date_param("to_date", params["to_date"])
    if from_day > to_day:
        raise MixpanelError(400, "from_date cannot be later than to_date")
    return from_day, to_day

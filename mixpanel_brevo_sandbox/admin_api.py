"""The sandbox's own admin API under ``/_sandbox``: state inspection, faults, clock, seeding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import admin_reports
from .brevo_account import check_visibility
from .brevo_companies import check_separator
from .brevo_limits import TIERS
from .faults import Fault, FaultError
from .mixpanel_project import InvalidPayloadError
from .mixpanel_report_data import ReportDefinitionError
from .state import SandboxState
from .wire import Request, Response, json_response


class AdminError(ValueError):
    """A malformed admin request (answered with 400)."""


def _body(request: Request) -> Any:
    try:
        return request.json() or {}
    except ValueError as exc:
        raise AdminError(f"invalid JSON body: {exc}") from exc


def brevo_events(state: SandboxState, _request: Request) -> Response:
    """Every event Brevo accepted, in arrival order, queued or not (unlike ``GET /events``)."""
    return json_response(200, {"events": state.brevo.events})


def brevo_contacts(state: SandboxState, _request: Request) -> Response:
    """Every Brevo contact, in creation order."""
    account = state.brevo
    return json_response(
        200, {"contacts": [account.contact_json(c) for c in account.contacts.values()]}
    )


def brevo_lists(state: SandboxState, _request: Request) -> Response:
    """Brevo folders and lists, each list with its member contact ids."""
    account = state.brevo
    lists = [
        {**account.list_json(lst), "contactIds": list(lst["members"])}
        for lst in account.lists.values()
    ]
    return json_response(200, {"lists": lists, "folders": list(account.folders.values())})


def brevo_companies(state: SandboxState, _request: Request) -> Response:
    """Every Brevo company with its attributes and linked contact ids, in creation order."""
    return json_response(200, {"companies": list(state.brevo.crm.companies.values())})


def get_rate_tier(state: SandboxState, _request: Request) -> Response:
    """The Brevo rate tier whose budgets apply, and the known tiers."""
    return json_response(200, {"tier": state.brevo_rates.tier, "tiers": list(TIERS)})


def set_rate_tier(state: SandboxState, request: Request) -> Response:
    """Switch the Brevo rate tier (``unlimited`` turns enforcement off); windows start afresh."""
    tier = _body(request).get("tier")
    if not isinstance(tier, str) or tier not in TIERS:
        raise AdminError(f"tier must be one of {list(TIERS)}")
    state.brevo_rates.reset(tier)
    return json_response(200, {"tier": tier, "tiers": list(TIERS)})


def get_events_visibility(state: SandboxState, _request: Request) -> Response:
    """Seconds a queued event stays out of Brevo's ``GET /events``."""
    return json_response(200, {"seconds": state.brevo.events_visibility_seconds})


def set_events_visibility(state: SandboxState, request: Request) -> Response:
    """Change how long queued events stay out of ``GET /events``, events already queued included.

    The admin ``/brevo/events`` keeps showing every event at once: it is the tests' oracle.
    """
    try:
        seconds = check_visibility(_body(request).get("seconds"))
    except ValueError as exc:
        raise AdminError(str(exc)) from exc
    state.brevo.events_visibility_seconds = seconds
    return json_response(200, {"seconds": seconds})


def get_contact_separator(state: SandboxState, _request: Request) -> Response:
    """How the companies import splits several contact ids in one ``associated_contact`` cell."""
    return json_response(200, {"separator": state.brevo.crm.contact_separator})


def set_contact_separator(state: SandboxState, request: Request) -> Response:
    """Change that separator (Brevo documents none): tests run the target against each."""
    try:
        separator = check_separator(_body(request).get("separator"))
    except ValueError as exc:
        raise AdminError(str(exc)) from exc
    state.brevo.crm.contact_separator = separator
    return json_response(200, {"separator": separator})


def get_calls(state: SandboxState, _request: Request) -> Response:
    """The API call log."""
    return json_response(200, {"calls": state.calls})


def clear_calls(state: SandboxState, _request: Request) -> Response:
    """Forget the call log."""
    state.calls.clear()
    return json_response(200, {"calls": []})


def get_faults(state: SandboxState, _request: Request) -> Response:
    """The fault rules still armed."""
    return json_response(200, {"faults": state.faults.list()})


def add_fault(state: SandboxState, request: Request) -> Response:
    """Arm a fault rule."""
    try:
        fault = Fault.from_json(_body(request))
    except FaultError as exc:
        raise AdminError(str(exc)) from exc
    state.faults.add(fault)
    return json_response(201, {"fault": fault.to_json()})


def clear_faults(state: SandboxState, _request: Request) -> Response:
    """Disarm every fault rule."""
    state.faults.clear()
    return json_response(200, {"faults": []})


def add_events(state: SandboxState, request: Request) -> Response:
    """Append events to the Mixpanel project (processed now unless they say otherwise)."""
    count = state.mixpanel.add_events(_body(request).get("events"), state.now_ms)
    return json_response(200, {"added": count})


def upsert_profiles(state: SandboxState, request: Request) -> Response:
    """Create or update Mixpanel profiles."""
    count = state.mixpanel.upsert_profiles(_body(request).get("profiles"))
    return json_response(200, {"upserted": count})


def upsert_groups(state: SandboxState, request: Request) -> Response:
    """Create or update the group profiles of one data group (``data_group_id``)."""
    body = _body(request)
    count = state.mixpanel.upsert_groups(body.get("data_group_id"), body.get("profiles"))
    return json_response(200, {"upserted": count})


def delete_profile(state: SandboxState, request: Request) -> Response:
    """Delete a Mixpanel profile (404 if it does not exist)."""
    distinct_id = request.path.removeprefix("/mixpanel/profiles/")
    if not state.mixpanel.delete_profile(distinct_id):
        return json_response(404, {"error": f"no profile {distinct_id}"})
    return json_response(200, {"deleted": distinct_id})


def get_clock(state: SandboxState, _request: Request) -> Response:
    """The sandbox clock."""
    return json_response(200, {"now": state.now.isoformat()})


def advance_clock(state: SandboxState, request: Request) -> Response:
    """Move the sandbox clock forward by ``advance_hours``."""
    hours = _body(request).get("advance_hours")
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or hours < 0:
        raise AdminError("advance_hours must be a non-negative number")
    return json_response(200, {"now": state.advance_clock(hours).isoformat()})


def reset(state: SandboxState, _request: Request) -> Response:
    """Restore the seeded state."""
    state.reset()
    return json_response(200, {"now": state.now.isoformat()})


def health(state: SandboxState, _request: Request) -> Response:
    """Liveness and a summary of the seeded volumes."""
    return json_response(
        200,
        {
            "status": "ok",
            "now": state.now.isoformat(),
            "profiles": len(state.mixpanel.profiles),
            "events": len(state.mixpanel.events),
        },
    )


ROUTES: dict[tuple[str, str], Callable[[SandboxState, Request], Response]] = {
    ("GET", "/health"): health,
    ("GET", "/brevo/events"): brevo_events,
    ("GET", "/brevo/contacts"): brevo_contacts,
    ("GET", "/brevo/lists"): brevo_lists,
    ("GET", "/brevo/companies"): brevo_companies,
    ("GET", "/brevo/rate-tier"): get_rate_tier,
    ("POST", "/brevo/rate-tier"): set_rate_tier,
    ("GET", "/brevo/events-visibility"): get_events_visibility,
    ("POST", "/brevo/events-visibility"): set_events_visibility,
    ("GET", "/brevo/associated-contact-separator"): get_contact_separator,
    ("POST", "/brevo/associated-contact-separator"): set_contact_separator,
    ("GET", "/calls"): get_calls,
    ("DELETE", "/calls"): clear_calls,
    ("GET", "/faults"): get_faults,
    ("POST", "/faults"): add_fault,
    ("DELETE", "/faults"): clear_faults,
    ("POST", "/mixpanel/events"): add_events,
    ("POST", "/mixpanel/profiles"): upsert_profiles,
    ("POST", "/mixpanel/groups"): upsert_groups,
    ("GET", "/clock"): get_clock,
    ("POST", "/clock"): advance_clock,
    ("POST", "/reset"): reset,
    **admin_reports.ROUTES,
}


def handle(state: SandboxState, request: Request) -> Response:
    """Route and answer one admin request."""
    handler = ROUTES.get((request.method, request.path.rstrip("/")))
    if (
        handler is None
        and request.method == "DELETE"
        and request.path.startswith("/mixpanel/profiles/")
    ):
        handler = delete_profile
    if handler is None:
        return json_response(
            404, {"error": f"unknown admin endpoint {request.method} {request.path}"}
        )
    try:
        with state.lock:
            return handler(state, request)
    except (AdminError, InvalidPayloadError, ReportDefinitionError) as exc:
        return json_response(400, {"error": str(exc)})

"""Brevo API v3 subset, mounted under ``/brevo/v3``, with Brevo's documented limits.

Body limits (developers.brevo.com/reference/import-contacts, /docs/event-endpoints) refuse a
call whole with 400 ``out_of_range``; rate limits (/docs/api-limits, ``brevo_limits``) answer 429
before any processing.
``GET /events`` lists the custom events received, as Brevo's queue lets them out
(``brevo_events``).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from . import brevo_companies
from .brevo_account import BrevoAccount
from .brevo_events import list_events, parse_query
from .brevo_formats import BrevoError
from .brevo_limits import RateLimiter, bucket_of
from .brevo_oauth import TokenIssuer
from .faults import WITHOUT_ATTRIBUTES
from .specs import brevo_errors
from .wire import Request, Response, empty_response, json_response

API_KEY = "sandbox-brevo-key"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_EVENT_PROPERTIES_BYTES = 50 * 1024
# POST /events/batch: at most 200 events and a 512 KB body
# (https://developers.brevo.com/docs/event-endpoints).
MAX_BATCH_EVENTS = 200
MAX_BATCH_BYTES = 512 * 1024
# GET /events: 100 events a page by default, at most 10000
# (https://developers.brevo.com/reference/get-events).
EVENTS_PAGE = 100
MAX_EVENTS_PAGE = 10_000
BATCH_ACCEPTED = "Batch accepted. Valid events have been added to the processing queue."
# POST /contacts/import: fileBody / jsonBody at most 10 MB each; bigger go through fileUrl.
MAX_IMPORT_BYTES = 10 * 1024 * 1024
PARTIAL_FAULT_MESSAGE = "Event could not be queued"
ACCOUNT = {
    "email": "sandbox@example.com",
    "firstName": "Sandbox",
    "lastName": "Demo",
    "companyName": "Tajo Sandbox",
    "address": {
        "street": "1 Loopback Way",
        "city": "Localhost",
        "zipCode": "00000",
        "country": "FR",
    },
    "plan": [{"type": "free", "creditsType": "sendLimit", "credits": 300}],
    "relay": {
        "enabled": False,
        "data": {"userName": "sandbox@example.com", "relay": "", "port": 587},
    },
}

Handler = Callable[[BrevoAccount, Request, dict[str, str]], Response]


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"code": code, "message": message})


def _body(request: Request, schema: str | None = None) -> Any:
    """Decode a JSON body, checking the content type and, when named, the vendored schema."""
    if "application/json" not in request.header("content-type"):
        raise BrevoError(400, "invalid_parameter", "Content-Type must be application/json")
    try:
        body = request.json()
    except ValueError as exc:
        raise BrevoError(400, "invalid_parameter", f"Invalid JSON body: {exc}") from exc
    if schema is not None:
        _validate(schema, body)
    return body


def _validate(schema: str, body: Any) -> None:
    if errors := brevo_errors(schema, body):
        raise BrevoError(400, "invalid_parameter", "; ".join(errors))


def event_errors(event: Any) -> list[str]:
    """Everything wrong with one event: the vendored schema plus Brevo's documented limits."""
    errors = brevo_errors("event", event)
    if not isinstance(event, dict):
        return errors
    name = event.get("event_name")
    if isinstance(name, str) and not NAME_RE.match(name):
        errors.append("event_name: only alphanumerical characters, - and _ (max 255) are allowed")
    props = event.get("event_properties")
    if isinstance(props, dict):
        bad = [key for key in props if not NAME_RE.match(key)]
        if bad:
            errors.append(f"event_properties: invalid key(s) {bad}; use [A-Za-z0-9_-]")
        if len(json.dumps(props).encode("utf-8")) > MAX_EVENT_PROPERTIES_BYTES:
            errors.append("event_properties: larger than 50 KB")
    return errors


def create_event(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /events`` -> 204."""
    event = _body(request)
    if errors := event_errors(event):
        raise BrevoError(400, "invalid_parameter", "; ".join(errors))
    account.record_event(event)
    return empty_response(204)


def create_batch_events(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /events/batch``: 202 all queued, 207 some failed, 400 all failed."""
    if len(request.body) > MAX_BATCH_BYTES:
        raise BrevoError(400, "out_of_range", "request body larger than 512 KB")
    events = _body(request, "eventsBatch")["events"]
    if not events:
        raise BrevoError(400, "invalid_parameter", "events must contain at least one event")
    if len(events) > MAX_BATCH_EVENTS:
        raise BrevoError(400, "out_of_range", f"at most {MAX_BATCH_EVENTS} events")
    injected = set(request.fault.fail_indices) if request.fault is not None else set()
    failures: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        errors = event_errors(event)
        if not errors and index in injected:
            errors = [PARTIAL_FAULT_MESSAGE]
        if errors:
            failures.setdefault("; ".join(errors), []).append(index)
        else:
            account.record_event(event)
    failed = sum(len(indices) for indices in failures.values())
    if not failed:
        return json_response(202, {"message": BATCH_ACCEPTED, "count": len(events)})
    payload = {
        "status": "failed" if failed == len(events) else "partiallyQueued",
        "total_events": len(events),
        "successful_events": len(events) - failed,
        "failed_events": failed,
        "errors": [{"eventIndex": idx, "message": msg} for msg, idx in failures.items()],
    }
    return json_response(400 if failed == len(events) else 207, payload)


def get_events(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``GET /events``: ``{count, events}``, newest first; the default range ends at real now."""
    limit = _int_param(request, "limit", EVENTS_PAGE, MAX_EVENTS_PAGE, minimum=1)
    offset = _int_param(request, "offset", 0, 10**9)
    query = parse_query(request, datetime.now(timezone.utc))
    return json_response(200, list_events(account, query, limit, offset))


def get_account(_account: BrevoAccount, _request: Request, _: dict[str, str]) -> Response:
    """``GET /account``."""
    return json_response(200, ACCOUNT)


def get_attributes(account: BrevoAccount, _request: Request, _: dict[str, str]) -> Response:
    """``GET /contacts/attributes``."""
    return json_response(200, {"attributes": account.attributes})


def create_attribute(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``POST /contacts/attributes/{category}/{name}`` -> 201."""
    account.create_attribute(args["category"], args["name"], _body(request, "createAttribute"))
    return empty_response(201)


def import_contacts(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /contacts/import`` -> 202 ``{processId}``."""
    body = _body(request)
    _check_import_size(body)
    _validate("requestContactImport", body)
    return json_response(202, {"processId": account.import_contacts(body)})


def _check_import_size(body: Any) -> None:
    """Refuse a fileBody or jsonBody over 10 MB (measured before the slower schema check)."""
    if not isinstance(body, dict):
        return
    for key in ("fileBody", "jsonBody"):
        value = body.get(key)
        if value is not None and _utf8_size(value) > MAX_IMPORT_BYTES:
            raise BrevoError(400, "out_of_range", f"{key} larger than 10 MB")


def _utf8_size(value: Any) -> int:
    """Bytes of a string, or of a value's compact JSON text."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(value.encode("utf-8"))


def get_process(account: BrevoAccount, _request: Request, args: dict[str, str]) -> Response:
    """``GET /processes/{id}``."""
    return json_response(200, account.process_json(int(args["id"])))


def _contact(account: BrevoAccount, request: Request, identifier: str) -> dict[str, Any]:
    contact = account.find(identifier, request.param("identifierType"))
    if contact is None:
        raise BrevoError(404, "document_not_found", "Contact does not exist")
    return contact


def get_contact(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``GET /contacts/{identifier}``."""
    return json_response(200, account.contact_json(_contact(account, request, args["identifier"])))


def update_contact(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``PUT /contacts/{identifier}`` -> 204 (an update only: 404 when there is no such contact)."""
    contact = _contact(account, request, args["identifier"])
    account.update_contact(contact, _body(request, "updateContact"))
    return empty_response(204)


def delete_contact(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``DELETE /contacts/{identifier}`` -> 204."""
    account.delete_contact(_contact(account, request, args["identifier"]))
    return empty_response(204)


def create_folder(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /contacts/folders`` -> 201 ``{id}``."""
    body = _body(request, "createUpdateFolder")
    if not body.get("name"):
        raise BrevoError(400, "missing_parameter", "name is required")
    return json_response(201, {"id": account.create_folder(body["name"])})


def create_list(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /contacts/lists`` -> 201 ``{id}``."""
    body = _body(request, "createList")
    return json_response(201, {"id": account.create_list(body["name"], body["folderId"])})


def _int_param(request: Request, name: str, default: int, maximum: int, minimum: int = 0) -> int:
    raw = request.param(name)
    if raw is None:
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        message = f"{name} must be an integer between {minimum} and {maximum}"
        raise BrevoError(400, "out_of_range", message)
    return int(raw)


def get_contacts(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``GET /contacts``: ``limit`` <= 1000 (spec), ``offset``, ``sort`` by creation."""
    limit = _int_param(request, "limit", 50, 1000)
    offset = _int_param(request, "offset", 0, 10**9)
    order = request.param("sort") or "desc"
    if order not in ("asc", "desc"):
        raise BrevoError(400, "invalid_parameter", "sort must be asc or desc")
    contacts = sorted(account.contacts.values(), key=lambda c: c["id"], reverse=order == "desc")
    page = [account.contact_json(c) for c in contacts[offset : offset + limit]]
    return json_response(200, {"contacts": page, "count": len(contacts)})


def get_folders(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``GET /contacts/folders`` (limit <= 50)."""
    limit = _int_param(request, "limit", 10, 50)
    offset = _int_param(request, "offset", 0, 10**9)
    folders = sorted(account.folders.values(), key=lambda folder: folder["id"])
    return json_response(200, {"folders": folders[offset : offset + limit], "count": len(folders)})


def get_lists(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``GET /contacts/lists`` (limit <= 50)."""
    limit = _int_param(request, "limit", 10, 50)
    offset = _int_param(request, "offset", 0, 10**9)
    lists = sorted(account.lists.values(), key=lambda lst: lst["id"])
    page = [account.list_json(lst) for lst in lists[offset : offset + limit]]
    return json_response(200, {"lists": page, "count": len(lists)})


def get_list_contacts(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``GET /contacts/lists/{id}/contacts`` (limit <= 500).

    A ``without_attributes`` fault leaves each contact's ``attributes`` out of the page.
    """
    members = account.get_list(int(args["id"]))["members"]
    limit = _int_param(request, "limit", 50, 500)
    offset = _int_param(request, "offset", 0, 10**9)
    ids = itertools.islice(members, offset, offset + limit)
    page = [account.contact_json(account.contacts[cid]) for cid in ids]
    if request.fault is not None and request.fault.kind == WITHOUT_ATTRIBUTES:
        for contact in page:
            del contact["attributes"]
    return json_response(200, {"contacts": page, "count": len(members)})


def _membership_body(request: Request, kind: str, allow_all: bool) -> tuple[str, list[Any]]:
    """Pick the one identifier array of an add/remove body and validate that spec branch.

    The official ``oneOf`` branches have no ``required`` keys, so every body matches all of them
    and a literal ``oneOf`` check would reject everything; the branch is chosen by its key.
    """
    body = _body(request)
    keys = [k for k in ("emails", "ids", "extIds") if isinstance(body, dict) and k in body]
    if allow_all and isinstance(body, dict) and body.get("all") is True and not keys:
        return "all", []
    if len(keys) != 1:
        raise BrevoError(400, "invalid_parameter", "Pass exactly one of emails, ids or extIds")
    prefix = "addContactToList" if kind == "add" else "removeContactFromList"
    branch = {"emails": "ByEmails", "ids": "ByIDs", "extIds": "ByExtIDs"}[keys[0]]
    if errors := brevo_errors(prefix + branch, body):
        raise BrevoError(400, "invalid_parameter", "; ".join(errors))
    return keys[0], body[keys[0]]


def add_to_list(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``POST /contacts/lists/{id}/contacts/add`` -> 201 success/failure arrays."""
    key, values = _membership_body(request, "add", allow_all=False)
    return json_response(201, account.add_to_list(int(args["id"]), key, values))


def remove_from_list(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``POST /contacts/lists/{id}/contacts/remove`` -> 201."""
    key, values = _membership_body(request, "remove", allow_all=True)
    return json_response(201, account.remove_from_list(int(args["id"]), key, values))


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in (
        *brevo_companies.ROUTES,
        ("GET", r"/events", get_events),
        ("POST", r"/events", create_event),
        ("POST", r"/events/batch", create_batch_events),
        ("GET", r"/account", get_account),
        ("GET", r"/contacts/attributes", get_attributes),
        ("POST", r"/contacts/attributes/(?P<category>[^/]+)/(?P<name>[^/]+)", create_attribute),
        ("GET", r"/contacts", get_contacts),
        ("POST", r"/contacts/import", import_contacts),
        ("GET", r"/processes/(?P<id>\d+)", get_process),
        ("GET", r"/contacts/folders", get_folders),
        ("POST", r"/contacts/folders", create_folder),
        ("GET", r"/contacts/lists", get_lists),
        ("POST", r"/contacts/lists", create_list),
        ("GET", r"/contacts/lists/(?P<id>\d+)/contacts", get_list_contacts),
        ("POST", r"/contacts/lists/(?P<id>\d+)/contacts/add", add_to_list),
        ("POST", r"/contacts/lists/(?P<id>\d+)/contacts/remove", remove_from_list),
        ("GET", r"/contacts/(?P<identifier>[^/]+)", get_contact),
        ("PUT", r"/contacts/(?P<identifier>[^/]+)", update_contact),
        ("DELETE", r"/contacts/(?P<identifier>[^/]+)", delete_contact),
    )
]


def handle(
    account: BrevoAccount, rates: RateLimiter, tokens: TokenIssuer, request: Request
) -> Response:
    """Authenticate (API key or OAuth token), rate-limit, route and answer one Brevo request.

    An unknown key charges no account, so its 401 spends nothing; a 429 spends nothing either.
    Every answer has the rate headers.
    """
    bucket = bucket_of(request.method, request.path)
    refusal = tokens.refusal(request, API_KEY)
    if refusal is not None:
        response = _error(401, "unauthorized", refusal)
        response.headers.update(rates.peek(bucket))
        return response
    admitted, headers = rates.admit(bucket)
    if admitted:
        response = _route(account, request)
    else:
        reset = headers["x-sib-ratelimit-reset"]
        message = f"Rate limit of the {bucket} endpoints reached; retry in {reset} s"
        response = _error(429, "too_many_requests", message)
    response.headers.update(headers)
    return response


def _route(account: BrevoAccount, request: Request) -> Response:
    allowed = False
    for method, pattern, handler in ROUTES:
        match = pattern.match(request.path)
        if match is None:
            continue
        if method != request.method:
            allowed = True
            continue
        try:
            return handler(account, request, match.groupdict())
        except BrevoError as exc:
            return _error(exc.status, exc.code, exc.message)
    if allowed:
        return _error(
            405, "method_not_allowed", f"{request.method} Method is not allowed on this path"
        )
    return _error(404, "document_not_found", f"Unknown path {request.path}")

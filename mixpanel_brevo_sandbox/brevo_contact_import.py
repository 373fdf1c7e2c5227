"""Brevo's contact import (``POST /contacts/import``): rows upserted into the account's contacts.

The sandbox applies an import at once and reports it through a process, with Brevo's counters of
invalid emails and of identifiers another contact already holds.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .brevo_attributes import EMAIL_RE, PHONE_ATTRIBUTES, normalise_phone
from .brevo_formats import BrevoError, utc_iso
from .brevo_lists import DEFAULT_FOLDER, BrevoLists

IMPORT_COUNTERS = (
    "invalid_emails",
    "duplicate_contact_id",
    "duplicate_ext_id",
    "duplicate_phone_id",
    "duplicate_whatsapp_id",
    "duplicate_landline_number_id",
)
DUPLICATE_COUNTERS = {
    "SMS": "duplicate_phone_id",
    "WHATSAPP": "duplicate_whatsapp_id",
    "LANDLINE_NUMBER": "duplicate_landline_number_id",
    "EXT_ID": "duplicate_ext_id",
}


def import_contacts(account: BrevoLists, body: dict[str, Any]) -> int:
    """``POST /contacts/import``: applied at once, reported through the process it returns."""
    rows = _import_rows(body)
    list_ids = list(body.get("listIds") or [])
    new_list = body.get("newList") or {}
    if not list_ids and not new_list.get("listName"):
        raise BrevoError(400, "missing_parameter", "listIds or newList is required")
    for list_id in list_ids:
        account.get_list(list_id)
    if new_list.get("listName"):
        folder = new_list.get("folderId", DEFAULT_FOLDER[0])
        list_ids.append(account.create_list(new_list["listName"], folder))
    prepared = [_prepare_row(account, row) for row in rows]
    counters = dict.fromkeys(IMPORT_COUNTERS, 0)
    counters["invalid_emails"] = sum(1 for _, _, bad in prepared if bad)
    if not any(ids for ids, _, _ in prepared):
        raise BrevoError(
            400,
            "invalid_parameter",
            "We could not find any valid email or SMS or Contact ID in the file",
        )
    for identifiers, attributes, _ in prepared:
        if identifiers:
            _upsert(
                account, identifiers, attributes, body=body, list_ids=list_ids, counters=counters
            )
    return account.add_process("IMPORTUSER", {"import": counters})


def _import_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body.get("jsonBody") is not None:
        return [r if isinstance(r, dict) else {} for r in body["jsonBody"]]
    if body.get("fileBody") is not None:
        reader = csv.DictReader(io.StringIO(body["fileBody"]), delimiter=";")
        return [
            {"email": row.pop("EMAIL", None), "attributes": row}
            for row in ({(k or "").strip().upper(): v for k, v in r.items()} for r in reader)
        ]
    if body.get("fileUrl") is not None:
        raise BrevoError(
            400, "invalid_parameter", "fileUrl cannot be fetched: the sandbox has no network"
        )
    raise BrevoError(400, "missing_parameter", "One of fileUrl, fileBody or jsonBody is required")


def _prepare_row(
    account: BrevoLists, row: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """Split a row into identifiers and known attributes; flag an invalid email."""
    raw = row.get("attributes")
    raw = raw if isinstance(raw, dict) else {}
    attributes = {k: v for k, v in raw.items() if account.attribute(k) and k != "EMAIL"}
    email = row.get("email") or raw.get("EMAIL")
    invalid_email = bool(email) and not (isinstance(email, str) and EMAIL_RE.match(email))
    identifiers: dict[str, Any] = {}
    if email and not invalid_email:
        identifiers["email"] = email.lower()
    for name in PHONE_ATTRIBUTES:
        if name in attributes:
            phone = normalise_phone(attributes.pop(name))
            if phone:
                identifiers[name] = phone
    if attributes.get("EXT_ID") not in (None, ""):
        identifiers["EXT_ID"] = str(attributes.pop("EXT_ID"))
    return identifiers, attributes, invalid_email


def _match(account: BrevoLists, identifiers: dict[str, Any]) -> dict[str, Any] | None:
    """The row's first identifier decides the match (email, then EXT_ID, then SMS).

    The other identifiers only update the matched contact; a clash with another contact
    is counted in the process info, not applied.
    """
    if "email" in identifiers:
        return account.by_email(identifiers["email"])
    if "EXT_ID" in identifiers:
        return account.by_attribute("EXT_ID", identifiers["EXT_ID"])
    return account.by_attribute("SMS", identifiers.get("SMS"))


def _upsert(
    account: BrevoLists,
    identifiers: dict[str, Any],
    attributes: dict[str, Any],
    *,
    body: dict[str, Any],
    list_ids: list[int],
    counters: dict[str, int],
) -> None:
    contact = _match(account, identifiers)
    if contact is not None and not body.get("updateExistingContacts", True):
        return
    if contact is None:
        contact = account.add_contact(identifiers.get("email"))
    for name, counter_name in DUPLICATE_COUNTERS.items():
        if name not in identifiers:
            continue
        owner = account.by_attribute(name, identifiers[name])
        if owner is not None and owner["id"] != contact["id"]:
            counters[counter_name] += 1
        else:
            account.hold(contact, name, identifiers[name])
    account.set_attributes(contact, attributes, bool(body.get("emptyContactsAttributes")))
    if body.get("emailBlacklist"):
        contact["emailBlacklisted"] = True
    if body.get("smsBlacklist"):
        contact["smsBlacklisted"] = True
    contact["modifiedAt"] = utc_iso()
    for list_id in list_ids:
        account.lists[list_id]["members"][contact["id"]] = None

"""The Brevo side of the sandbox: one account's contacts, attributes, lists, imports and events.

Events are queued as Brevo queues them: each remembers when it was queued on a monotonic clock,
and ``GET /events`` shows it only ``events_visibility_seconds`` later.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .brevo_limits import Clock

if TYPE_CHECKING:
    from .brevo_companies import BrevoCompanies

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IDENTIFIER_TYPES = (
    "email_id",
    "contact_id",
    "ext_id",
    "phone_id",
    "whatsapp_id",
    "landline_number_id",
)
# Attributes a fresh Brevo account has (English account language).
DEFAULT_ATTRIBUTES = (
    {"name": "EMAIL", "category": "normal", "type": "text"},
    {"name": "FIRSTNAME", "category": "normal", "type": "text"},
    {"name": "LASTNAME", "category": "normal", "type": "text"},
    {"name": "SMS", "category": "normal", "type": "text"},
    {"name": "WHATSAPP", "category": "normal", "type": "text"},
    {"name": "LANDLINE_NUMBER", "category": "normal", "type": "text"},
    {"name": "EXT_ID", "category": "normal", "type": "text"},
    {
        "name": "DOUBLE_OPT-IN",
        "category": "category",
        "type": "category",
        "enumeration": [{"value": 1, "label": "Yes"}, {"value": 2, "label": "No"}],
    },
    {"name": "ORDER_ID", "category": "transactional", "type": "id"},
    {"name": "ORDER_DATE", "category": "transactional", "type": "date"},
    {"name": "ORDER_PRICE", "category": "transactional", "type": "float"},
)
# The seed document's list assignment (all_users 15, engaged_users 16, at_risk 17).
DEFAULT_FOLDER = (1, "Your first folder")
DEFAULT_LISTS = ((15, "All users"), (16, "Engaged users"), (17, "At risk"))
PHONE_ATTRIBUTES = ("SMS", "WHATSAPP", "LANDLINE_NUMBER")
IMPORT_COUNTERS = (
    "invalid_emails",
    "duplicate_contact_id",
    "duplicate_ext_id",
    "duplicate_phone_id",
    "duplicate_whatsapp_id",
    "duplicate_landline_number_id",
)
IDENTIFIER_ATTRIBUTES = ("EXT_ID", *PHONE_ATTRIBUTES)  # contacts are looked up by these
DUPLICATE_COUNTERS = {
    "SMS": "duplicate_phone_id",
    "WHATSAPP": "duplicate_whatsapp_id",
    "LANDLINE_NUMBER": "duplicate_landline_number_id",
    "EXT_ID": "duplicate_ext_id",
}


class BrevoError(Exception):
    """An API error answered as ``{"code", "message"}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def utc_iso(moment: datetime | None = None) -> str:
    """Format a UTC timestamp the way Brevo does (milliseconds, ``Z``)."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def check_visibility(seconds: Any) -> float:
    """Return ``seconds`` as a float if it is a finite, non-negative number; else a ValueError."""
    is_number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not is_number or not math.isfinite(seconds) or seconds < 0:
        raise ValueError("events visibility must be a finite, non-negative number of seconds")
    return float(seconds)


def normalise_phone(value: Any) -> str | None:
    """Return ``+<digits>`` for a number carrying a country code, None when Brevo would refuse it.

    Accepted like Brevo: ``+33612345678``, ``0033612345678``, ``33612345678``; national forms
    such as ``06 12 34 56 78`` have no country code and are rejected.
    """
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    text = re.sub(r"[\s\-.()]", "", str(value)).replace("+", "00", 1)
    if text.startswith("0") and not text.startswith("00"):
        return None
    digits = text.removeprefix("00")
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        return None
    return f"+{digits}"


class BrevoAccount:
    """Account state. Callers hold the sandbox lock.

    ``clock`` (monotonic seconds, injectable for tests) stamps each event when it is queued;
    ``events_visibility_seconds`` is how long Brevo's queue keeps an event out of ``GET /events``.
    """

    def __init__(
        self,
        crm: BrevoCompanies,
        clock: Clock = time.monotonic,
        events_visibility_seconds: float = 0.0,
    ) -> None:
        self.clock = clock
        self.events_visibility_seconds = check_visibility(events_visibility_seconds)
        self.events: list[dict[str, Any]] = []
        # When each of ``events`` was queued (same order), kept out of the events themselves so
        # the admin API shows them exactly as stored.
        self.queued_at: list[float] = []
        self.contacts: dict[int, dict[str, Any]] = {}
        # The contacts holding each identifier value, in creation order: a million-contact
        # import looks each row up here instead of scanning every contact.
        self._holders: dict[tuple[str, Any], dict[int, None]] = {}
        self.attributes: list[dict[str, Any]] = [dict(a) for a in DEFAULT_ATTRIBUTES]
        self.folders: dict[int, dict[str, Any]] = {
            DEFAULT_FOLDER[0]: {"id": DEFAULT_FOLDER[0], "name": DEFAULT_FOLDER[1]}
        }
        self.lists: dict[int, dict[str, Any]] = {
            list_id: {"id": list_id, "name": name, "folderId": DEFAULT_FOLDER[0], "members": {}}
            for list_id, name in DEFAULT_LISTS
        }
        self.processes: dict[int, dict[str, Any]] = {}
        self.crm = crm  # companies and company attributes (``brevo_companies``)
        self._next = {"contact": 1, "folder": 2, "list": 18, "process": 1}

    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # -- lookup -----------------------------------------------------------------------------

    def find(self, identifier: str, identifier_type: str | None = None) -> dict[str, Any] | None:
        """Find a contact the way ``GET /contacts/{identifier}?identifierType=`` does."""
        if identifier_type is None:
            if identifier.isdigit():
                identifier_type = "contact_id"
            elif "@" in identifier:
                identifier_type = "email_id"
            else:
                identifier_type = "phone_id"
        if identifier_type not in IDENTIFIER_TYPES:
            raise BrevoError(400, "invalid_parameter", "identifierType is not valid")
        if identifier_type == "contact_id":
            return self.contacts.get(int(identifier)) if identifier.isdigit() else None
        if identifier_type == "email_id":
            return self._by_email(identifier)
        attribute = {
            "ext_id": "EXT_ID",
            "phone_id": "SMS",
            "whatsapp_id": "WHATSAPP",
            "landline_number_id": "LANDLINE_NUMBER",
        }[identifier_type]
        wanted = identifier if attribute == "EXT_ID" else normalise_phone(identifier)
        return self._by_attribute(attribute, wanted)

    def _by_email(self, email: Any) -> dict[str, Any] | None:
        if not isinstance(email, str):
            return None
        return self._first_holder("email", email.lower())

    def _by_attribute(self, name: str, value: Any) -> dict[str, Any] | None:
        if value in (None, ""):
            return None
        return self._first_holder(name, value)

    def _first_holder(self, name: str, value: Any) -> dict[str, Any] | None:
        holders = self._holders.get((name, value))
        return self.contacts[next(iter(holders))] if holders else None

    def _hold(self, contact: dict[str, Any], name: str, value: Any) -> None:
        """Set an identifier attribute (None removes it), keeping the lookup index in step."""
        old = contact["email"] if name == "email" else contact["attributes"].get(name)
        if old is not None:
            self._holders.get((name, old), {}).pop(contact["id"], None)
        if name == "email":
            contact["email"] = value
        elif value is None:
            contact["attributes"].pop(name, None)
        else:
            contact["attributes"][name] = value
        if value is not None:
            self._holders.setdefault((name, value), {})[contact["id"]] = None

    def contact_json(self, contact: dict[str, Any]) -> dict[str, Any]:
        """A contact as ``GET /contacts/{identifier}`` returns it."""
        return {
            "id": contact["id"],
            "email": contact["email"],
            "emailBlacklisted": contact["emailBlacklisted"],
            "smsBlacklisted": contact["smsBlacklisted"],
            "createdAt": contact["createdAt"],
            "modifiedAt": contact["modifiedAt"],
            "attributes": dict(contact["attributes"]),
            "listIds": sorted(
                lid for lid, lst in self.lists.items() if contact["id"] in lst["members"]
            ),
            "statistics": {},
        }

    def update_contact(self, contact: dict[str, Any], body: dict[str, Any]) -> None:
        """Apply a ``PUT /contacts/{identifier}`` body; an ext_id another contact owns is a 400."""
        ext_id = body.get("ext_id")
        if ext_id is not None:
            owner = self._by_attribute("EXT_ID", str(ext_id))
            if owner is not None and owner["id"] != contact["id"]:
                raise BrevoError(400, "duplicate_parameter", "ext_id is already associated")
            self._hold(contact, "EXT_ID", str(ext_id))
        known = {k: v for k, v in (body.get("attributes") or {}).items() if self.attribute(k)}
        self._set_attributes(contact, known, erase=False)
        for list_id in body.get("listIds") or []:
            self.get_list(list_id)["members"][contact["id"]] = None
        for list_id in body.get("unlinkListIds") or []:
            members = self.get_list(list_id)["members"]
            members.pop(contact["id"], None)
        contact["modifiedAt"] = utc_iso()

    def delete_contact(self, contact: dict[str, Any]) -> None:
        """Delete a contact and its list memberships."""
        self.contacts.pop(contact["id"], None)
        for name in ("email", *IDENTIFIER_ATTRIBUTES):
            self._hold(contact, name, None)
        for lst in self.lists.values():
            lst["members"].pop(contact["id"], None)

    # -- attributes, folders, lists -----------------------------------------------------------

    def attribute(self, name: str) -> dict[str, Any] | None:
        """An attribute definition by exact (upper-case) name."""
        return next((a for a in self.attributes if a["name"] == name), None)

    def create_attribute(self, category: str, name: str, body: dict[str, Any]) -> None:
        """``POST /contacts/attributes/{category}/{name}``."""
        categories = ("normal", "transactional", "category", "calculated", "global")
        if category not in categories:
            raise BrevoError(
                400, "invalid_parameter", f"attributeCategory must be one of {categories}"
            )
        name = name.upper()
        if self.attribute(name):
            raise BrevoError(400, "invalid_parameter", "Attribute name must be unique")
        definition: dict[str, Any] = {
            "name": name,
            "category": category,
            "type": body.get("type", "text"),
        }
        if category == "category":
            definition.update(type="category", enumeration=body.get("enumeration", []))
        if body.get("multiCategoryOptions"):
            definition["multiCategoryOptions"] = list(body["multiCategoryOptions"])
        self.attributes.append(definition)

    def create_folder(self, name: str) -> int:
        """``POST /contacts/folders``."""
        folder_id = self._new_id("folder")
        self.folders[folder_id] = {"id": folder_id, "name": name}
        return folder_id

    def create_list(self, name: str, folder_id: int) -> int:
        """``POST /contacts/lists``."""
        if folder_id not in self.folders:
            raise BrevoError(404, "document_not_found", "Folder ID does not exist")
        list_id = self._new_id("list")
        self.lists[list_id] = {"id": list_id, "name": name, "folderId": folder_id, "members": {}}
        return list_id

    def get_list(self, list_id: int) -> dict[str, Any]:
        """A list by id, or 404."""
        if list_id not in self.lists:
            raise BrevoError(404, "document_not_found", "List ID does not exist")
        return self.lists[list_id]

    def list_json(self, lst: dict[str, Any]) -> dict[str, Any]:
        """A list as ``GET /contacts/lists`` shows it."""
        return {
            "id": lst["id"],
            "name": lst["name"],
            "folderId": lst["folderId"],
            "uniqueSubscribers": len(lst["members"]),
            "totalSubscribers": len(lst["members"]),
            "totalBlacklisted": 0,
        }

    def _members_by(self, key: str, values: list[Any]) -> list[tuple[Any, dict[str, Any] | None]]:
        if key == "emails":
            return [(v, self._by_email(v)) for v in values]
        if key == "ids":
            return [(v, self.contacts.get(v)) for v in values]
        return [(v, self._by_attribute("EXT_ID", v)) for v in values]

    def add_to_list(self, list_id: int, key: str, values: list[Any]) -> dict[str, Any]:
        """Add existing contacts; 400 when none could be added."""
        members = self.get_list(list_id)["members"]
        success, failure = [], []
        for value, contact in self._members_by(key, values):
            if contact is None or contact["id"] in members:
                failure.append(value)
            else:
                members[contact["id"]] = None
                success.append(value)
        if not success:
            raise BrevoError(
                400, "invalid_parameter", "Contact already in list and/or does not exist"
            )
        return {"contacts": {"success": success, "failure": failure}}

    def remove_from_list(self, list_id: int, key: str, values: list[Any]) -> dict[str, Any]:
        """Remove contacts (or all of them when key is ``all``)."""
        members = self.get_list(list_id)["members"]
        if key == "all":
            total = len(members)
            members.clear()
            process_id = self._process("REMOVEALLCONTACTSFROMLIST", {})
            return {"contacts": {"total": total, "processId": process_id}}
        success, failure = [], []
        for value, contact in self._members_by(key, values):
            if contact is None or contact["id"] not in members:
                failure.append(value)
            else:
                del members[contact["id"]]
                success.append(value)
        if not success:
            raise BrevoError(400, "invalid_parameter", "Contact does not exist and/or not in list")
        return {"contacts": {"success": success, "failure": failure}}

    # -- import and processes ---------------------------------------------------------------

    def _process(self, name: str, info: dict[str, Any]) -> int:
        process_id = self._new_id("process")
        self.processes[process_id] = {
            "id": process_id,
            "name": name,
            "polls": 0,
            "info": info,
            "created_at": utc_iso(),
            "completed_at": utc_iso(),
        }
        return process_id

    def start_process(self, name: str, rows: int) -> int:
        """A process for work applied at once (a companies import), completed from poll two."""
        return self._process(name, {"rows": rows})

    def process_json(self, process_id: int) -> dict[str, Any]:
        """``GET /processes/{id}``: in_process on the first poll, completed from the second."""
        process = self.processes.get(process_id)
        if process is None:
            raise BrevoError(404, "document_not_found", "Process does not exist")
        process["polls"] += 1
        result = {"id": process_id, "name": process["name"], "created_at": process["created_at"]}
        if process["polls"] < 2:
            return {**result, "status": "in_process"}
        completed = {**result, "status": "completed", "completed_at": process["completed_at"]}
        if process["info"]:
            completed["info"] = process["info"]
        return completed

    def import_contacts(self, body: dict[str, Any]) -> int:
        """``POST /contacts/import``: applied at once, reported through the process."""
        rows = self._import_rows(body)
        list_ids = list(body.get("listIds") or [])
        new_list = body.get("newList") or {}
        if not list_ids and not new_list.get("listName"):
            raise BrevoError(400, "missing_parameter", "listIds or newList is required")
        for list_id in list_ids:
            self.get_list(list_id)
        if new_list.get("listName"):
            folder = new_list.get("folderId", DEFAULT_FOLDER[0])
            list_ids.append(self.create_list(new_list["listName"], folder))
        prepared = [self._prepare_row(row) for row in rows]
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
                self._upsert(identifiers, attributes, body, list_ids, counters)
        return self._process("IMPORTUSER", {"import": counters})

    @staticmethod
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
        raise BrevoError(
            400, "missing_parameter", "One of fileUrl, fileBody or jsonBody is required"
        )

    def _prepare_row(self, row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Split a row into identifiers and known attributes; flag an invalid email."""
        raw = row.get("attributes") if isinstance(row.get("attributes"), dict) else {}
        attributes = {k: v for k, v in raw.items() if self.attribute(k) and k != "EMAIL"}
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

    def _match(self, identifiers: dict[str, Any]) -> dict[str, Any] | None:
        """The row's first identifier decides the match (email, then EXT_ID, then SMS).

        The other identifiers only update the matched contact; a clash with another contact
        is counted in the process info, not applied.
        """
        if "email" in identifiers:
            return self._by_email(identifiers["email"])
        if "EXT_ID" in identifiers:
            return self._by_attribute("EXT_ID", identifiers["EXT_ID"])
        return self._by_attribute("SMS", identifiers.get("SMS"))

    def _upsert(
        self,
        identifiers: dict[str, Any],
        attributes: dict[str, Any],
        body: dict[str, Any],
        list_ids: list[int],
        counters: dict[str, int],
    ) -> None:
        contact = self._match(identifiers)
        if contact is not None and not body.get("updateExistingContacts", True):
            return
        if contact is None:
            now = utc_iso()
            contact = {
                "id": self._new_id("contact"),
                "email": None,
                "emailBlacklisted": False,
                "smsBlacklisted": False,
                "createdAt": now,
                "modifiedAt": now,
                "attributes": {},
            }
            self.contacts[contact["id"]] = contact
            self._hold(contact, "email", identifiers.get("email"))
        for name, counter_name in DUPLICATE_COUNTERS.items():
            if name not in identifiers:
                continue
            owner = self._by_attribute(name, identifiers[name])
            if owner is not None and owner["id"] != contact["id"]:
                counters[counter_name] += 1
            else:
                self._hold(contact, name, identifiers[name])
        self._set_attributes(contact, attributes, bool(body.get("emptyContactsAttributes")))
        if body.get("emailBlacklist"):
            contact["emailBlacklisted"] = True
        if body.get("smsBlacklist"):
            contact["smsBlacklisted"] = True
        contact["modifiedAt"] = utc_iso()
        for list_id in list_ids:
            self.lists[list_id]["members"][contact["id"]] = None

    def _set(self, contact: dict[str, Any], name: str, value: Any) -> None:
        if name in IDENTIFIER_ATTRIBUTES:
            self._hold(contact, name, value)
        elif value is None:
            contact["attributes"].pop(name, None)
        else:
            contact["attributes"][name] = value

    def _set_attributes(self, contact: dict[str, Any], values: dict[str, Any], erase: bool) -> None:
        """Apply attribute values; empty ones erase only with ``erase``; bad types are ignored."""
        for name, value in values.items():
            if value is None or value == "":
                if erase:
                    self._set(contact, name, None)
                continue
            coerced = _coerce(self.attribute(name) or {}, value)
            if coerced is not None:
                self._set(contact, name, coerced)

    # -- events ---------------------------------------------------------------------------

    def record_event(self, event: dict[str, Any]) -> None:
        """Queue an accepted event; contact_properties update the contact when it exists."""
        stored = {
            "event_name": event["event_name"],
            "event_date": event.get("event_date") or utc_iso(),
            "identifiers": event["identifiers"],
            "event_properties": event.get("event_properties", {}),
            "received_at": utc_iso(),
        }
        if "object" in event:
            stored["object"] = event["object"]
        if "contact_properties" in event:
            stored["contact_properties"] = event["contact_properties"]
            contact = self.event_contact(event["identifiers"])
            if contact is not None:
                known = {k: v for k, v in event["contact_properties"].items() if self.attribute(k)}
                self._set_attributes(contact, known, erase=False)
        self.events.append(stored)
        self.queued_at.append(self.clock())

    def visible_events(self) -> list[tuple[int, dict[str, Any]]]:
        """Events out of the queue by now, each with its arrival position."""
        cutoff = self.clock() - self.events_visibility_seconds
        queued = zip(self.events, self.queued_at, strict=True)
        return [(position, event) for position, (event, at) in enumerate(queued) if at <= cutoff]

    def event_contact(self, identifiers: dict[str, Any]) -> dict[str, Any] | None:
        """The contact an event's identifiers name, or None.

        ``contact_id`` alone decides when given; else email, ext_id and phone are tried in turn.
        """
        if "contact_id" in identifiers:
            contact_id = identifiers["contact_id"]
            return self.contacts.get(contact_id) if isinstance(contact_id, int) else None
        lookups = (("email_id", "email_id"), ("ext_id", "ext_id"), ("phone_id", "phone_id"))
        for key, kind in lookups:
            if isinstance(identifiers.get(key), str):
                contact = self.find(identifiers[key], kind)
                if contact is not None:
                    return contact
        return None


def _coerce(definition: dict[str, Any], value: Any) -> Any:  # noqa: PLR0911
    """Coerce a value to the attribute's type, or None when Brevo would silently ignore it."""
    kind = definition.get("type", "text")
    if kind == "float":
        if isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        return {"true": True, "false": False}.get(lowered)
    if kind == "date":
        return value if isinstance(value, str) and DATE_RE.match(value) else None
    if kind == "multiple-choice":
        return value if isinstance(value, list) else None
    if kind == "category":
        labels = {e["label"]: e["value"] for e in definition.get("enumeration", [])}
        values = set(labels.values())
        if isinstance(value, int) and value in values:
            return value
        return labels.get(value)
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

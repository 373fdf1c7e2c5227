"""Brevo contacts: the account's contacts, looked up by any identifier, and their attributes."""

from __future__ import annotations

import itertools
from typing import Any

from .brevo_attributes import (
    ATTRIBUTE_CATEGORIES,
    DEFAULT_ATTRIBUTES,
    IDENTIFIER_ATTRIBUTES,
    coerce,
    normalise_phone,
)
from .brevo_formats import BrevoError, utc_iso
from .brevo_processes import BrevoProcesses

IDENTIFIER_TYPES = (
    "email_id",
    "contact_id",
    "ext_id",
    "phone_id",
    "whatsapp_id",
    "landline_number_id",
)
# The attribute each ``identifierType`` but email_id and contact_id looks a contact up by.
IDENTIFIER_TYPE_ATTRIBUTES = {
    "ext_id": "EXT_ID",
    "phone_id": "SMS",
    "whatsapp_id": "WHATSAPP",
    "landline_number_id": "LANDLINE_NUMBER",
}


class BrevoContacts(BrevoProcesses):
    """Contacts by id, an index of their identifiers, and the attribute definitions.

    Callers hold the sandbox lock.
    """

    def __init__(self) -> None:
        super().__init__()
        self.contacts: dict[int, dict[str, Any]] = {}
        # The contacts holding each identifier value, in creation order: a million-contact
        # import looks each row up here instead of scanning every contact.
        self._holders: dict[tuple[str, Any], dict[int, None]] = {}
        self.attributes: list[dict[str, Any]] = [dict(a) for a in DEFAULT_ATTRIBUTES]
        self._contact_ids = itertools.count(1)

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
            return self.by_email(identifier)
        attribute = IDENTIFIER_TYPE_ATTRIBUTES[identifier_type]
        wanted = identifier if attribute == "EXT_ID" else normalise_phone(identifier)
        return self.by_attribute(attribute, wanted)

    def by_email(self, email: Any) -> dict[str, Any] | None:
        """The contact with this email (any case), or None."""
        if not isinstance(email, str):
            return None
        return self._first_holder("email", email.lower())

    def by_attribute(self, name: str, value: Any) -> dict[str, Any] | None:
        """The first contact whose identifier attribute ``name`` is ``value``, or None."""
        if value in (None, ""):
            return None
        return self._first_holder(name, value)

    def _first_holder(self, name: str, value: Any) -> dict[str, Any] | None:
        holders = self._holders.get((name, value))
        return self.contacts[next(iter(holders))] if holders else None

    def hold(self, contact: dict[str, Any], name: str, value: Any) -> None:
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

    def add_contact(self, email: str | None) -> dict[str, Any]:
        """Create a contact with no attributes (and this email, if any)."""
        now, contact_id = utc_iso(), next(self._contact_ids)
        contact: dict[str, Any] = {
            "id": contact_id,
            "email": None,
            "emailBlacklisted": False,
            "smsBlacklisted": False,
            "createdAt": now,
            "modifiedAt": now,
            "attributes": {},
        }
        self.contacts[contact_id] = contact
        self.hold(contact, "email", email)
        return contact

    # -- attributes -------------------------------------------------------------------------

    def attribute(self, name: str) -> dict[str, Any] | None:
        """An attribute definition by exact (upper-case) name."""
        return next((a for a in self.attributes if a["name"] == name), None)

    def create_attribute(self, category: str, name: str, body: dict[str, Any]) -> None:
        """``POST /contacts/attributes/{category}/{name}``."""
        if category not in ATTRIBUTE_CATEGORIES:
            raise BrevoError(
                400, "invalid_parameter", f"attributeCategory must be one of {ATTRIBUTE_CATEGORIES}"
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

    def set_attributes(self, contact: dict[str, Any], values: dict[str, Any], erase: bool) -> None:
        """Apply attribute values; empty ones erase only with ``erase``; bad types are ignored."""
        for name, value in values.items():
            if value is None or value == "":
                if erase:
                    self._set(contact, name, None)
                continue
            coerced = coerce(self.attribute(name) or {}, value)
            if coerced is not None:
                self._set(contact, name, coerced)

    def _set(self, contact: dict[str, Any], name: str, value: Any) -> None:
        if name in IDENTIFIER_ATTRIBUTES:
            self.hold(contact, name, value)
        elif value is None:
            contact["attributes"].pop(name, None)
        else:
            contact["attributes"][name] = value

"""Brevo folders and contact lists, and the contact operations that touch list membership."""

from __future__ import annotations

import itertools
from typing import Any

from .brevo_attributes import IDENTIFIER_ATTRIBUTES
from .brevo_contacts import BrevoContacts
from .brevo_formats import BrevoError, utc_iso

# The seed document's list assignment (all_users 15, engaged_users 16, at_risk 17).
DEFAULT_FOLDER = (1, "Your first folder")
DEFAULT_LISTS = ((15, "All users"), (16, "Engaged users"), (17, "At risk"))


class BrevoLists(BrevoContacts):
    """Folders and lists (each list's members by contact id) over the contacts.

    Callers hold the sandbox lock.
    """

    def __init__(self) -> None:
        super().__init__()
        self.folders: dict[int, dict[str, Any]] = {
            DEFAULT_FOLDER[0]: {"id": DEFAULT_FOLDER[0], "name": DEFAULT_FOLDER[1]}
        }
        self.lists: dict[int, dict[str, Any]] = {
            list_id: {"id": list_id, "name": name, "folderId": DEFAULT_FOLDER[0], "members": {}}
            for list_id, name in DEFAULT_LISTS
        }
        # New ids follow the defaults'.
        self._folder_ids = itertools.count(DEFAULT_FOLDER[0] + 1)
        self._list_ids = itertools.count(max(list_id for list_id, _ in DEFAULT_LISTS) + 1)

    # -- contacts, with their lists -----------------------------------------------------------

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
            owner = self.by_attribute("EXT_ID", str(ext_id))
            if owner is not None and owner["id"] != contact["id"]:
                raise BrevoError(400, "duplicate_parameter", "ext_id is already associated")
            self.hold(contact, "EXT_ID", str(ext_id))
        known = {k: v for k, v in (body.get("attributes") or {}).items() if self.attribute(k)}
        self.set_attributes(contact, known, erase=False)
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
            self.hold(contact, name, None)
        for lst in self.lists.values():
            lst["members"].pop(contact["id"], None)

    # -- folders and lists --------------------------------------------------------------------

    def create_folder(self, name: str) -> int:
        """``POST /contacts/folders``."""
        folder_id = next(self._folder_ids)
        self.folders[folder_id] = {"id": folder_id, "name": name}
        return folder_id

    def create_list(self, name: str, folder_id: int) -> int:
        """``POST /contacts/lists``."""
        if folder_id not in self.folders:
            raise BrevoError(404, "document_not_found", "Folder ID does not exist")
        list_id = next(self._list_ids)
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

    # -- list membership ----------------------------------------------------------------------

    def _members_by(self, key: str, values: list[Any]) -> list[tuple[Any, dict[str, Any] | None]]:
        if key == "emails":
            return [(v, self.by_email(v)) for v in values]
        if key == "ids":
            return [(v, self.contacts.get(v)) for v in values]
        return [(v, self.by_attribute("EXT_ID", v)) for v in values]

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
            process_id = self.add_process("REMOVEALLCONTACTSFROMLIST", {})
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

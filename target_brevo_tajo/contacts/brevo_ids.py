"""Numeric Brevo contact ids by ``EXT_ID``, in bulk: what company links need.

``PATCH /companies/link-unlink`` and the companies import's ``associated_contact`` take numeric
contact ids, which a contacts import never returns. One ``GET /contacts/{ext_id}`` per member
costs a call per contact; ``GET /contacts`` lists 1,000 contacts a call (the spec's largest
``limit``), each with its ``EXT_ID`` attribute. Both are in the contacts bucket (10 a second on
the general tier), none in the hourly one. The account is read page by page until every wanted
id is found, or until the pages left outnumber the contacts still missing: those few are then
looked up one by one. A contact neither way finds is not in Brevo.
"""

from __future__ import annotations

import math
from typing import Any

from target_brevo_tajo.brevo.client import BrevoClient, ok_json

#: ``GET /contacts``'s largest page (spec: ``limit`` maximum 1000).
CONTACTS_PAGE = 1000


def find_contact_ids(client: BrevoClient, ext_ids: set[str]) -> dict[str, int]:
    """The numeric id of each of these contacts Brevo has, by ``EXT_ID``, in the fewest calls."""
    found: dict[str, int] = {}
    offset = 0
    while ext_ids - found.keys():
        query = {"limit": CONTACTS_PAGE, "offset": offset, "sort": "asc"}
        body = client.call("GET", "/contacts", params=query)
        page: list[dict[str, Any]] = body.get("contacts") or []
        for contact in page:
            ext_id = str((contact.get("attributes") or {}).get("EXT_ID") or "")
            if ext_id in ext_ids:
                found[ext_id] = int(contact["id"])
        offset += len(page)
        if len(page) < CONTACTS_PAGE:
            break
        missing = ext_ids - found.keys()
        pages_left = math.ceil(max(int(body.get("count") or 0) - offset, 0) / CONTACTS_PAGE)
        if len(missing) < pages_left:
            found.update(_one_by_one(client, missing))
            break
    return found


def _one_by_one(client: BrevoClient, ext_ids: set[str]) -> dict[str, int]:
    """``GET /contacts/{ext_id}`` for each (404: no such contact)."""
    found = {}
    for ext_id in sorted(ext_ids):
        response = client.request("GET", f"/contacts/{ext_id}", params={"identifierType": "ext_id"})
        if response.status_code != 404:
            found[ext_id] = int(ok_json(response)["id"])
    return found

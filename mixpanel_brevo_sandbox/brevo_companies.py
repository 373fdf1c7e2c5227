"""Brevo companies (Sales CRM) in the sandbox: import, listing, one company, links, attributes.

Request bodies are checked against the official spec's inline schemas (``createCrmAttribute``,
``linkUnlinkCompany``, ``importCompanies``). An import is applied at once and reported through a
process, as contact imports are; its CSV is read with the csv module, ``company_id`` updating that
company and ``associated_contact`` linking contacts.

Brevo documents no separator between several contact ids in one ``associated_contact`` cell
(developers.brevo.com names the column only), so the sandbox's is a setting: ``;`` by default,
which is not the file's own delimiter and so the likelier choice, and which a client joining ids
with ``,`` gets wrong. As the live report saw ("links added 2000" while Brevo held none), a cell the
separator does not split into contact ids links nothing, silently.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from .brevo_account import BrevoAccount
from .brevo_formats import BrevoError
from .specs import brevo_errors
from .wire import Request, Response, empty_response, json_response

#: The separators the sandbox can be told Brevo uses inside one ``associated_contact`` cell; tab
#: (a delimiter Brevo's help names for import files) stands for a Brevo splitting on neither of
#: the two a client is likely to try.
CONTACT_SEPARATORS = (";", ",", "\t")
DEFAULT_CONTACT_SEPARATOR = ";"
DEFAULT_COMPANY_ATTRIBUTES = (
    ("name", "Company Name", "text"),
    ("owner", "Owner", "user"),
    ("number_of_employees", "Number of employees", "number"),
)


def check_separator(separator: object) -> str:
    """Return ``separator`` if the sandbox knows it; a ValueError names the known ones otherwise."""
    if separator not in CONTACT_SEPARATORS:
        msg = f"associated_contact separator must be one of {list(CONTACT_SEPARATORS)}"
        raise ValueError(msg)
    return str(separator)


def split_contact_ids(cell: str, separator: str) -> list[int]:
    """The contact ids of one ``associated_contact`` cell; a part that is no id links nothing."""
    parts = (part.strip() for part in cell.split(separator))
    return [int(part) for part in parts if part.isdigit()]


class BrevoCompanies:
    """The account's companies and company attributes. Callers hold the sandbox lock."""

    def __init__(self, contact_separator: str = DEFAULT_CONTACT_SEPARATOR) -> None:
        self.contact_separator = check_separator(contact_separator)
        self.companies: dict[str, dict[str, Any]] = {}
        self.attributes: list[dict[str, Any]] = [
            {"internalName": n, "label": label, "attributeTypeName": t, "isRequired": n == "name"}
            for n, label, t in DEFAULT_COMPANY_ATTRIBUTES
        ]

    def attribute_names(self) -> set[str]:
        """Internal names of the company attributes."""
        return {a["internalName"] for a in self.attributes}

    def create_attribute(self, body: dict[str, Any]) -> str:
        """``POST /crm/attributes``: the internal name is the label in lower-case snake case."""
        name = re.sub(r"[^a-z0-9]+", "_", body["label"].lower()).strip("_")
        if name in self.attribute_names():
            raise BrevoError(400, "duplicate_parameter", f"Attribute {body['label']} exists")
        self.attributes.append(
            {"internalName": name, "label": body["label"],
             "attributeTypeName": body["attributeType"], "isRequired": False}
        )  # fmt: skip
        return secrets.token_hex(12)

    def import_csv(self, text: str, mapping: dict[str, Any], contact_ids: set[int]) -> int:
        """Apply an import file; returns the number of rows."""
        rows = list(csv.DictReader(io.StringIO(text)))
        known = self.attribute_names()
        for index, row in enumerate(rows):
            unknown = [c for c in row if c not in known | {"company_id", "associated_contact"}]
            if unknown:
                raise BrevoError(400, "invalid_parameter", f"row {index + 1}: unknown {unknown}")
            company_id = row.get("company_id")
            if company_id:
                company = self.companies.get(company_id)
                if company is None or not mapping.get("update_existing_records", True):
                    raise BrevoError(400, "invalid_parameter", f"no company {company_id}")
            else:
                if not row.get("name"):
                    raise BrevoError(400, "missing_parameter", f"row {index + 1}: name is required")
                company_id = secrets.token_hex(12)
                company = self.companies[company_id] = {
                    "id": company_id,
                    "attributes": {"created_at": _now()},
                    "linkedContactsIds": [],
                    "linkedDealsIds": [],
                }
            for column, value in row.items():
                if column in {"company_id", "associated_contact"}:
                    continue
                if value != "" or mapping.get("unset_empty_attributes"):
                    company["attributes"][column] = value
            linked = split_contact_ids(row.get("associated_contact") or "", self.contact_separator)
            if linked and mapping.get("link_entities"):
                self.link(company, [i for i in linked if i in contact_ids], [])
        return len(rows)

    @staticmethod
    def link(company: dict[str, Any], link: list[int], unlink: list[int]) -> None:
        """Add and remove contacts from a company's links."""
        current = [i for i in company["linkedContactsIds"] if i not in set(unlink)]
        company["linkedContactsIds"] = current + [i for i in link if i not in current]

    def listed(self, request: Request) -> list[dict[str, Any]]:
        # Brevo documents no largest ``limit`` for GET /companies: none is enforced here.
        """``GET /companies`` with filters, ``createdSince``, paging, sort.

        Both filter forms: ``filters[attributes.x]=v`` (brevo-node v6's wire form) and the
        spec's ``filters={"attributes.x": "v"}`` (a JSON object), each an equality test.
        """
        items = list(self.companies.values())
        for name, value in _filters(request):
            items = [c for c in items if str(c["attributes"].get(name)) == value]
        since = request.param("createdSince")
        if since:
            items = [c for c in items if c["attributes"]["created_at"] >= _iso(since)]
        items.sort(key=lambda c: c["attributes"]["created_at"],
                   reverse=request.param("sort") != "asc")  # fmt: skip
        limit = int(request.param("limit") or 50)
        page = int(request.param("page") or 1)
        return items[(page - 1) * limit : page * limit]


def _filters(request: Request) -> list[tuple[str, str]]:
    """The attribute equality filters of a ``GET /companies``, in either form."""
    found = []
    for key, values in request.query.items():
        match = re.fullmatch(r"filters\[attributes\.([^\]]+)\]", key)
        if match:
            found.append((match[1], values[0]))
    raw = request.param("filters")
    if raw:
        try:
            spec_form = json.loads(raw)
        except ValueError as exc:
            raise BrevoError(400, "invalid_parameter", f"filters: {exc}") from exc
        if not isinstance(spec_form, dict):
            raise BrevoError(400, "invalid_parameter", "filters must be a JSON object")
        for key, value in spec_form.items():
            name = str(key).removeprefix("attributes.")
            found.append((name, str(value)))
    return found


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _iso(text: str) -> str:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat(
            timespec="microseconds"
        )
    except ValueError as exc:
        raise BrevoError(400, "invalid_parameter", f"createdSince: {exc}") from exc


def _json_body(request: Request, schema: str) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError as exc:
        raise BrevoError(400, "invalid_parameter", f"Invalid JSON body: {exc}") from exc
    if errors := brevo_errors(schema, body):
        raise BrevoError(400, "invalid_parameter", "; ".join(errors))
    return body


def _multipart(request: Request) -> dict[str, bytes]:
    head = f"Content-Type: {request.header('content-type')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise BrevoError(400, "invalid_parameter", "Content-Type must be multipart/form-data")
    return {
        str(part.get_param("name", header="content-disposition")): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


def get_attributes(account: BrevoAccount, _request: Request, _: dict[str, str]) -> Response:
    """``GET /crm/attributes/companies``."""
    return json_response(200, account.crm.attributes)


def create_attribute(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /crm/attributes`` -> 200 ``{id}``."""
    body = _json_body(request, "createCrmAttribute")
    if body["objectType"] != "companies":
        raise BrevoError(400, "invalid_parameter", "the sandbox keeps company attributes only")
    return json_response(200, {"id": account.crm.create_attribute(body)})


def import_companies(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``POST /companies/import`` (multipart ``file`` + ``mapping``) -> 200 ``{processId}``."""
    parts = _multipart(request)
    if "file" not in parts:
        raise BrevoError(400, "missing_parameter", "file is required")
    mapping = json.loads(parts.get("mapping") or b"{}")
    if errors := brevo_errors("importCompanies", {"mapping": mapping}):
        raise BrevoError(400, "invalid_parameter", "; ".join(errors))
    rows = account.crm.import_csv(parts["file"].decode("utf-8"), mapping, set(account.contacts))
    return json_response(200, {"processId": account.start_process("import_companies", rows)})


def list_companies(account: BrevoAccount, request: Request, _: dict[str, str]) -> Response:
    """``GET /companies``."""
    return json_response(200, {"items": account.crm.listed(request)})


def get_company(account: BrevoAccount, _request: Request, args: dict[str, str]) -> Response:
    """``GET /companies/{id}`` -> 200 the company (``linkedContactsIds`` among its fields)."""
    company = account.crm.companies.get(args["id"])
    if company is None:
        raise BrevoError(404, "document_not_found", "Document not found")
    return json_response(200, company)


def link_unlink(account: BrevoAccount, request: Request, args: dict[str, str]) -> Response:
    """``PATCH /companies/link-unlink/{id}`` -> 204."""
    body = _json_body(request, "linkUnlinkCompany")
    company = account.crm.companies.get(args["id"])
    if company is None:
        raise BrevoError(404, "document_not_found", "Company not found")
    link = [i for i in body.get("linkContactIds") or [] if i in account.contacts]
    account.crm.link(company, link, list(body.get("unlinkContactIds") or []))
    return empty_response(204)


def delete_company(account: BrevoAccount, _request: Request, args: dict[str, str]) -> Response:
    """``DELETE /companies/{id}`` -> 204 (a company deleted by hand)."""
    if account.crm.companies.pop(args["id"], None) is None:
        raise BrevoError(404, "document_not_found", "Document not found")
    return empty_response(204)


ROUTES = (
    ("GET", r"/crm/attributes/companies", get_attributes),
    ("POST", r"/crm/attributes", create_attribute),
    ("POST", r"/companies/import", import_companies),
    ("GET", r"/companies", list_companies),
    ("PATCH", r"/companies/link-unlink/(?P<id>[^/]+)", link_unlink),
    ("GET", r"/companies/(?P<id>[0-9a-f]{24})", get_company),
    ("DELETE", r"/companies/(?P<id>[0-9a-f]{24})", delete_company),
)

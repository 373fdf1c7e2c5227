"""Brevo companies (Sales CRM): imports, look-ups, link changes and company attributes.

Every call here is in Brevo's hourly bucket of "other" calls (100 an hour on the general tier),
so companies travel in bulk: ``POST /companies/import`` creates and updates many in one call
(a ``company_id`` column updates that company), and is awaited through ``/processes``. Brevo
returns no ids from an import; created companies are found with ``GET /companies``, read by the
company attribute that holds the Mixpanel group.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from target_brevo_tajo.brevo.client import BrevoClient, BrevoError, ok_json
from target_brevo_tajo.brevo.imports import ContactImports

COMPANY_ID_COLUMN = "company_id"
#: Brevo's largest documented page of ``GET /companies`` is not published; 100 is safe.
COMPANIES_PAGE = 100
IMPORT_MAPPING = {
    "link_entities": False,
    "unlink_entities": False,
    "update_existing_records": True,
    "unset_empty_attributes": False,
}


def companies_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    """The import file: a header of attribute internal names, one row per company (csv module)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


class BrevoCompanies:
    """The companies endpoints, spending the hourly budget sparingly."""

    def __init__(self, client: BrevoClient, imports: ContactImports) -> None:
        self._client = client
        self._imports = imports

    def attributes(self) -> list[dict[str, Any]]:
        """The account's company attributes (``internalName``, ``label``, ``attributeTypeName``)."""
        response = self._client.request("GET", "/crm/attributes/companies")
        if response.status_code >= 300:
            ok_json(response)  # raises, naming the call
        body = response.json()
        return body if isinstance(body, list) else []

    def create_attribute(self, label: str, attribute_type: str) -> None:
        """Create a company attribute (Brevo derives its internal name from the label)."""
        body = {"label": label, "attributeType": attribute_type, "objectType": "companies"}
        self._client.call("POST", "/crm/attributes", json=body)

    def import_rows(
        self, columns: list[str], rows: list[dict[str, Any]], *, link_entities: bool = False
    ) -> dict[str, Any]:
        """One ``POST /companies/import`` of ``rows``, awaited; returns the completed process.

        ``link_entities`` links the contacts of the ``associated_contact`` column (Brevo
        contact ids, comma-separated) to the row's company, keeping its other links.
        """
        files = {"file": ("companies.csv", companies_csv(columns, rows), "text/csv")}
        mapping = {**IMPORT_MAPPING, "link_entities": link_entities}
        started = self._client.call(
            "POST", "/companies/import", files=files, data={"mapping": json.dumps(mapping)}
        )
        if "processId" not in started:
            msg = f"Brevo answered POST /companies/import without a processId: {started}"
            raise BrevoError(msg)
        return self._imports.wait(int(started["processId"]))

    def pages(self, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """``GET /companies`` page by page (``page`` counts from 1), oldest first."""
        page = 1
        while True:
            query = {**(params or {}), "page": page, "limit": COMPANIES_PAGE, "sort": "asc"}
            items = self._client.call("GET", "/companies", params=query).get("items") or []
            yield items
            if len(items) < COMPANIES_PAGE:
                return
            page += 1

    def link_unlink(self, company_id: str, link: list[int], unlink: list[int]) -> None:
        """Link and unlink contacts (numeric Brevo ids) without touching the company's others."""
        body: dict[str, Any] = {}
        if link:
            body["linkContactIds"] = link
        if unlink:
            body["unlinkContactIds"] = unlink
        response = self._client.request("PATCH", f"/companies/link-unlink/{company_id}", json=body)
        ok_json(response)

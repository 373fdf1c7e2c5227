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

from target_brevo_tajo.brevo.client import BrevoClient, BrevoError, CallInDoubt, ok_json
from target_brevo_tajo.contacts.imports import ContactImports

COMPANY_ID_COLUMN = "company_id"
#: ``GET /companies`` pages: the spec (2025 and 2026 copies) sets no largest ``limit``; 1000 is
#: the largest page any Brevo v3 listing documents (``GET /contacts``). Every page is a call of
#: the hourly budget, so the fewer the better; a smaller cap Brevo may apply is found by paging.
COMPANIES_PAGE = 1000
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


class ImportRefused(BrevoError):
    """Brevo answered ``POST /companies/import`` with a refusal: it made nothing of it."""


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
        """Create a company attribute (Brevo derives its internal name from the label).

        After an answer that never came, the attributes are read before it is created again.
        """
        body = {"label": label, "attributeType": attribute_type, "objectType": "companies"}
        try:
            self._client.call("POST", "/crm/attributes", json=body)
        except CallInDoubt:
            if not any(item.get("label") == label for item in self.attributes()):
                self._client.call("POST", "/crm/attributes", json=body)

    def import_rows(
        self,
        columns: list[str],
        rows: list[dict[str, Any]],
        *,
        link_entities: bool = False,
        creates: bool = True,
    ) -> dict[str, Any]:
        """One ``POST /companies/import`` of ``rows``, awaited; returns the completed process.

        ``link_entities`` links the contacts of the ``associated_contact`` column (Brevo
        contact ids, comma-separated) to the row's company, keeping its other links.
        An import that ``creates`` companies is never resent blindly: when its answer is lost
        it raises :class:`CallInDoubt` (rows that all name a ``company_id`` may be resent).
        """
        files = {"file": ("companies.csv", companies_csv(columns, rows), "text/csv")}
        mapping = {**IMPORT_MAPPING, "link_entities": link_entities}
        response = self._client.request(
            "POST",
            "/companies/import",
            files=files,
            data={"mapping": json.dumps(mapping)},
            idempotent=not creates,
        )
        try:
            started = ok_json(response)
        except BrevoError as exc:
            raise ImportRefused(str(exc)) from exc
        if "processId" not in started:
            msg = f"Brevo answered POST /companies/import without a processId: {started}"
            raise BrevoError(msg)
        return self._imports.wait(int(started["processId"]))

    def with_group(
        self, attribute: str, value: str, created_since: str
    ) -> Iterator[list[dict[str, Any]]]:
        """``GET /companies`` filtered by one attribute value (and creation time), page by page.

        The filter key is ``filters[attributes.<name>]``, the wire form brevo-node v6 sends
        (its release notes say the spec's JSON ``filters`` is silently ignored). Callers still
        match each item's value, so a filter Brevo ignores costs pages, not wrong answers, and
        ``createdSince`` bounds those pages.
        """
        params = {f"filters[attributes.{attribute}]": value, "createdSince": created_since}
        return self.pages(params)

    def pages(
        self, params: dict[str, Any] | None = None, first_page: int = 1
    ) -> Iterator[list[dict[str, Any]]]:
        """``GET /companies`` page by page (``page`` counts from 1), oldest first.

        With no documented largest page, a first page shorter than asked is either the last or
        Brevo's own cap: the next page tells (empty: the end), and a cap becomes the page size.
        ``first_page`` resumes a listing whose earlier pages were read already.
        """
        page, size, size_known = first_page, COMPANIES_PAGE, False
        while True:
            query = {**(params or {}), "page": page, "limit": COMPANIES_PAGE, "sort": "asc"}
            items = self._client.call("GET", "/companies", params=query).get("items") or []
            if not items:
                return
            yield items
            if len(items) >= size:
                size_known = True
            elif size_known:
                return
            else:
                size, size_known = len(items), True
            page += 1

    def linked_contacts(self, company_ids: set[str]) -> dict[str, set[int]]:
        """The contacts Brevo links to each of these companies (those it still lists).

        Read from ``GET /companies`` pages (each item carries ``linkedContactsIds``), stopping
        once every company is seen: a page of many companies costs one call of the hourly
        budget, where ``GET /companies/{id}`` would cost one per company.
        """
        found: dict[str, set[int]] = {}
        for page in self.pages():
            for item in page:
                if str(item.get("id")) in company_ids:
                    found[str(item["id"])] = {int(i) for i in item.get("linkedContactsIds") or []}
            if len(found) == len(company_ids):
                break
        return found

    def linked_contacts_of(self, company_id: str) -> set[int] | None:
        """The contacts Brevo links to one company (``GET /companies/{id}``); None if deleted."""
        response = self._client.request("GET", f"/companies/{company_id}")
        if response.status_code == 404:
            return None
        return {int(i) for i in ok_json(response).get("linkedContactsIds") or []}

    def link_unlink(self, company_id: str, link: list[int], unlink: list[int]) -> None:
        """Link and unlink contacts (numeric Brevo ids) without touching the company's others."""
        body: dict[str, Any] = {}
        if link:
            body["linkContactIds"] = link
        if unlink:
            body["unlinkContactIds"] = unlink
        response = self._client.request("PATCH", f"/companies/link-unlink/{company_id}", json=body)
        ok_json(response)

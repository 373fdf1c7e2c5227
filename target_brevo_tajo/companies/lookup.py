"""Finding the companies Brevo holds for Mixpanel groups, and reporting duplicates.

Brevo companies have no external id: a company is found by the company attribute holding its
Mixpanel group, either by listing the companies created since an import or one filtered call
per group. Several companies holding one group (duplicates an earlier run made) are reported,
never deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from target_brevo_tajo.companies.api import COMPANIES_PAGE, BrevoCompanies
from target_brevo_tajo.companies.attributes import CompanyAttributes
from target_brevo_tajo.companies.ledger import CompanyLedger
from target_brevo_tajo.companies.rows import group_value
from target_brevo_tajo.report import CompaniesReport

#: Brevo's clock may run behind ours: created companies are looked for from a little earlier.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: Groups in doubt up to this many are looked up one filtered call each; more (and an answered
#: import's), by one listing of the companies created since the import (a call per 1000).
FILTERED_LOOKUPS = 3


@dataclass
class _Listing:
    """How many pages of one ``createdSince`` listing this run read in full.

    Its companies come oldest first, and an import's are created after every company read
    before it left: the next look resumes at the first page not read in full.
    """

    full_pages: int = 0


class CompanyLookup:
    """Maps Mixpanel group values to the Brevo companies holding them."""

    def __init__(
        self,
        companies: BrevoCompanies,
        ledger: CompanyLedger,
        attributes: CompanyAttributes,
        report: CompaniesReport,
    ) -> None:
        self._companies = companies
        self._ledger = ledger
        self._attributes = attributes
        self._report = report
        self._listings: dict[str, _Listing] = {}  # createdSince -> what was read of it

    def look_up(
        self, group_attribute: str, wanted: set[str], since: dt.datetime, *, to_the_end: bool
    ) -> dict[str, str]:
        """The Brevo ids of the companies created since ``since`` holding these group values.

        The oldest company of a value is its own; any other is a duplicate, reported. Just
        after an answered import the listing stops once every value is found (each page is a
        call of the hourly budget), and the next import's look resumes where this one stopped
        (:class:`_Listing`); ``to_the_end`` reads on, for what a lost answer may have made twice.
        """
        if not wanted:
            return {}
        created_since = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if to_the_end:
            if len(wanted) <= FILTERED_LOOKUPS:
                listings = [
                    self._companies.with_group(group_attribute, value, created_since)
                    for value in sorted(wanted)
                ]
            else:
                listings = [self._companies.pages({"createdSince": created_since})]
            holders: dict[str, list[str]] = {}
            for pages in listings:
                for page in pages:
                    _hold(holders, page, group_attribute)
            return self._owners({v: c for v, c in holders.items() if v in wanted}, {})
        listing = self._listings.setdefault(created_since, _Listing())
        found = self._resume(listing, group_attribute, wanted, created_since)
        if len(found) < len(wanted) and listing.full_pages:  # a company deleted shifted pages
            self._listings[created_since] = listing = _Listing()
            found = self._resume(listing, group_attribute, wanted, created_since)
        return self._owners(found, {})

    def _resume(
        self, listing: _Listing, group_attribute: str, wanted: set[str], created_since: str
    ) -> dict[str, list[str]]:
        """Read on from the listing's first page not read in full, until every value is held."""
        holders: dict[str, list[str]] = {}
        params = {"createdSince": created_since}
        for page in self._companies.pages(params, listing.full_pages + 1):
            _hold(holders, page, group_attribute)
            if len(page) >= COMPANIES_PAGE:  # (a Brevo paging by fewer: read from page 1)
                listing.full_pages += 1
            if wanted <= holders.keys():
                break
        return {value: holders[value] for value in wanted if value in holders}

    def _owners(self, holders: dict[str, list[str]], mapped: dict[str, str]) -> dict[str, str]:
        """Each group value's own company; the others holding it are reported as duplicates.

        Its own is the one the ledger maps, else the oldest (``holders`` lists oldest first).
        Duplicates are never deleted: which one a user relies on is not the target's to guess.
        """
        owners = {}
        for value, company_ids in holders.items():
            owner = mapped.get(value)
            owners[value] = owner if owner in company_ids else company_ids[0]
            extra = {c for c in company_ids if c != owners[value]}
            if extra:
                self._report.duplicates.setdefault(value, set()).update(extra)
        return owners

    def listed(self) -> dict[str, str]:
        """Every company in the account: Brevo id -> its Mixpanel group attribute value.

        Two companies holding one group value (an earlier run's duplicates) are reported.
        """
        group_attribute = self._attributes.group_attribute()
        listed = {
            str(item.get("id")): str((item.get("attributes") or {}).get(group_attribute) or "")
            for page in self._companies.pages()
            for item in page
        }
        holders: dict[str, list[str]] = {}
        for company_id, value in listed.items():
            if value:
                holders.setdefault(value, []).append(company_id)
        mapped = {
            group_value(key, group_id): company.company_id
            for key in self._ledger.group_keys()
            for group_id, company in self._ledger.companies(key).items()
        }
        self._owners(holders, mapped)
        return listed


def _hold(holders: dict[str, list[str]], page: list[dict[str, Any]], group_attribute: str) -> None:
    """Add a page's companies to ``holders`` (group value -> company ids, oldest first)."""
    for item in page:
        value = str((item.get("attributes") or {}).get(group_attribute) or "")
        company_id = str(item["id"])
        if value and company_id not in holders.setdefault(value, []):
            holders[value].append(company_id)

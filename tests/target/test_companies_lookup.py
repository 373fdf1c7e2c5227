"""Companies an import created are found in one listing per run, each page read once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from target_brevo_tajo.companies.api import COMPANIES_PAGE
from target_brevo_tajo.companies.lookup import CompanyLookup
from target_brevo_tajo.report import CompaniesReport

SINCE = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


class Listing:
    """``GET /companies`` oldest first, in pages of 1000, counting the pages read."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.pages_read: list[int] = []
        self.created = 0

    def create(self, *values: str) -> None:
        for value in values:
            self.items.append({"id": f"{self.created:024x}", "attributes": {"group": value}})
            self.created += 1

    def pages(self, _params: dict[str, Any], first_page: int = 1):
        page = first_page
        while True:
            self.pages_read.append(page)  # a call, even when the page is empty
            items = self.items[(page - 1) * COMPANIES_PAGE : page * COMPANIES_PAGE]
            if not items:
                return
            yield items
            page += 1


def test_a_look_resumes_at_the_first_page_not_read_in_full():
    listing = Listing()
    lookup = CompanyLookup(listing, None, None, CompaniesReport())  # type: ignore[arg-type]
    listing.create(*(f"a-{n}" for n in range(1000)))
    lookup.look_up("group", {f"a-{n}" for n in range(1000)}, SINCE, to_the_end=False)
    listing.create(*(f"b-{n}" for n in range(500)))

    found = lookup.look_up("group", {"b-0", "b-499"}, SINCE, to_the_end=False)

    assert found == {"b-0": f"{1000:024x}", "b-499": f"{1499:024x}"}
    assert listing.pages_read == [1, 2]


def test_a_company_deleted_before_the_next_import_makes_the_look_read_from_the_first_page():
    listing = Listing()
    lookup = CompanyLookup(listing, None, None, CompaniesReport())  # type: ignore[arg-type]
    listing.create(*(f"a-{n}" for n in range(1000)))
    lookup.look_up("group", {"a-0"}, SINCE, to_the_end=False)
    del listing.items[5]  # deleted by hand: the next company is on page 1 now
    listing.create("b-0")

    found = lookup.look_up("group", {"b-0"}, SINCE, to_the_end=False)

    assert found == {"b-0": f"{1000:024x}"}
    assert listing.pages_read == [1, 2, 1]  # page 2 came empty: read again from the first

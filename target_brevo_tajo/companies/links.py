"""Contacts linked to companies by difference, and the links read back and repaired.

Each company's links move by the difference between the users whose profile names the group
and the links last sent: additions travel in one import (``associated_contact``), removals
through ``link-unlink``. Brevo documents no separator for several contact ids in one
``associated_contact`` cell: the first import's answer is checked on one company, and a
separator that linked nothing is replaced by the next before any other import leaves. Then the
companies whose links moved are read back and any difference is repaired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from target_brevo_tajo.brevo import BrevoClient, BrevoError
from target_brevo_tajo.companies.api import COMPANY_ID_COLUMN, BrevoCompanies
from target_brevo_tajo.companies.imports import IMPORT_CHUNK
from target_brevo_tajo.companies.ledger import CompanyLedger
from target_brevo_tajo.contacts.brevo_ids import find_contact_ids
from target_brevo_tajo.report import CompaniesReport
from target_brevo_tajo.settings import Settings

ASSOCIATED_CONTACT_COLUMN = "associated_contact"
#: The separators tried between the contact ids of one ``associated_contact`` cell, in order
#: (Brevo documents none): ``;`` first, as a live run saw cells joined by ``,`` link nothing.
SEPARATORS = (";", ",")

logger = logging.getLogger("target-brevo-tajo")


@dataclass(frozen=True)
class MovedLinks:
    """A company whose links this run moved: its group, the contact ids it unlinked and added.

    Additions reach the ledger only once read back (or repaired): a run stopped before that
    sends them again, which Brevo takes as a no-op, rather than never.
    """

    group_key: str
    group_id: str
    unlinked: set[int]
    added: dict[str, int]  # distinct id -> Brevo contact id


class MemberLinks:
    """Moves the links of each group's company and checks them against what Brevo holds."""

    def __init__(
        self,
        *,
        client: BrevoClient,
        companies: BrevoCompanies,
        ledger: CompanyLedger,
        settings: Settings,
        report: CompaniesReport,
    ) -> None:
        self._client = client
        self._companies = companies
        self._ledger = ledger
        self._settings = settings
        self._report = report
        self._separator = SEPARATORS[0]
        self._separator_checked = False  # once a run, on the first company given several ids

    def move(self, group_key: str) -> dict[str, MovedLinks]:
        """Unlink the members who left, import the links of those who joined; returns the moved.

        A dry run only counts what the real run would add, remove and then read back.
        """
        companies = self._ledger.companies(group_key)
        members, links = self._ledger.members(group_key), self._ledger.links(group_key)
        changes = {
            group_id: (members.get(group_id, set()) - links.get(group_id, set()),
                       links.get(group_id, set()) - members.get(group_id, set()))
            for group_id in companies
        }  # fmt: skip
        changes = {g: (add, remove) for g, (add, remove) in changes.items() if add or remove}
        if not changes:
            return {}
        if self._settings.dry_run:  # the plan: what the real run would add and then read back
            for group_id, (add, remove) in changes.items():
                self._report.links_added += len(add)
                self._report.links_removed += len(remove)
                self._report.links_verified += len(members.get(group_id, set()))
            return {}
        ids = self._contact_ids({d for add, remove in changes.values() for d in add | remove})
        additions = []
        moved: dict[str, MovedLinks] = {}
        for group_id, (add, remove) in sorted(changes.items()):
            company_id = companies[group_id].company_id
            unlink = sorted(ids[d] for d in remove if d in ids)
            added = {d: ids[d] for d in add if d in ids}
            moved[company_id] = MovedLinks(group_key, group_id, set(unlink), added)
            if unlink:
                self._companies.link_unlink(company_id, [], unlink)
            self._ledger.record_links(group_key, group_id, [], remove)
            self._report.links_removed += len(remove)
            if added:
                additions.append((company_id, sorted(added.values())))
        self._import_additions(additions)
        return moved

    def _import_additions(self, additions: list[tuple[str, list[int]]]) -> None:
        """Send the added links (company id, contact ids) in imports of ``associated_contact``."""
        for start in range(0, len(additions), IMPORT_CHUNK):
            chunk = additions[start : start + IMPORT_CHUNK]
            self._send(chunk)
            self._report.links_added += sum(len(link) for _, link in chunk)
            if not self._separator_checked:
                self._check_separator(chunk)

    def _send(self, additions: list[tuple[str, list[int]]]) -> None:
        """One import of these links, each company's ids in one cell joined by the separator."""
        rows = [
            {COMPANY_ID_COLUMN: company_id,
             ASSOCIATED_CONTACT_COLUMN: self._separator.join(map(str, link))}
            for company_id, link in additions
        ]  # fmt: skip
        self._companies.import_rows(
            [COMPANY_ID_COLUMN, ASSOCIATED_CONTACT_COLUMN], rows, link_entities=True, creates=False
        )
        self._report.imports += 1

    def _check_separator(self, chunk: list[tuple[str, list[int]]]) -> None:
        """Read one company this import gave several ids; none linked: resend with the next.

        A call (``GET /companies/{id}``) per separator tried, once a run: a separator Brevo does
        not split on links none of the cells of several ids, and the read back would then
        repair every company with a call of its own (10,000 companies: a hundred hours of the
        hourly budget). Resending adds links, so one already made stays as it is.
        """
        several = [(company_id, link) for company_id, link in chunk if len(link) > 1]
        if not several:
            return  # a cell of one id needs no separator and tells nothing
        company_id, link = several[0]
        for index, separator in enumerate(SEPARATORS[SEPARATORS.index(self._separator) :]):
            if index:
                self._separator = separator
                self._send(several)
            linked = self._companies.linked_contacts_of(company_id)
            if linked is None:
                return  # deleted by hand meanwhile: the next import's company tells
            self._separator_checked = True
            if len(linked & set(link)) > 1:
                logger.info("Brevo splits associated_contact cells on %r", separator)
                return
        logger.warning(
            "Brevo linked none of a company's associated_contact ids joined by any of %s: "
            "the read back repairs each company, one call each",
            " ".join(SEPARATORS),
        )

    def verify(self, moved: dict[str, MovedLinks]) -> None:
        """Compare Brevo's links of these companies with the ledger's; repair the differences.

        A link the ledger holds or this run added but Brevo lacks is linked again, and one this
        run removed but Brevo keeps is unlinked, each company in one ``link-unlink`` call
        (documented JSON) and only where needed. Links the target never made (added by hand in
        Brevo) are left alone. A company Brevo no longer lists, or whose repair it refuses,
        keeps its unconfirmed additions out of the ledger: the next run sends them again.
        """
        in_brevo = self._companies.linked_contacts(set(moved))
        keys = {m.group_key for m in moved.values()}
        links_by_key = {key: self._ledger.links(key) for key in keys}
        ids = self._ledger.brevo_ids(
            {d for m in moved.values() for d in links_by_key[m.group_key].get(m.group_id, ())}
        )
        for company_id, links in sorted(moved.items()):
            members = links_by_key[links.group_key].get(links.group_id, set())
            expected = {ids[d] for d in members if d in ids} | set(links.added.values())
            linked = in_brevo.get(company_id)
            if linked is None:  # deleted by hand meanwhile: a full refresh creates it again
                self._report.links_unverified += len(expected)
                continue
            missing, kept = expected - linked, links.unlinked & linked
            confirmed = list(links.added)
            if missing or kept:
                try:
                    self._companies.link_unlink(company_id, sorted(missing), sorted(kept))
                    self._report.links_repaired += len(missing) + len(kept)
                except BrevoError as exc:
                    logger.warning("Brevo refused to repair the links of company %s: %s",
                                   company_id, exc)  # fmt: skip
                    confirmed = [d for d, i in links.added.items() if i in linked]
                    self._report.links_unverified += len(missing)
                    expected &= linked
            self._ledger.record_links(links.group_key, links.group_id, confirmed, [])
            self._report.links_verified += len(expected)
        if self._report.links_repaired:
            logger.warning(
                "Brevo held %d company links otherwise than sent (an import's associated_contact "
                "column is not documented): repaired, one call per company",
                self._report.links_repaired,
            )

    def _contact_ids(self, distinct_ids: set[str]) -> dict[str, int]:
        """Numeric Brevo ids of these contacts: the ledger's, else found in bulk once and kept."""
        ids = self._ledger.brevo_ids(distinct_ids)
        looked_up = find_contact_ids(self._client, distinct_ids - set(ids))
        self._report.members_not_in_brevo += len(distinct_ids) - len(ids) - len(looked_up)
        self._ledger.record_brevo_ids(looked_up)
        return {**ids, **looked_up}

"""Mixpanel groups into Brevo companies, and contacts linked to them by difference.

Brevo companies have no external id and no upsert, and every companies call spends the hourly
budget of "other" calls (100 an hour on the general tier). So: the ledger maps each group to its
company and keeps a hash of what was sent (an unchanged group costs nothing); new and changed
companies go out in bulk imports (``company_id`` column = update), each awaited; the companies
an import created are then read back in pages, matched by the company attribute holding the
Mixpanel group. At the end of the run each company's links move by the difference between the
users whose profile names the group and the links last sent: additions travel in one import
(``associated_contact``), removals through ``link-unlink``. Once a ``sync_checkpoints`` record
confirms a group key's full refresh read to the end, the account's companies are listed once: a
company deleted by hand in Brevo is created again from that refresh's group profile.

An import that creates companies is not idempotent: its groups are recorded in the ledger as in
doubt before it leaves, and it is never resent blindly. When its answer never comes (lost, or the
run killed), the companies are looked up by the group attribute once the settle time has passed;
those found are mapped, only the missing ones are imported again. Several companies holding one
group (duplicates an earlier run made) are reported, never deleted.
"""

from __future__ import annotations

from typing import Any

from mixpanel_brevo_mapping import Mapping
from target_brevo_tajo.brevo import BrevoClient
from target_brevo_tajo.companies.api import BrevoCompanies
from target_brevo_tajo.companies.attributes import CompanyAttributes
from target_brevo_tajo.companies.imports import IMPORT_CHUNK, CompanyImports
from target_brevo_tajo.companies.ledger import CompanyLedger, SyncedCompany
from target_brevo_tajo.companies.links import MemberLinks, MovedLinks
from target_brevo_tajo.companies.lookup import CompanyLookup
from target_brevo_tajo.companies.recreate import DeletedCompanies
from target_brevo_tajo.companies.rows import CompanyRow, company_row
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings

#: How the group key of a routed stream's companies begins: ``route:<stream>``.
ROUTED = "route:"


class CompanyWriter:
    """Writes Mixpanel group profiles as Brevo companies and links their members."""

    def __init__(
        self,
        *,
        client: BrevoClient,
        companies: BrevoCompanies,
        ledger: CompanyLedger,
        mapping: Mapping,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._mapping = mapping
        self._settings = settings
        self._report = report.companies
        attributes = CompanyAttributes(companies, settings, report.companies)
        lookup = CompanyLookup(companies, ledger, attributes, report.companies)
        self._imports = CompanyImports(
            client=client,
            companies=companies,
            ledger=ledger,
            settings=settings,
            report=report.companies,
            attributes=attributes,
            lookup=lookup,
        )
        self._deleted = DeletedCompanies(
            ledger=ledger, report=report.companies, imports=self._imports, lookup=lookup
        )
        self._links = MemberLinks(
            client=client,
            companies=companies,
            ledger=ledger,
            settings=settings,
            report=report.companies,
        )
        self._group_keys: set[str] = set()  # group keys seen in this run's group records

    # Companies ----------------------------------------------------------------------------

    def note_group_key(self, group_key: str) -> None:
        """A group record of this key arrived: its members are recorded from now on.

        Known on arrival, not when the group batch drains: profiles that fill their batch and
        drain first would otherwise find no group key (without ``group_mapping``, the group
        records are the only place it is named) and the first run would link none of them.
        """
        self._group_keys.add(group_key)

    def write(self, records: list[dict[str, Any]]) -> None:
        """Create and update the companies of these group records; returns once Brevo has them."""
        calls = self._other_calls()
        by_key: dict[str, list[CompanyRow]] = {}
        for record in records:
            rules = self._mapping.company_group(str(record["group_key"]))
            if rules is None:
                self._report.skipped_unmapped += 1
                continue
            by_key.setdefault(rules.group_key, []).append(company_row(record, rules))
        for group_key, rows in by_key.items():
            self._group_keys.add(group_key)
            self._write_key(group_key, rows)
        self._report.calls += self._other_calls() - calls

    def write_rows(self, group_key: str, rows: list[CompanyRow]) -> None:
        """Create and update companies a routed stream made (``group_key``: ``route:<stream>``)."""
        calls = self._other_calls()
        self._write_key(group_key, rows)
        self._report.calls += self._other_calls() - calls

    def _write_key(self, group_key: str, rows: list[CompanyRow]) -> None:
        self._imports.settle_earlier(group_key)
        known = self._ledger.companies(group_key)
        self._deleted.remember(group_key, rows)
        changed = [row for row in rows if (c := known.get(row.group_id)) is None
                   or c.sent_hash != row.fingerprint()]  # fmt: skip
        self._report.unchanged += len(rows) - len(changed)
        if self._settings.dry_run:
            self._report.created += sum(1 for row in changed if row.group_id not in known)
            self._report.updated += sum(1 for row in changed if row.group_id in known)
            # Recorded in the dry run's copy of the ledger, under a made-up id for a new one.
            synced = {
                row.group_id: SyncedCompany(
                    known[row.group_id].company_id if row.group_id in known else "dry-run",
                    row.fingerprint(),
                )
                for row in changed
            }
            self._ledger.record_companies(group_key, synced)
            return
        for start in range(0, len(changed), IMPORT_CHUNK):
            self._deleted.import_or_recover(group_key, changed[start : start + IMPORT_CHUNK], known)

    def recreate_deleted(self, group_refreshes: dict[str, str]) -> None:
        """After a confirmed full refresh: create again the companies deleted by hand in Brevo.

        Only a refresh read to the end (``group_refreshes``: group key -> refresh id, from the
        ``sync_checkpoints`` records) holds every group's profile; the links of a recreated
        company are then sent again by :meth:`link_members`.
        """
        if self._settings.dry_run:
            return
        calls = self._other_calls()
        self._deleted.recreate(group_refreshes)
        self._report.calls += self._other_calls() - calls

    # Members ------------------------------------------------------------------------------

    def observe_members(self, profiles: list[dict[str, Any]]) -> None:
        """Remember which group each profile names (its member property), for the links."""
        for rules in self._mapping.company_groups(self._known_group_keys()):
            members = {}
            for record in profiles:
                value = (record.get("properties") or {}).get(rules.link_property)
                members[str(record["distinct_id"])] = (
                    str(value) if value not in (None, "") else None
                )
            self._ledger.set_members(rules.group_key, members)

    def _known_group_keys(self) -> list[str]:
        """Group keys that may make companies: this run's and, with group_mapping, its key."""
        # A routed stream's companies (``route:<stream>``) have no Mixpanel members to link.
        keys = {k for k in self._group_keys | self._ledger.group_keys() if not k.startswith(ROUTED)}
        if self._mapping.group_mapping is not None:
            keys.add(self._mapping.group_mapping.group_key)
        return sorted(keys)

    def link_members(self) -> None:
        """Move each company's links by the difference from what was last sent, then check them.

        Brevo documents no separator for several contact ids in one ``associated_contact`` cell
        (developers.brevo.com names the column only), so an import's links are never taken on
        trust: the companies whose links moved are read back and any difference is repaired.
        """
        calls = self._other_calls()
        moved: dict[str, MovedLinks] = {}
        for rules in self._mapping.company_groups(self._known_group_keys()):
            self._imports.settle_earlier(rules.group_key, wait=False)
            moved.update(self._links.move(rules.group_key))
        if moved:
            self._links.verify(moved)
        self._report.calls += self._other_calls() - calls

    def _other_calls(self) -> int:
        return self._client.budgets.buckets["other"].calls

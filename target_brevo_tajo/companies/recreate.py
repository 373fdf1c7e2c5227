"""Companies deleted by hand in Brevo: forgotten and created again.

A deleted company surfaces two ways: Brevo refuses an import that updates it, or it is missing
from the account's companies listed once a ``sync_checkpoints`` record confirms a group key's
full refresh read to the end; it is then created again from that refresh's group profile.
"""

from __future__ import annotations

import logging

from target_brevo_tajo.brevo import BrevoError, CallInDoubt
from target_brevo_tajo.companies.imports import IMPORT_CHUNK, CompanyImports
from target_brevo_tajo.companies.ledger import CompanyLedger, SyncedCompany
from target_brevo_tajo.companies.lookup import CompanyLookup
from target_brevo_tajo.companies.rows import CompanyRow
from target_brevo_tajo.report import CompaniesReport

logger = logging.getLogger("target-brevo-tajo")


class DeletedCompanies:
    """Creates again the companies of known groups that Brevo no longer holds."""

    def __init__(
        self,
        *,
        ledger: CompanyLedger,
        report: CompaniesReport,
        imports: CompanyImports,
        lookup: CompanyLookup,
    ) -> None:
        self._ledger = ledger
        self._report = report
        self._imports = imports
        self._lookup = lookup
        # This run's full-refresh rows by group key and group id: what recreates a deleted company.
        self._refreshed: dict[str, dict[str, CompanyRow]] = {}

    def remember(self, group_key: str, rows: list[CompanyRow]) -> None:
        """Keep this run's full-refresh rows of a key: a deleted company is made again from them."""
        refreshed = self._refreshed.setdefault(group_key, {})
        refreshed.update((row.group_id, row) for row in rows if row.full_refresh_id)

    def import_or_recover(
        self, group_key: str, rows: list[CompanyRow], known: dict[str, SyncedCompany]
    ) -> None:
        """Import; when Brevo refuses an import that updates companies, check they still exist.

        A company deleted by hand makes the update's ``company_id`` unknown, and Brevo refuses
        the import: without this, every later run would send the same import and fail again. So
        the account's companies are listed once: companies gone are forgotten and created anew,
        and a new company this import may already have made (a partly applied import) is
        updated, not made twice. With every company present the refusal stands.
        """
        try:
            self._imports.send(group_key, rows, known)
        except CallInDoubt:
            raise  # settled by the next run: recovering now could create its companies twice
        except BrevoError:
            if not any(row.group_id in known for row in rows):
                raise
            listed = self._lookup.listed()
            gone = [r.group_id for r in rows if r.group_id in known
                    and known[r.group_id].company_id not in listed]  # fmt: skip
            if not gone:
                raise
            logger.warning(
                "%d companies of %s were deleted in Brevo (e.g. group %s): created again",
                len(gone),
                group_key,
                gone[0],
            )
            self._ledger.forget_companies(group_key, gone)
            by_group_value = {value: company_id for company_id, value in listed.items()}
            known = {g: c for g, c in known.items() if g not in gone}
            for row in rows:
                if row.group_id not in known and row.group_value in by_group_value:
                    known[row.group_id] = SyncedCompany(by_group_value[row.group_value], "")
            self._report.recreated += len(gone)
            self._imports.send(group_key, rows, known)

    def recreate(self, group_refreshes: dict[str, str]) -> None:
        """After a confirmed full refresh: create again the companies deleted by hand in Brevo.

        Only a refresh read to the end (``group_refreshes``: group key -> refresh id, from the
        ``sync_checkpoints`` records) holds every group's profile, so only then are the account's
        companies listed (once per run) and each missing one imported anew; the links of a
        recreated company are then sent again by ``CompanyWriter.link_members``.
        """
        present: set[str] | None = None
        for group_key, refresh_id in sorted(group_refreshes.items()):
            created = self._imports.created.get(group_key, set())
            known = {g: c for g, c in self._ledger.companies(group_key).items() if g not in created}
            rows = self._refreshed.get(group_key, {})
            if not known:  # every company of the key was created by this very run
                continue
            if present is None:
                present = set(self._lookup.listed())
            gone = [group_id for group_id, c in known.items() if c.company_id not in present]
            if not gone:
                continue
            self._ledger.forget_companies(group_key, gone)
            again = [rows[g] for g in gone if g in rows and rows[g].full_refresh_id == refresh_id]
            for start in range(0, len(again), IMPORT_CHUNK):
                self._imports.send(group_key, again[start : start + IMPORT_CHUNK], {}, counted=True)
            self._report.recreated += len(again)
            logger.info(
                "%d companies of %s were deleted in Brevo: %d created again (the others are no "
                "longer in Mixpanel)",
                len(gone),
                group_key,
                len(again),
            )

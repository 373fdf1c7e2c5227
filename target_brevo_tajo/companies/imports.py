"""Imports of new and changed companies, and the imports in doubt (answer lost, run killed).

An import that creates companies is not idempotent: its groups are recorded in the ledger as in
doubt before it leaves, and it is never resent blindly. When its answer never comes (lost, or the
run killed), the companies are looked up by the group attribute once the settle time has passed;
those found are mapped, only the missing ones are imported again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from target_brevo_tajo.brevo import BrevoClient, BrevoError, CallInDoubt
from target_brevo_tajo.companies.api import COMPANY_ID_COLUMN, BrevoCompanies, ImportRefused
from target_brevo_tajo.companies.attributes import CompanyAttributes
from target_brevo_tajo.companies.ledger import CompanyInDoubt, CompanyLedger, SyncedCompany
from target_brevo_tajo.companies.lookup import CLOCK_SKEW, CompanyLookup
from target_brevo_tajo.companies.rows import GROUP_ATTRIBUTE_LABEL, CompanyRow, group_value
from target_brevo_tajo.contacts.attributes import AttributeType, ConversionError, to_brevo_value
from target_brevo_tajo.report import CompaniesReport
from target_brevo_tajo.settings import Settings

NAME_COLUMN = "name"
#: Companies per import: bounded so one failure costs one chunk, and a file stays small.
IMPORT_CHUNK = 1000

logger = logging.getLogger("target-brevo-tajo")


class CompanyImports:
    """Sends companies in awaited imports and maps those they create, even after a lost answer."""

    def __init__(
        self,
        *,
        client: BrevoClient,
        companies: BrevoCompanies,
        ledger: CompanyLedger,
        settings: Settings,
        report: CompaniesReport,
        attributes: CompanyAttributes,
        lookup: CompanyLookup,
    ) -> None:
        self._client = client
        self._companies = companies
        self._ledger = ledger
        self._settings = settings
        self._report = report
        self._attributes = attributes
        self._lookup = lookup
        self.created: dict[str, set[str]] = {}  # group ids whose company this run created
        self._settled_keys: set[str] = set()  # group keys whose earlier imports in doubt settled
        self._since: dt.datetime | None = None  # a little before this run's first import left

    def send(
        self,
        group_key: str,
        rows: list[CompanyRow],
        known: dict[str, SyncedCompany],
        *,
        counted: bool = False,
        after_doubt: bool = False,
    ) -> None:
        """One import of new and changed companies, awaited; created ones are then found.

        ``counted``: the rows were counted when they arrived (recreated at the end of the run).
        The groups it creates are recorded in doubt first; when its answer is lost, the
        companies it may have made are looked up and mapped, and only the rest is imported
        again, once (``after_doubt``: a second lost answer is left for the next run to settle).
        """
        group_attribute = self._attributes.group_attribute()
        columns, csv_rows = self._import_file(group_attribute, rows, known)
        # Every import of the run is looked for in one listing, since the first import left.
        self._since = self._since or dt.datetime.now(dt.timezone.utc) - CLOCK_SKEW
        created = [row for row in rows if row.group_id not in known]
        self._ledger.record_in_doubt(
            group_key, {row.group_id: row.fingerprint() for row in created}
        )
        self._report.imports += 1
        try:
            self._companies.import_rows(columns, csv_rows, creates=bool(created))
        except ImportRefused:
            self._ledger.clear_in_doubt(group_key, (row.group_id for row in created))
            raise
        except CallInDoubt as exc:
            if after_doubt:
                raise
            self._answer_lost(group_key, rows, known, exc, counted=counted)
            return
        self._map_created(group_key, rows, known, group_attribute, self._since, counted=counted)

    def _map_created(
        self,
        group_key: str,
        rows: list[CompanyRow],
        known: dict[str, SyncedCompany],
        group_attribute: str,
        since: dt.datetime,
        *,
        counted: bool,
    ) -> None:
        """After an answered import: find the companies it created and record every row sent."""
        created = [row for row in rows if row.group_id not in known]
        wanted = {row.group_value for row in created}
        found = self._lookup.look_up(group_attribute, wanted, since, to_the_end=False)
        missing = [row.group_id for row in created if row.group_value not in found]
        if missing:
            msg = (
                f"Brevo imported {len(created)} new companies of {group_key} but "
                f"GET /companies does not list {len(missing)} of them (e.g. {missing[0]}); rerun "
                "later: they are looked for again, not duplicated"
            )
            raise BrevoError(msg)
        synced = {
            row.group_id: SyncedCompany(
                found[row.group_value]
                if row.group_id not in known
                else known[row.group_id].company_id,
                row.fingerprint(),
            )
            for row in rows
        }
        self._ledger.record_companies(group_key, synced)  # and no longer in doubt
        self.created.setdefault(group_key, set()).update(row.group_id for row in created)
        if not counted:
            self._report.created += len(created)
            self._report.updated += len(rows) - len(created)

    def _answer_lost(
        self,
        group_key: str,
        rows: list[CompanyRow],
        known: dict[str, SyncedCompany],
        cause: CallInDoubt,
        *,
        counted: bool,
    ) -> None:
        """Its answer was lost: settle the import now, else leave it in doubt for the next run."""
        logger.warning(
            "The import of %d companies of %s got no answer (%s): they are looked up before "
            "any is imported again",
            sum(1 for row in rows if row.group_id not in known),
            group_key,
            cause,
        )
        try:
            self._import_rest(group_key, rows, known, counted=counted)
        except BrevoError as failure:
            msg = (
                f"{failure} (after an import of companies of {group_key} got no answer): "
                "rerun later; its companies are looked up first, not imported twice"
            )
            raise CallInDoubt(msg) from failure

    def _import_file(
        self, group_attribute: str, rows: list[CompanyRow], known: dict[str, SyncedCompany]
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The import's columns and rows: a ``company_id`` updates, typed values, no rejects."""
        columns = [COMPANY_ID_COLUMN, NAME_COLUMN, group_attribute]
        typed: dict[str, tuple[str, AttributeType] | None] = {}
        csv_rows = []
        for row in rows:
            line: dict[str, Any] = {NAME_COLUMN: row.name, group_attribute: row.group_value}
            if row.group_id in known:
                line[COMPANY_ID_COLUMN] = known[row.group_id].company_id
            for label, value in row.values.items():
                if label not in typed:
                    typed[label] = self._attributes.column(label, value)
                    if typed[label] is not None:
                        columns.append(typed[label][0])  # type: ignore[index]
                column = typed[label]
                if column is None:
                    continue
                try:
                    line[column[0]] = _csv_value(to_brevo_value(value, column[1]))
                except ConversionError as exc:
                    self._report.values_rejected[f"{label}: {exc.kind}"] += 1
            csv_rows.append(line)
        return columns, csv_rows

    def _import_rest(
        self,
        group_key: str,
        rows: list[CompanyRow],
        known: dict[str, SyncedCompany],
        *,
        counted: bool,
    ) -> None:
        """After this run's import got no answer: map what Brevo made, import the rest once."""
        found = self._settle(group_key, self._ledger.in_doubt(group_key))
        self.created.setdefault(group_key, set()).update(found)
        if not counted:
            self._report.created += len(found)
        rest = [row for row in rows if row.group_id not in found]
        if rest:
            self.send(group_key, rest, known, counted=counted, after_doubt=True)

    def settle_earlier(self, group_key: str, *, wait: bool = True) -> None:
        """Settle the imports of this key an earlier run left in doubt (killed, answer lost).

        Once per run and key, before anything of the key is imported: the companies they may
        have made are found and mapped (not created again), the others forgotten, so imported
        anew. An import recorded less than its answer could take ago may be another run's, still
        going: ``wait=False`` (before moving links, which import no company) leaves it to that
        run instead of waiting for it, so a cohorts or profiles run started while a groups run
        imports does not wait for its answer.
        """
        if group_key in self._settled_keys:  # a dry run too: its ledger is a private copy
            return
        waiting = self._ledger.in_doubt(group_key)
        if wait:
            self._settled_keys.add(group_key)
        else:
            answered_by = dt.datetime.now(dt.timezone.utc) - dt.timedelta(
                seconds=self._settings.events_settle_seconds
                + self._settings.request_timeout_seconds
            )
            waiting = {g: e for g, e in waiting.items() if e.recorded_at <= answered_by}
        if not waiting or (
            self._settings.dry_run and not self._attributes.has(GROUP_ATTRIBUTE_LABEL)
        ):
            return  # (a dry run creates no attribute to look with: the real run will)
        logger.warning(
            "An earlier run's import of %d companies of %s got no answer: looking them up",
            len(waiting),
            group_key,
        )
        # A live worker's import may still be on its way: wait as long as its answer could take.
        self._report.found_not_created += len(
            self._settle(group_key, waiting, self._settings.request_timeout_seconds)
        )

    def _settle(
        self, group_key: str, waiting: dict[str, CompanyInDoubt], answer_seconds: float = 0.0
    ) -> set[str]:
        """Map the companies of ``waiting`` groups Brevo holds, forget the others; returns found.

        Brevo applies an import as a process: its companies are looked for only once the settle
        time (``events_settle_seconds``, and ``answer_seconds`` for a call maybe still running)
        has passed since the import was recorded, and those not found once more after another
        settle time: a company is created again only after two looks missed it.
        """
        recorded = min(entry.recorded_at for entry in waiting.values())
        age = (dt.datetime.now(dt.timezone.utc) - recorded).total_seconds()
        wait = self._settings.events_settle_seconds + answer_seconds - age
        if wait > 0:
            self._client.sleep(wait)
        values = {group_value(group_key, group_id): group_id for group_id in waiting}
        group_attribute = self._attributes.group_attribute()
        since = recorded - CLOCK_SKEW
        found = self._lookup.look_up(group_attribute, set(values), since, to_the_end=True)
        if len(found) < len(values):  # Brevo may still be applying it: once more, then create
            self._client.sleep(self._settings.events_settle_seconds)
            missing = set(values) - set(found)
            found.update(self._lookup.look_up(group_attribute, missing, since, to_the_end=True))
        synced = {
            values[value]: SyncedCompany(company_id, waiting[values[value]].sent_hash)
            for value, company_id in found.items()
        }
        self._ledger.record_companies(group_key, synced)
        self._ledger.clear_in_doubt(group_key, set(waiting) - set(synced))
        logger.warning(
            "Of %d companies of %s in doubt, Brevo held %d (mapped, not created again); the %d "
            "others are imported",
            len(waiting),
            group_key,
            len(synced),
            len(waiting) - len(synced),
        )
        return set(synced)


def _csv_value(value: Any) -> str:
    """A typed value as import text: booleans lower-case, lists joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)

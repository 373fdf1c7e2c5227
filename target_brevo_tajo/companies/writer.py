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

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from mixpanel_brevo_mapping import DEFAULT_COMPANY_NAME_PROPERTY, GroupMapping, Mapping
from target_brevo_tajo.brevo import BrevoClient, BrevoError, CallInDoubt
from target_brevo_tajo.companies.api import COMPANY_ID_COLUMN, BrevoCompanies, ImportRefused
from target_brevo_tajo.companies.ledger import CompanyInDoubt, CompanyLedger, SyncedCompany
from target_brevo_tajo.contacts.attributes import (
    AttributeType,
    ConversionError,
    infer_type,
    to_brevo_value,
)
from target_brevo_tajo.contacts.brevo_ids import find_contact_ids
from target_brevo_tajo.report import CompaniesReport, SyncReport
from target_brevo_tajo.settings import Settings

#: The company attribute holding ``<group key>:<group id>``: how an imported company is found.
GROUP_ATTRIBUTE_LABEL = "Mixpanel group"
NAME_COLUMN = "name"
ASSOCIATED_CONTACT_COLUMN = "associated_contact"
#: Companies per import: bounded so one failure costs one chunk, and a file stays small.
IMPORT_CHUNK = 1000
#: Brevo's clock may run behind ours: created companies are looked for from a little earlier.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: Groups in doubt up to this many are looked up one filtered call each; more (and an answered
#: import's), by one listing of the companies created since the import (a call per 1000).
FILTERED_LOOKUPS = 3
# Company attribute types (Brevo CRM) for the contact types ``infer_type`` gives.
CRM_TYPES = {"float": "number", "boolean": "boolean", "date": "date"}
CONTACT_TYPES = {"number": "float", "boolean": "boolean", "date": "date"}

logger = logging.getLogger("target-brevo-tajo")


@dataclass(frozen=True)
class _MovedLinks:
    """A company whose links this run moved: its group, the contact ids it unlinked and added.

    Additions reach the ledger only once read back (or repaired): a run stopped before that
    sends them again, which Brevo takes as a no-op, rather than never.
    """

    group_key: str
    group_id: str
    unlinked: set[int]
    added: dict[str, int]  # distinct id -> Brevo contact id


def group_value(group_key: str, group_id: str) -> str:
    """The value of the Mixpanel group attribute a group's company holds."""
    return f"{group_key}:{group_id}"


@dataclass
class CompanyRow:
    """One group profile as the company Brevo should hold."""

    group_key: str
    group_id: str
    name: str
    values: dict[str, Any]  # company attribute label -> raw Mixpanel value
    full_refresh_id: str | None

    @property
    def group_value(self) -> str:
        """The value of the Mixpanel group attribute: key and id, so two keys never collide."""
        return group_value(self.group_key, self.group_id)

    def fingerprint(self) -> str:
        """Hash of everything a change of which must reach Brevo."""
        text = json.dumps({"name": self.name, "values": self.values}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


class CompanyAttributes:
    """The account's company attributes, read only when a company must be sent."""

    def __init__(
        self, companies: BrevoCompanies, settings: Settings, report: CompaniesReport
    ) -> None:
        self._companies = companies
        self._settings = settings
        self._report = report
        self._by_label: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._by_label is None:
            listed = self._companies.attributes()
            self._by_label = {}
            for item in listed:
                for key in (item.get("label"), item.get("internalName")):
                    if key:
                        self._by_label[str(key)] = item
        return self._by_label

    def has(self, label: str) -> bool:
        """Whether the account has this company attribute (label or internal name)."""
        return label in self._load()

    def group_attribute(self) -> str:
        """The internal name of the Mixpanel group attribute, created when the account lacks it."""
        found = self._load().get(GROUP_ATTRIBUTE_LABEL)
        if found is None:
            self._companies.create_attribute(GROUP_ATTRIBUTE_LABEL, "text")
            self._report.created_attributes.append(GROUP_ATTRIBUTE_LABEL)
            self._by_label = None
            found = self._load().get(GROUP_ATTRIBUTE_LABEL)
        if found is None:
            msg = f"Brevo did not list the company attribute {GROUP_ATTRIBUTE_LABEL!r} it created"
            raise BrevoError(msg)
        return str(found["internalName"])

    def column(self, label: str, sample: Any) -> tuple[str, AttributeType] | None:
        """The import column and type of a mapped attribute; None when it is left out."""
        found = self._load().get(label)
        if found is None and self._settings.create_missing_attributes:
            kind = CRM_TYPES.get(infer_type(sample), "text")
            self._companies.create_attribute(label, kind)
            self._report.created_attributes.append(f"{label} ({kind})")
            self._by_label = None
            found = self._load().get(label)
        if found is None:
            if label not in self._report.missing_attributes:
                self._report.missing_attributes.append(label)
                logger.warning(
                    "Brevo has no company attribute %s: its values are left out (create it in "
                    "Brevo, or set create_missing_attributes: true)",
                    label,
                )
            return None
        kind = CONTACT_TYPES.get(str(found.get("attributeTypeName")), "text")
        return str(found["internalName"]), AttributeType(name=label, type=kind)


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
        self._companies = companies
        self._ledger = ledger
        self._mapping = mapping
        self._settings = settings
        self._run_report = report
        self._report = report.companies
        self.attributes = CompanyAttributes(companies, settings, report.companies)
        self._group_keys: set[str] = set()  # group keys seen in this run's group records
        # This run's full-refresh rows by group key and group id: what recreates a deleted company.
        self._refreshed: dict[str, dict[str, CompanyRow]] = {}
        self._created: dict[str, set[str]] = {}  # group ids whose company this run created
        self._settled_keys: set[str] = set()  # group keys whose earlier imports in doubt settled

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
            by_key.setdefault(rules.group_key, []).append(self._to_row(record, rules))
        for group_key, rows in by_key.items():
            self._group_keys.add(group_key)
            self._write_key(group_key, rows)
        self._report.calls += self._other_calls() - calls

    def _to_row(self, record: dict[str, Any], rules: GroupMapping) -> CompanyRow:
        properties = record.get("properties") or {}
        group_id = str(record["group_id"])
        name = properties.get(rules.name) or properties.get(DEFAULT_COMPANY_NAME_PROPERTY)
        values = {
            label: properties[source]
            for source, label in rules.attributes.items()
            if properties.get(source) not in (None, "")
        }
        return CompanyRow(
            group_key=rules.group_key,
            group_id=group_id,
            name=str(name) if name not in (None, "") else group_id,
            values=values,
            full_refresh_id=record.get("full_refresh_id"),
        )

    def _write_key(self, group_key: str, rows: list[CompanyRow]) -> None:
        self._settle_earlier(group_key)
        known = self._ledger.companies(group_key)
        refreshed = self._refreshed.setdefault(group_key, {})
        refreshed.update((row.group_id, row) for row in rows if row.full_refresh_id)
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
            self._import_or_recover(group_key, changed[start : start + IMPORT_CHUNK], known)

    def _import_or_recover(
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
            self._import(group_key, rows, known)
        except CallInDoubt:
            raise  # settled by the next run: recovering now could create its companies twice
        except BrevoError:
            if not any(row.group_id in known for row in rows):
                raise
            listed = self._listed()
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
            self._import(group_key, rows, known)

    def _listed(self) -> dict[str, str]:
        """Every company in the account: Brevo id -> its Mixpanel group attribute value.

        Two companies holding one group value (an earlier run's duplicates) are reported.
        """
        group_attribute = self.attributes.group_attribute()
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

    def recreate_deleted(self, group_refreshes: dict[str, str]) -> None:
        """After a confirmed full refresh: create again the companies deleted by hand in Brevo.

        Only a refresh read to the end (``group_refreshes``: group key -> refresh id, from the
        ``sync_checkpoints`` records) holds every group's profile, so only then are the account's
        companies listed (once per run) and each missing one imported anew; the links of a
        recreated company are then sent again by :meth:`link_members`.
        """
        if self._settings.dry_run:
            return
        calls = self._other_calls()
        present: set[str] | None = None
        for group_key, refresh_id in sorted(group_refreshes.items()):
            created = self._created.get(group_key, set())
            known = {g: c for g, c in self._ledger.companies(group_key).items() if g not in created}
            rows = self._refreshed.get(group_key, {})
            if not known:  # every company of the key was created by this very run
                continue
            if present is None:
                present = set(self._listed())
            gone = [group_id for group_id, c in known.items() if c.company_id not in present]
            if not gone:
                continue
            self._ledger.forget_companies(group_key, gone)
            again = [rows[g] for g in gone if g in rows and rows[g].full_refresh_id == refresh_id]
            for start in range(0, len(again), IMPORT_CHUNK):
                self._import(group_key, again[start : start + IMPORT_CHUNK], {}, counted=True)
            self._report.recreated += len(again)
            logger.info(
                "%d companies of %s were deleted in Brevo: %d created again (the others are no "
                "longer in Mixpanel)",
                len(gone),
                group_key,
                len(again),
            )
        self._report.calls += self._other_calls() - calls

    def _import(
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
        group_attribute = self.attributes.group_attribute()
        columns, csv_rows = self._import_file(group_attribute, rows, known)
        started = dt.datetime.now(dt.timezone.utc) - CLOCK_SKEW
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
            logger.warning(
                "The import of %d companies of %s got no answer (%s): they are looked up before "
                "any is imported again",
                len(created),
                group_key,
                exc,
            )
            try:
                self._import_rest(group_key, rows, known, counted=counted)
            except BrevoError as failure:
                msg = (
                    f"{failure} (after an import of companies of {group_key} got no answer): "
                    "rerun later; its companies are looked up first, not imported twice"
                )
                raise CallInDoubt(msg) from failure
            return
        wanted = {row.group_value for row in created}
        found = self._look_up(group_attribute, wanted, started, to_the_end=False)
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
        self._created.setdefault(group_key, set()).update(row.group_id for row in created)
        if not counted:
            self._report.created += len(created)
            self._report.updated += len(rows) - len(created)

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
                    typed[label] = self.attributes.column(label, value)
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
        self._created.setdefault(group_key, set()).update(found)
        if not counted:
            self._report.created += len(found)
        rest = [row for row in rows if row.group_id not in found]
        if rest:
            self._import(group_key, rest, known, counted=counted, after_doubt=True)

    def _settle_earlier(self, group_key: str) -> None:
        """Settle the imports of this key an earlier run left in doubt (killed, answer lost).

        Once per run and key, before anything of the key is imported: the companies they may
        have made are found and mapped (not created again), the others forgotten, so imported
        anew.
        """
        if group_key in self._settled_keys:  # a dry run too: its ledger is a private copy
            return
        self._settled_keys.add(group_key)
        waiting = self._ledger.in_doubt(group_key)
        if not waiting or (
            self._settings.dry_run and not self.attributes.has(GROUP_ATTRIBUTE_LABEL)
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
        group_attribute = self.attributes.group_attribute()
        since = recorded - CLOCK_SKEW
        found = self._look_up(group_attribute, set(values), since, to_the_end=True)
        if len(found) < len(values):  # Brevo may still be applying it: once more, then create
            self._client.sleep(self._settings.events_settle_seconds)
            missing = set(values) - set(found)
            found.update(self._look_up(group_attribute, missing, since, to_the_end=True))
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

    def _look_up(
        self, group_attribute: str, wanted: set[str], since: dt.datetime, *, to_the_end: bool
    ) -> dict[str, str]:
        """The Brevo ids of the companies created since ``since`` holding these group values.

        The oldest company of a value is its own; any other is a duplicate, reported. Just
        after an answered import the listing stops once every value is found (each page is a
        call of the hourly budget); ``to_the_end`` reads on, for what a lost answer may have
        made twice.
        """
        if not wanted:
            return {}
        created_since = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if to_the_end and len(wanted) <= FILTERED_LOOKUPS:
            listings = [
                self._companies.with_group(group_attribute, value, created_since)
                for value in sorted(wanted)
            ]
        else:
            listings = [self._companies.pages({"createdSince": created_since})]
        holders: dict[str, list[str]] = {}
        for pages in listings:
            for page in pages:
                for item in page:
                    value = str((item.get("attributes") or {}).get(group_attribute) or "")
                    company_id = str(item["id"])
                    if value in wanted and company_id not in holders.get(value, []):
                        holders.setdefault(value, []).append(company_id)
                if not to_the_end and len(holders) == len(wanted):
                    break
        return self._owners(holders, {})

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
        keys = self._group_keys | self._ledger.group_keys()
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
        moved: dict[str, _MovedLinks] = {}
        for rules in self._mapping.company_groups(self._known_group_keys()):
            self._settle_earlier(rules.group_key)
            moved.update(self._link_key(rules.group_key))
        if moved:
            self._verify_links(moved)
        self._report.calls += self._other_calls() - calls

    def _verify_links(self, moved: dict[str, _MovedLinks]) -> None:
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

    def _link_key(self, group_key: str) -> dict[str, _MovedLinks]:
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
        moved: dict[str, _MovedLinks] = {}
        for group_id, (add, remove) in sorted(changes.items()):
            company_id = companies[group_id].company_id
            unlink = sorted(ids[d] for d in remove if d in ids)
            added = {d: ids[d] for d in add if d in ids}
            moved[company_id] = _MovedLinks(group_key, group_id, set(unlink), added)
            if unlink:
                self._companies.link_unlink(company_id, [], unlink)
            self._ledger.record_links(group_key, group_id, [], remove)
            self._report.links_removed += len(remove)
            if added:
                additions.append((company_id, sorted(added.values())))
        for start in range(0, len(additions), IMPORT_CHUNK):
            chunk = additions[start : start + IMPORT_CHUNK]
            rows = [
                {COMPANY_ID_COLUMN: company_id, ASSOCIATED_CONTACT_COLUMN: ",".join(map(str, link))}
                for company_id, link in chunk
            ]
            self._companies.import_rows(
                [COMPANY_ID_COLUMN, ASSOCIATED_CONTACT_COLUMN],
                rows,
                link_entities=True,
                creates=False,
            )
            self._report.imports += 1
            self._report.links_added += sum(len(link) for _, link in chunk)
        return moved

    def _contact_ids(self, distinct_ids: set[str]) -> dict[str, int]:
        """Numeric Brevo ids of these contacts: the ledger's, else found in bulk once and kept."""
        ids = self._ledger.brevo_ids(distinct_ids)
        looked_up = find_contact_ids(self._client, distinct_ids - set(ids))
        self._report.members_not_in_brevo += len(distinct_ids) - len(ids) - len(looked_up)
        self._ledger.record_brevo_ids(looked_up)
        return {**ids, **looked_up}

    def _other_calls(self) -> int:
        return self._client.budgets.buckets["other"].calls


def _csv_value(value: Any) -> str:
    """A typed value as import text: booleans lower-case, lists joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)

"""Contacts into Brevo: typed attributes, bulk imports, only what changed.

Each batch: map every profile through ``property_mapping``, plus its lookup table attributes
(``lookup_enrichment``), into typed attributes (``EXT_ID`` is always the canonical Mixpanel
distinct id); carry over contacts whose distinct id changed in an identity merge; drop what the
ledger says Brevo already has unchanged; send the rest in ``POST /contacts/import`` calls of up to
``contacts_import_max_bytes``; wait for each import to complete before the ledger records it.

A value left out for a reason the account can lift (an attribute it lacks or types otherwise, an
SMS another contact holds) keeps its profile in the ledger: every run rebuilds those contacts and
sends the ones whose values can now be sent. Between full refreshes the tap reads only profiles
that changed, so waiting for the profile to come again would take a week.
"""

from __future__ import annotations

from typing import Any

from mixpanel_brevo_mapping import Mapping
from target_brevo_tajo.batching import fill_calls
from target_brevo_tajo.brevo import BrevoClient
from target_brevo_tajo.contacts.account_attributes import AccountAttributes
from target_brevo_tajo.contacts.attributes import (
    ConversionError,
    normalise_email,
    normalise_phone,
    to_brevo_value,
)
from target_brevo_tajo.contacts.imports import ContactImports
from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.contacts.rows import SMS, ContactRow
from target_brevo_tajo.json_body import encode_json
from target_brevo_tajo.lists.api import BrevoLists
from target_brevo_tajo.lookups.tables import LookupTables
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings

EXT_ID = "EXT_ID"
EMAIL_TARGET = "EMAIL"  # the seed maps `$email: email`: the contact's identifier
_IMPORT_ENVELOPE_BYTES = 256
ALL_USERS_LIST = "all_users"
DEFAULT_FOLDER_NAME = "Mixpanel"
DEFAULT_LIST_NAME = "Mixpanel users"


class ContactWriter:
    """Writes contacts to Brevo for any sink: typed rows, merges, only changes, awaited imports.

    Profiles and cohort members both become contacts through here, so a member who is not a
    contact yet is created exactly as a profile would be.
    """

    def __init__(
        self,
        *,
        client: BrevoClient,
        imports: ContactImports,
        lists: BrevoLists,
        ledger: ContactLedger,
        mapping: Mapping,
        lookups: LookupTables,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._client = client
        self._lookups = lookups
        self._imports = imports
        self._lists = lists
        self._ledger = ledger
        self._mapping = mapping
        self._settings = settings
        self._run_report = report
        self._report = report.contacts
        self.attributes = AccountAttributes(client, settings, report)
        self.full_refresh_ids: set[str] = set()  # the refreshes this run's profiles came from
        self._list_ids: list[int] | None = None

    def list_ids(self) -> list[int]:
        """The list every synced contact joins: the mapping's ``lists.all_users``.

        Brevo's import needs a list. Without ``all_users`` a "Mixpanel users" list (in a
        "Mixpanel" folder) is found or created once.
        """
        if self._list_ids is None:
            configured = self._mapping.mixpanel.lists.get(ALL_USERS_LIST)
            self._list_ids = [
                configured or self._lists.find_or_create(DEFAULT_LIST_NAME, DEFAULT_FOLDER_NAME)
            ]
        return self._list_ids

    def write(
        self, records: list[dict[str, Any]], extra_list_ids: tuple[int, ...] = ()
    ) -> list[ContactRow]:
        """Import the new and changed contacts among ``records``; returns once Brevo has them.

        ``extra_list_ids`` are lists the contacts join in the same import (a cohort's list);
        they are not part of the change fingerprint, which the profiles path owns.
        """
        if not records:
            return []
        if extra_list_ids:
            self._report.from_cohort_members += len(records)
        rows = self._rows(records)
        for row in rows:
            for target, error in row.rejected:
                self._reject_value(row.record, target, error)
        self.full_refresh_ids.update(row.full_refresh_id for row in rows if row.full_refresh_id)
        self._carry_over_merged_contacts(rows)
        return self.write_rows(rows, extra_list_ids)

    def write_rows(
        self, rows: list[ContactRow], extra_list_ids: tuple[int, ...] = ()
    ) -> list[ContactRow]:
        """Import the rows Brevo lacks or has otherwise (by the ledger's hash); returns them."""
        known = self._ledger.contacts_by_id(row.distinct_id for row in rows)
        self._drop_sms_owned_by_others(rows)
        list_ids = self.list_ids()
        changed: list[ContactRow] = []
        unchanged: list[ContactRow] = []
        for row in rows:
            before = known.get(row.distinct_id)
            if (
                not extra_list_ids
                and before is not None
                and before.attributes_hash == row.fingerprint(list_ids)
            ):
                unchanged.append(row)
            else:
                changed.append(row)
        self._report.unchanged += len(unchanged)
        for refresh_id in {row.full_refresh_id for row in unchanged if row.full_refresh_id}:
            self._ledger.mark_listed_in_refresh(
                (row.distinct_id for row in unchanged if row.full_refresh_id == refresh_id),
                refresh_id,
            )
        for chunk in self._chunks(changed):
            self._import(chunk, list_ids, known, extra_list_ids)
        return rows

    def resend_left_out(self) -> None:
        """Send the remembered contacts whose left-out values the account now accepts.

        Costs no call when the ledger remembers none. Each is rebuilt from its profile as kept;
        one whose values still cannot be sent hashes as before and stays remembered.
        """
        remembered = self._ledger.contacts_left_out()
        if not remembered:
            return
        known = self._ledger.contacts_by_id(contact.distinct_id for contact in remembered)
        self._ledger.forget_left_out(
            c.distinct_id for c in remembered if c.distinct_id not in known
        )
        records = [
            {"distinct_id": c.distinct_id, "properties": c.properties}
            for c in remembered
            if c.distinct_id in known
        ]
        if not records:
            return
        rows = self._rows(records)
        self._drop_sms_owned_by_others(rows, report=False)
        list_ids = self.list_ids()
        changed = [
            row
            for row in rows
            if known[row.distinct_id].attributes_hash != row.fingerprint(list_ids)
        ]
        for chunk in self._chunks(changed):
            self._import(chunk, list_ids, known, resent=True)
        self._report.left_out_waiting = len(self._ledger.contacts_left_out())

    # Mapping ------------------------------------------------------------------------------

    def _targets(self) -> dict[str, str]:
        """``property_mapping`` with Brevo's upper-case attribute names."""
        return {source: target.upper() for source, target in self._mapping.property_mapping.items()}

    def _samples(self, records: Any) -> dict[str, Any]:
        """A value of each mapped attribute, to type the attributes it creates.

        A typed value (number, boolean) wins over a string: Mixpanel profiles often hold a
        number as text in a few profiles and as a number in the rest.
        """
        samples: dict[str, Any] = {EXT_ID: "id"}
        targets = {s: t for s, t in self._targets().items() if t != EMAIL_TARGET}
        for record in records:
            properties = record.get("properties") or {}
            for source, target in targets.items():
                value = properties.get(source)
                if value in (None, ""):
                    continue
                if target not in samples or isinstance(samples[target], str):
                    samples[target] = value
        for target in targets.values():
            samples.setdefault(target, "")
        for target, value in self._lookups.samples().items():
            samples.setdefault(target, value)
        return samples

    def _rows(self, records: list[dict[str, Any]]) -> list[ContactRow]:
        """Typed rows of these profiles, once the account has every attribute they fill."""
        enriched = [self._lookups.enrich(r.get("properties") or {}, "profiles") for r in records]
        self.attributes.ensure(self._samples(records))
        return [self._to_row(r, extra) for r, extra in zip(records, enriched, strict=True)]

    def _to_row(self, record: dict[str, Any], enriched: dict[str, Any]) -> ContactRow:
        """Typed attributes of one profile, its lookup attributes (``enriched``) among them.

        A value that cannot be typed is left out of the row, with its reason.
        """
        properties = record.get("properties") or {}
        row = ContactRow(
            distinct_id=str(record["distinct_id"]),
            email=None,
            attributes={EXT_ID: str(record["distinct_id"])},
            record=record,
            full_refresh_id=record.get("full_refresh_id"),
        )
        mapped = [(target, properties.get(source)) for source, target in self._targets().items()]
        for target, value in [*mapped, *enriched.items()]:
            if value is None or value == "":
                continue
            try:
                if target == EMAIL_TARGET:
                    row.email = normalise_email(value)
                elif target == SMS:
                    row.attributes[SMS] = normalise_phone(value, properties.get("$country_code"))
                else:
                    attribute = self.attributes.get(target)
                    if attribute is None:
                        row.left_out[target] = value
                        continue
                    row.attributes[target] = to_brevo_value(value, attribute)
            except ConversionError as exc:
                row.rejected.append((target, exc))
                if target not in (EMAIL_TARGET, SMS):  # the attribute's type refused it
                    row.left_out[target] = value
        return row

    def _reject_value(self, record: dict[str, Any], target: str, error: ConversionError) -> None:
        """A value Brevo would refuse: reported with the record; the contact syncs without it."""
        self._report.values_rejected[f"{target}: {error.kind}"] += 1
        self._run_report.reject("profiles", f"{target} left out: {error}", record)

    # Identity -----------------------------------------------------------------------------

    def _carry_over_merged_contacts(self, rows: list[ContactRow]) -> None:
        """Give the Brevo contact of an alias (a ``$device:`` id, an old id) its canonical id.

        Without this a profile now known under its merged id would create a second contact.
        """
        ledger = self._ledger
        aliases = ledger.aliases_of(row.distinct_id for row in rows)
        if not aliases:
            return
        synced_aliases = ledger.contacts_by_id(aliases)
        if not synced_aliases:
            return
        already_synced = ledger.contacts_by_id(row.distinct_id for row in rows)
        by_canonical: dict[str, list[str]] = {}
        for alias in synced_aliases:
            by_canonical.setdefault(aliases[alias], []).append(alias)
        for row in rows:
            if row.distinct_id in already_synced:
                continue
            for old_id in by_canonical.get(row.distinct_id, [])[:1]:
                if self._renamed_in_brevo(old_id, row.distinct_id):
                    ledger.rename_contact(old_id, row.distinct_id)
                    row.renamed_from = old_id
                    self._report.merged += 1

    def _renamed_in_brevo(self, old_id: str, new_id: str) -> bool:
        """Give the contact its new ext_id; a dry run changes nothing and counts it as done."""
        if self._settings.dry_run:
            return True
        response = self._client.request(
            "PUT",
            f"/contacts/{old_id}",
            params={"identifierType": "ext_id"},
            json={"ext_id": new_id},
        )
        return response.status_code in (200, 204)

    def _drop_sms_owned_by_others(self, rows: list[ContactRow], *, report: bool = True) -> None:
        """Brevo refuses an SMS number that belongs to another contact; say so, sync the rest.

        The number is left out until its owner lets it go.
        """
        numbers = {row.sms: row for row in rows if row.sms}
        owners = self._ledger.sms_owners(numbers)
        claimed: dict[str, str] = {}
        for row in rows:
            number = row.sms
            if not number:
                continue
            owner = owners.get(number) or claimed.get(number)
            if owner and owner != row.distinct_id:
                row.left_out[SMS] = row.attributes.pop(SMS)
                if not report:
                    continue
                self._report.values_rejected["SMS: already owned by another contact"] += 1
                self._run_report.reject(
                    "profiles",
                    f"SMS left out: {number} already belongs to contact {owner}",
                    row.record,
                )
            else:
                claimed[number] = row.distinct_id

    # Import -------------------------------------------------------------------------------

    def _chunks(self, rows: list[ContactRow]) -> list[list[ContactRow]]:
        """Imports filled up to ``contacts_import_max_bytes`` (Brevo: 10 MB, ~8 MB advised)."""
        for row in rows:
            row.encoded = encode_json(row.import_row())
        return fill_calls(
            rows,
            lambda row: row.encoded,
            max_bytes=self._settings.contacts_import_max_bytes,
            envelope_bytes=_IMPORT_ENVELOPE_BYTES,
        )

    def _import(
        self,
        rows: list[ContactRow],
        list_ids: list[int],
        known: dict[str, SyncedContact],
        extra_list_ids: tuple[int, ...] = (),
        *,
        resent: bool = False,
    ) -> None:
        """One import call, awaited; the ledger records it only once Brevo completed it.

        ``resent``: the rows come from the ledger's left-out contacts, not from this run's input.
        A dry run imports nothing and records the rows as imported: its ledger is a private copy.
        """
        if self._settings.dry_run:
            joined = sorted({*list_ids, *extra_list_ids})
            self._lists.plan_joined(joined, [row.distinct_id for row in rows])
        else:
            self._send_import(rows, list_ids, extra_list_ids)
        self._ledger.record_contacts(
            (row.synced(list_ids) for row in rows),
            left_out=[row.left_out_contact() for row in rows if row.left_out],
            # A row built without properties (a cohort member read back from a list) says
            # nothing about values: it forgets nothing.
            sent_whole=[
                r.distinct_id for r in rows if not r.left_out and r.record.get("properties")
            ],
        )
        self._report.imports += 1
        if resent:
            self._report.left_out_resent += len(rows)
            return
        created = sum(1 for row in rows if row.distinct_id not in known and not row.renamed_from)
        self._report.created += created
        self._report.updated += len(rows) - created

    def _send_import(
        self, rows: list[ContactRow], list_ids: list[int], extra_list_ids: tuple[int, ...]
    ) -> None:
        body = (
            b'{"jsonBody":['
            + b",".join(row.encoded for row in rows)
            + b'],"listIds":'
            + encode_json(sorted({*list_ids, *extra_list_ids}))
            + b',"updateExistingContacts":true,"emptyContactsAttributes":false'
            + b',"disableNotification":true}'
        )
        process = self._imports.run(body)
        for counter, count in ((process.get("info") or {}).get("import") or {}).items():
            if isinstance(count, int) and count:
                self._report.import_issues[counter] += count

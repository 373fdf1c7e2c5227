"""What each resource's sink counted in one run: one dataclass of counters per resource."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EventsReport:
    """Counters of the events sink."""

    received: int = 0
    sent: int = 0
    skipped_unmapped: Counter[str] = field(default_factory=Counter)
    skipped_anonymous: int = 0
    deduplicated_in_run: int = 0
    deduplicated_by_ledger: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    renamed_properties: Counter[str] = field(default_factory=Counter)
    dropped_properties: Counter[str] = field(default_factory=Counter)
    attributed_to_identified_user: int = 0
    identity_events: int = 0
    sent_by_name: Counter[str] = field(default_factory=Counter)
    # Batch calls whose answer never came (or came as a 5xx), settled by looking them up.
    calls_in_doubt: int = 0
    found_in_brevo_when_settling: int = 0
    resent_after_settling: int = 0
    left_to_another_worker: int = 0  # claimed by a worker sharing the ledger
    taken_over_from_earlier_runs: int = 0  # events of the calls in doubt an earlier run left
    sent_by_earlier_runs: int = 0  # of those, found in Brevo: that run's call delivered them
    found_at_second_look: int = 0  # in doubt, missing at the first look-up, found at the second
    queue_delay_observed_seconds: float = 0.0  # the longest Brevo events queue delay seen
    # Calls Brevo answered 202 with a lower count and no detail: (queued, sent).
    undetailed_shortfalls: list[tuple[int, int]] = field(default_factory=list)

    @property
    def deduplicated(self) -> int:
        """Events not sent because Brevo already had them (this run or an earlier one)."""
        return self.deduplicated_in_run + self.deduplicated_by_ledger

    @property
    def rejected_total(self) -> int:
        """Events Brevo or the mapping refused."""
        return sum(self.rejected.values())


@dataclass
class ContactsReport:
    """Counters of the contacts sink."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    imports: int = 0
    merged: int = 0
    values_rejected: Counter[str] = field(default_factory=Counter)
    import_issues: Counter[str] = field(default_factory=Counter)
    missing_attributes: list[str] = field(default_factory=list)
    created_attributes: list[str] = field(default_factory=list)
    gone_from_mixpanel: int = 0
    unlisted: int = 0
    deleted: int = 0
    deletion_policy: str = "keep"
    from_cohort_members: int = 0  # members written through the contacts path, not profiles
    deduplicated: int = 0  # a later record of the same profile in the batch won
    rejected: int = 0  # whole records, not synced (values left out are ``values_rejected``)
    # Not records of this run: contacts the ledger kept with values left out in an earlier run,
    # sent again now that Brevo takes them; and those still waiting at the end of the run.
    left_out_resent: int = 0
    left_out_waiting: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "received": self.received,
            "from_cohort_members": self.from_cohort_members,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deduplicated": self.deduplicated,
            "rejected": self.rejected,
            "rejected_values": sum(self.values_rejected.values()),
            "rejected_values_by_reason": dict(self.values_rejected.most_common()),
            "imports": self.imports,
            "merged_identities": self.merged,
            "brevo_import_issues": dict(self.import_issues),
            "missing_attributes": self.missing_attributes,
            "created_attributes": self.created_attributes,
            "gone_from_mixpanel": self.gone_from_mixpanel,
            "deletion_policy": self.deletion_policy,
            "unlisted": self.unlisted,
            "deleted": self.deleted,
            "left_out_resent": self.left_out_resent,
            "left_out_waiting": self.left_out_waiting,
        }


@dataclass
class CohortMembersReport:
    """Where each cohort member record ended, over every cohort (the cohorts list says each)."""

    received: int = 0
    added: int = 0
    already_in_list: int = 0
    deduplicated: int = 0  # the same member twice in a batch
    rejected: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "received": self.received,
            "added": self.added,
            "already_in_list": self.already_in_list,
            "deduplicated": self.deduplicated,
            "rejected": self.rejected,
        }


@dataclass
class CompaniesReport:
    """Counters of the companies writer, and the hourly budget its calls spent."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    recreated: int = 0  # deleted by hand in Brevo, created again (counted as they arrived)
    found_not_created: int = 0  # an earlier run's import in doubt had made them: mapped
    # Group value -> the ids of the extra companies holding it (made by an earlier run): reported.
    duplicates: dict[str, set[str]] = field(default_factory=dict)
    skipped_unmapped: int = 0  # group keys the mapping turns into no companies
    deduplicated: int = 0  # a later record of the same group in the batch won
    rejected: int = 0
    links_added: int = 0
    links_removed: int = 0
    links_verified: int = 0  # links of the companies whose links moved, read back from Brevo
    links_repaired: int = 0  # of them, linked or unlinked again: Brevo held them otherwise
    links_unverified: int = 0  # company deleted in Brevo, or repair refused: sent again next run
    members_not_in_brevo: int = 0
    imports: int = 0
    calls: int = 0  # companies and CRM calls, all in Brevo's hourly bucket of other calls
    hourly_budget: int | None = None
    values_rejected: Counter[str] = field(default_factory=Counter)
    created_attributes: list[str] = field(default_factory=list)
    missing_attributes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "recreated": self.recreated,
            "found_not_created": self.found_not_created,
            "duplicates": {value: sorted(ids) for value, ids in sorted(self.duplicates.items())},
            "skipped_unmapped": self.skipped_unmapped,
            "deduplicated": self.deduplicated,
            "rejected": self.rejected,
            "links_added": self.links_added,
            "links_removed": self.links_removed,
            "links_verified": self.links_verified,
            "links_repaired": self.links_repaired,
            "links_unverified": self.links_unverified,
            "members_not_in_brevo": self.members_not_in_brevo,
            "imports": self.imports,
            "calls": self.calls,
            "hourly_budget": self.hourly_budget,
            "rejected_values_by_reason": dict(self.values_rejected.most_common()),
            "created_attributes": self.created_attributes,
            "missing_attributes": self.missing_attributes,
        }


@dataclass
class LookupReport:
    """What the lookup tables held, and how many profiles and events they enriched."""

    rows_received: int = 0
    rows_held: int = 0  # for the joins of this run, and kept in the ledger
    rows_ignored: int = 0  # of tables no ``lookup_enrichment`` entry names
    rows_rejected: int = 0
    # By table name: its id, its rows, and where they came from ("this run" or "ledger").
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles_enriched: int = 0
    events_enriched: int = 0
    keys_not_found: Counter[str] = field(default_factory=Counter)  # by table
    tables_missing: list[str] = field(default_factory=list)  # named, but no rows anywhere
    columns_missing: list[str] = field(default_factory=list)  # "table.column" no row has

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "tables": self.tables,
            "rows_received": self.rows_received,
            "rows_held": self.rows_held,
            "rows_ignored": self.rows_ignored,
            "rows_rejected": self.rows_rejected,
            "profiles_enriched": self.profiles_enriched,
            "events_enriched": self.events_enriched,
            "keys_not_found": sum(self.keys_not_found.values()),
            "keys_not_found_by_table": dict(self.keys_not_found.most_common()),
            "tables_missing": self.tables_missing,
            "columns_missing": self.columns_missing,
        }

"""What each stream reads, as the mapping file and settings decide: the tap's selection policy.

Mixpanel allows about 60 queries an hour, so the tap asks only for what the target will use:
the mapped event names (pushed down to the export's ``event`` filter), the profile properties the
target may read (Engage ``output_properties``), and the cohorts to sync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mixpanel_brevo_mapping import (
    IDENTITY_EVENTS,
    CohortRef,
    CohortSelection,
    GroupMapping,
    Mapping,
    mapped_cohorts,
)
from tap_mixpanel_tajo.errors import TapConfigError

#: The profiles stream's own replication key, asked for whatever the mapping reads.
LAST_SEEN = "$last_seen"


@dataclass(frozen=True)
class StreamSelection:
    """The selection policy of one run (``mapping`` None: no mapping file, read everything)."""

    mapping: Mapping | None
    mapping_file: str | None = None
    cohort_ids: list[int] = field(default_factory=list)
    group_keys: list[str] = field(default_factory=list)
    logger: logging.Logger = field(default=logging.getLogger("tap-mixpanel-tajo"), repr=False)

    def skip_reason(self, stream_name: str) -> str | None:
        """Why the mapping file turns a stream off (``sync.<stream_name>``), or None."""
        if self.mapping is None:
            return None
        if not self.mapping.mixpanel.enabled:
            return f"connectors.mixpanel.enabled is false in {self.mapping_file}"
        if not getattr(self.mapping.mixpanel.sync, stream_name, True):
            return f"connectors.mixpanel.sync.{stream_name} is false in {self.mapping_file}"
        return None

    def export_event_names(self) -> list[str] | None:
        """Event names to push down to the export's ``event`` filter (None: all events).

        The mapped events, plus original ID merge's identity events: the target learns from
        them which anonymous ids became which user.
        """
        if self.mapping is None:
            return None
        names = self.mapping.mapped_event_names()
        if not names:
            self.logger.info("The mapping maps no events: exporting all events")
            return None
        return sorted({*names, *IDENTITY_EVENTS})

    def profile_output_properties(self) -> list[str] | None:
        """Profile properties to ask Engage for (None without a mapping: all of them)."""
        if self.mapping is None:
            return None
        links = {group.link_property for group in self.company_groups()}
        return sorted({*self.mapping.profile_properties(), *links, LAST_SEEN})

    def company_groups(self) -> list[GroupMapping]:
        """The group keys whose profiles become companies (none when groups are not synced)."""
        if self.mapping is None or self.skip_reason("groups"):
            return []
        return self.mapping.company_groups(self.group_keys)

    def group_output_properties(self, group_key: str) -> list[str] | None:
        """Group profile properties to ask Engage for (None: all of them).

        Without a mapping, or for a group key that makes no companies, every property is read:
        the records still reach the target or a warehouse as they are.
        """
        rules = self.mapping.company_group(group_key) if self.mapping is not None else None
        if rules is None:
            return None
        return sorted({*rules.group_properties(), LAST_SEEN})

    def lookup_table_refs(self) -> set[str] | None:
        """The lookup tables to read, each by name or id (None without a mapping: all of them).

        The tables the mapping's ``lookup_enrichment`` rules join on: rows no rule reads would
        only cost App API calls and the target's memory. No rule, no table.
        """
        if self.mapping is None:
            return None
        return {entry.table for entry in self.mapping.lookup_enrichment}

    def cohorts_to_sync(self, cohorts: list[CohortRef]) -> list[CohortSelection]:
        """The cohorts to sync, in Mixpanel's order, each with the mapping key that names it.

        ``cohort_ids`` if set, else the cohorts the mapping names, else (no mapping) all of them.
        Raises :class:`TapConfigError` for a ``cohort_ids`` entry Mixpanel does not know, and
        :class:`MappingError` for a mapping key naming several cohorts or none.
        """
        mapping = self.mapping
        named = {s.cohort.id: s for s in mapped_cohorts(mapping, cohorts)} if mapping else {}
        if self.cohort_ids:
            known = {cohort.id for cohort in cohorts}
            unknown = [cohort_id for cohort_id in self.cohort_ids if cohort_id not in known]
            if unknown:
                names = ", ".join(f"{c.name!r} (id {c.id})" for c in cohorts) or "none"
                msg = (
                    f"cohort_ids: no Mixpanel cohort has id {', '.join(map(str, unknown))} "
                    f"(cohorts: {names})"
                )
                raise TapConfigError(msg)
            ids = set(self.cohort_ids)
        elif mapping is not None:
            ids = set(named)
        else:
            ids = {cohort.id for cohort in cohorts}
        return [
            named.get(cohort.id) or CohortSelection(cohort, None)
            for cohort in cohorts
            if cohort.id in ids
        ]

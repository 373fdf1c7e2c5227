"""Cohort selection: which Mixpanel cohorts the mapping names, and what it says of each.

The tap uses :func:`mapped_cohorts` to pick the cohorts to read and tags each record with the
key that selected it; the target turns that key into a Brevo list and a sync mode with
:func:`list_id_of` and :func:`sync_mode_of`. Both read the same file through the same code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mixpanel_brevo_mapping.model import ALL_USERS_KEY, Mapping, MappingError, SyncMode


@dataclass(frozen=True)
class CohortRef:
    """A Mixpanel cohort as the cohorts list names it."""

    id: int
    name: str


@dataclass(frozen=True)
class CohortSelection:
    """A cohort to sync, and the mapping key that selected it.

    ``key`` is a ``connectors.mixpanel.lists`` key, or the cohort id (as text) of a
    ``cohort_lists`` entry; None when only the ``cohort_ids`` setting selects the cohort.
    """

    cohort: CohortRef
    key: str | None


def slug(text: str) -> str:
    """``"Engaged Users (Last 7 Days)"`` -> ``"engaged_users_last_7_days"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _slugs(name: str) -> set[str]:
    """The slugs a cohort answers to: of its whole name, and without parenthesised qualifiers."""
    return {slug(name), slug(re.sub(r"\([^)]*\)", " ", name))} - {""}


def mapped_cohorts(mapping: Mapping, cohorts: list[CohortRef]) -> list[CohortSelection]:
    """The cohorts the mapping names, each with the key that names it.

    A ``lists`` key other than ``all_users`` names a cohort by id, exact name, or the slug of
    its name (``engaged_users`` <-> "Engaged Users (Last 7 Days)"); ``cohort_lists`` names
    cohort ids directly (and wins). A key naming several cohorts, or none, is a
    :class:`MappingError`.
    """
    by_id = {cohort.id: cohort for cohort in cohorts}
    selected: dict[int, CohortSelection] = {}
    for key in mapping.mixpanel.lists:
        if key == ALL_USERS_KEY:
            continue
        cohort = _cohort_named(key, cohorts)
        selected[cohort.id] = CohortSelection(cohort, key)
    for cohort_id in mapping.cohort_lists:
        listed = by_id.get(cohort_id)
        if listed is None:
            msg = f"cohort_lists: no Mixpanel cohort has id {cohort_id}"
            raise MappingError(msg)
        selected[cohort_id] = CohortSelection(listed, str(cohort_id))
    return list(selected.values())


def list_id_of(mapping: Mapping, selection: CohortSelection) -> int | None:
    """The Brevo list the mapping assigns to a selected cohort (None: none is configured)."""
    if selection.cohort.id in mapping.cohort_lists:
        return mapping.cohort_lists[selection.cohort.id]
    if selection.key is None or selection.key == ALL_USERS_KEY:
        return None
    return mapping.mixpanel.lists.get(selection.key)


def sync_mode_of(mapping: Mapping, selection: CohortSelection) -> SyncMode | None:
    """The sync mode the mapping sets for a cohort (by key, id or name), else its default."""
    modes = mapping.cohort_sync_modes
    cohort = selection.cohort
    for name in (selection.key, str(cohort.id), cohort.name):
        if name is not None and name in modes:
            return modes[name]
    return modes.get("default")


def _cohort_named(key: str, cohorts: list[CohortRef]) -> CohortRef:
    for matches in (
        [c for c in cohorts if str(c.id) == key],
        [c for c in cohorts if c.name == key],
        [c for c in cohorts if key in _slugs(c.name)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(f"{c.name!r} (id {c.id})" for c in matches)
            msg = (
                f"connectors.mixpanel.lists.{key}: names several cohorts: {names}; "
                "use the cohort id as the key, or cohort_lists"
            )
            raise MappingError(msg)
    known = ", ".join(f"{c.name!r} (id {c.id})" for c in cohorts) or "none"
    msg = f"connectors.mixpanel.lists.{key}: names no Mixpanel cohort (cohorts: {known})"
    raise MappingError(msg)

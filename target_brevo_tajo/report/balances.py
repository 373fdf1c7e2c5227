"""How a report adds up: every record that arrived ends in exactly one named bucket.

``BALANCES`` says how each resource's counters add up, and :func:`unbalanced` checks a report
against it; the text must show each non-zero term, so nothing is silently dropped.
"""

from __future__ import annotations

import re
from typing import Any

# How each resource's records add up, by the report's JSON keys: what arrived equals the sum of
# where each record ended, and the text shows each non-zero term in the words given here. A new
# outcome goes in here; the test suite checks every report it renders or writes against this.
Terms = tuple[tuple[str, str], ...]
BALANCES: dict[str, tuple[Terms, Terms]] = {
    "events": (
        (
            ("received", "received"),
            ("taken_over_from_earlier_runs", "taken over in doubt from earlier runs"),
        ),
        (
            ("sent", "sent"),
            ("skipped_unmapped", "skipped as unmapped"),
            ("skipped_anonymous", "skipped as anonymous"),
            ("identity_events_read", "identity events"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
            ("left_to_another_worker", "left to another worker"),
            ("sent_by_earlier_runs", "already sent by earlier runs"),
        ),
    ),
    "contacts": (
        (("received", "received"), ("from_cohort_members", "from cohort members")),
        (
            ("created", "created"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
        ),
    ),
    "cohort_members": (
        (("received", "received"),),
        (
            ("added", "added"),
            ("already_in_list", "already in the list"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
        ),
    ),
    "companies": (
        (("received", "received"),),
        (
            ("created", "created"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("skipped_unmapped", "skipped as unmapped"),
            ("deduplicated", "deduplicated"),
            ("rejected", "rejected"),
        ),
    ),
    "lookups": (
        (("rows_received", "rows received"),),
        (("rows_held", "held"), ("rows_ignored", "ignored"), ("rows_rejected", "rejected")),
    ),
}


def unbalanced(report: dict[str, Any]) -> dict[str, int]:
    """What arrived minus what is accounted for, for each resource where it is not 0."""
    gaps = {}
    for resource, (arrived, ended) in BALANCES.items():
        section = report.get(resource) or {}
        gap = sum(section.get(key, 0) for key, _ in arrived) - sum(
            section.get(key, 0) for key, _ in ended
        )
        if gap:
            gaps[resource] = gap
    return gaps


def balance_terms(report: dict[str, Any], resource: str) -> list[str]:
    """The non-zero terms of a resource's balance as the text says them (``sent 3``)."""
    dry = bool(report.get("dry_run"))
    arrived, ended = BALANCES[resource]
    section = report.get(resource) or {}
    return [
        f"{did(words, dry) if words in WOULD else words} {section[key]}"
        for key, words in (*arrived, *ended)
        if section.get(key)
    ]


def with_balance(line: str, report: dict[str, Any], resource: str) -> str:
    """A resource's line, with each non-zero term of its balance the line does not say yet."""
    missing = [term for term in balance_terms(report, resource) if not says(line, term)]
    return ", ".join([line, *missing])


def says(text: str, term: str) -> bool:
    """Whether ``text`` holds ``term`` (``sent 3``) itself, not in ``resent 3`` or ``sent 30``."""
    return re.search(rf"(?<![\w-]){re.escape(term)}(?!\d)", text) is not None


# What a dry run says instead of the past tense: it counted what it would have done.
WOULD = {
    "sent": "would send",
    "created": "would create",
    "updated": "would update",
    "unlisted": "would unlist",
    "deleted": "would delete",
    "added": "would add",
    "removed": "would remove",
}


def did(verb: str, dry: bool) -> str:
    """The verb as a report line says it: done, or in a dry run only counted."""
    return WOULD[verb] if dry else verb

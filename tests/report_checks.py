"""The check every report of the test suite passes (``conftest.reports_add_up``)."""

from __future__ import annotations

from target_brevo_tajo.report import BALANCES, balance_terms, says, unbalanced


def report_problems(report: dict, text: str) -> list[str]:
    """Why a report does not add up, or says less in its text than its counters hold."""
    gaps = unbalanced(report)
    failed = report.get("status") == "failed"
    problems = [
        f"{resource} does not add up: what arrived minus what is accounted for is {gap}"
        for resource, gap in gaps.items()
        if not (failed and gap > 0)  # a failed run leaves the rest to its rerun
    ]
    problems += [
        f"the text does not say {term!r} ({resource})"
        for resource in BALANCES
        for term in balance_terms(report, resource)
        if not says(text, term)
    ]
    return problems

"""The sync report: what one run of the target did, printed at the end and optionally saved.

Every record the target receives ends in exactly one bucket (sent, skipped for a reason,
deduplicated, rejected with a reason, settled...), so nothing is silently dropped: ``BALANCES``
says how each resource's counters add up (:mod:`.balances`), the counters are per resource
(:mod:`.counters`), :class:`SyncReport` holds a whole run and its rejects (:mod:`.sync`), the
text comes from :mod:`.text` and the run's files are named and kept by :mod:`.files`.
"""

from target_brevo_tajo.report.balances import (
    BALANCES,
    WOULD,
    Terms,
    balance_terms,
    says,
    unbalanced,
)
from target_brevo_tajo.report.counters import (
    CohortMembersReport,
    CompaniesReport,
    ContactsReport,
    EventsReport,
    LookupReport,
)
from target_brevo_tajo.report.files import job_name_of, prune_run_files, utc_now
from target_brevo_tajo.report.sync import REJECT_FIELDS, SyncReport
from target_brevo_tajo.report.text import render_report

__all__ = [
    "BALANCES",
    "REJECT_FIELDS",
    "WOULD",
    "CohortMembersReport",
    "CompaniesReport",
    "ContactsReport",
    "EventsReport",
    "LookupReport",
    "SyncReport",
    "Terms",
    "balance_terms",
    "job_name_of",
    "prune_run_files",
    "render_report",
    "says",
    "unbalanced",
    "utc_now",
]

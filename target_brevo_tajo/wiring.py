"""The run's objects, built once from the settings: each gets exactly what it uses.

Settings are read once (:mod:`.settings`), then the Brevo API objects, the ledger and the report,
then one writer per Brevo resource; the sinks hand the writers their records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mixpanel_brevo_mapping import Mapping, load_mapping
from target_brevo_tajo.brevo import BrevoClient
from target_brevo_tajo.brevo.shared_budget import account_key, share_budgets
from target_brevo_tajo.checkpoints import SyncCheckpoints
from target_brevo_tajo.companies.api import BrevoCompanies
from target_brevo_tajo.companies.ledger import CompanyLedger
from target_brevo_tajo.companies.writer import CompanyWriter
from target_brevo_tajo.contacts.imports import ContactImports
from target_brevo_tajo.contacts.ledger import ContactLedger
from target_brevo_tajo.contacts.writer import ContactWriter
from target_brevo_tajo.deletions import DeletionWriter
from target_brevo_tajo.events.writer import EventWriter
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.ledger.rate_slots import RateSlotLedger
from target_brevo_tajo.lists.api import BrevoLists
from target_brevo_tajo.lists.writer import ListWriter
from target_brevo_tajo.lookups.ledger import LookupLedger
from target_brevo_tajo.lookups.tables import LookupTables
from target_brevo_tajo.lookups.writer import LookupWriter
from target_brevo_tajo.redaction import add_secret
from target_brevo_tajo.report import SyncReport, job_name_of
from target_brevo_tajo.settings import Settings
from target_brevo_tajo.startup import check_output_files


@dataclass(frozen=True)
class Writers:
    """The run's writers, and what the sinks report to or confirm."""

    events: EventWriter
    contacts: ContactWriter
    lists: ListWriter
    deletions: DeletionWriter
    companies: CompanyWriter
    lookups: LookupWriter
    checkpoints: SyncCheckpoints
    report: SyncReport
    # Streams of a long-form route read their route, and check it against their SCHEMA.
    mapping: Mapping
    mapping_file: str | None


@dataclass(frozen=True)
class Run:
    """One run's objects: what the writers share, and the writers themselves."""

    settings: Settings
    mapping: Mapping
    client: BrevoClient
    ledger: Ledger
    report: SyncReport
    writers: Writers


def build_run(settings: Settings) -> Run:
    """Wire a run from its settings: each object gets exactly what it uses."""
    add_secret(settings.api_key)
    check_output_files(settings)
    mapping = load_mapping(settings.mapping_file) if settings.mapping_file else Mapping()
    client = BrevoClient(
        settings.base_url,
        settings.api_key,
        oauth=settings.oauth_client(),
        rate_tier=settings.brevo_rate_tier,
        max_retries=settings.max_retries,
        max_wait_seconds=settings.max_retry_wait_seconds,
        timeout_seconds=settings.request_timeout_seconds,
    )
    ledger = Ledger(settings.ledger_url, read_only=settings.dry_run)
    if settings.brevo_shared_budget:
        # A dry run's ledger is its private copy: its few calls pace alone, never in the shared one.
        # The credentials check left exactly one of the two: an API key or an OAuth client.
        credential = settings.api_key or settings.brevo_oauth_client_id or ""
        share_budgets(client.budgets, RateSlotLedger(ledger, account_key(credential)))
    rejects = settings.rejects_file
    report = SyncReport(
        dry_run=settings.dry_run,
        job_name=job_name_of(os.environ),
        rejects_file=Path(rejects) if rejects else None,
        rejects_include_record=settings.rejects_include_record,
    )
    writers = _writers(settings, mapping, client, ledger, report)
    return Run(settings, mapping, client, ledger, report, writers)


def _writers(
    settings: Settings, mapping: Mapping, client: BrevoClient, ledger: Ledger, report: SyncReport
) -> Writers:
    """One writer per Brevo resource, sharing the run's client, ledger and report."""
    lists = BrevoLists(client, dry_run=settings.dry_run)
    lookup_ledger, lookups = _lookups(mapping, ledger, report)
    imports = ContactImports(
        client,
        poll_seconds=settings.import_poll_seconds,
        timeout_seconds=settings.import_timeout_seconds,
    )
    contact_ledger = ContactLedger(ledger)
    contacts = ContactWriter(
        client=client, imports=imports, lists=lists, ledger=contact_ledger, mapping=mapping,
        lookups=lookups, settings=settings, report=report,
    )  # fmt: skip
    return Writers(
        events=EventWriter(
            client=client,
            ledger=ledger,
            mapping=mapping,
            lookups=lookups,
            settings=settings,
            report=report,
        ),
        contacts=contacts,
        lists=ListWriter(
            lists=lists,
            contacts=contacts,
            ledger=ledger,
            contact_ledger=contact_ledger,
            mapping=mapping,
            settings=settings,
            report=report,
        ),
        deletions=DeletionWriter(
            client=client,
            lists=lists,
            contacts=contacts,
            ledger=contact_ledger,
            settings=settings,
            report=report,
        ),
        companies=CompanyWriter(
            client=client,
            companies=BrevoCompanies(client, imports),
            ledger=CompanyLedger(ledger),
            mapping=mapping,
            settings=settings,
            report=report,
        ),
        lookups=LookupWriter(tables=lookups, ledger=lookup_ledger, report=report),
        checkpoints=SyncCheckpoints(),
        report=report,
        mapping=mapping,
        mapping_file=settings.mapping_file,
    )


def _lookups(
    mapping: Mapping, ledger: Ledger, report: SyncReport
) -> tuple[LookupLedger, LookupTables]:
    """The lookup tables' ledger, and the tables events and contacts are enriched from."""
    lookup_ledger = LookupLedger(ledger)
    rows = lookup_ledger.rows() if mapping.lookup_enrichment else []
    return lookup_ledger, LookupTables(mapping.lookup_enrichment, rows, report.lookups)

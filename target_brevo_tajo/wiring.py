"""The run's writers, one per Brevo resource: the target wires them, the sinks hand them records."""

from dataclasses import dataclass

from target_brevo_tajo.checkpoints import SyncCheckpoints
from target_brevo_tajo.companies.writer import CompanyWriter
from target_brevo_tajo.contacts.writer import ContactWriter
from target_brevo_tajo.deletions import DeletionWriter
from target_brevo_tajo.events.writer import EventWriter
from target_brevo_tajo.lists.writer import ListWriter
from target_brevo_tajo.lookups.writer import LookupWriter
from target_brevo_tajo.report import SyncReport


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

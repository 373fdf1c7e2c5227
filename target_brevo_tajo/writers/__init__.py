"""One writer per Brevo resource; the target wires them, the sinks hand them records."""

from dataclasses import dataclass

from target_brevo_tajo.checkpoints import SyncCheckpoints
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.writers.companies import CompanyWriter
from target_brevo_tajo.writers.contacts import ContactWriter
from target_brevo_tajo.writers.deletions import DeletionWriter
from target_brevo_tajo.writers.events import EventWriter
from target_brevo_tajo.writers.lists import ListWriter
from target_brevo_tajo.writers.lookups import LookupWriter


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


__all__ = [
    "CompanyWriter",
    "ContactWriter",
    "DeletionWriter",
    "EventWriter",
    "ListWriter",
    "LookupWriter",
    "Writers",
]

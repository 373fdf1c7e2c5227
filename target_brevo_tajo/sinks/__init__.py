"""One sink per Brevo resource."""

from target_brevo_tajo.sinks.checkpoints import SyncCheckpointsSink
from target_brevo_tajo.sinks.cohorts import CohortMembersSink, CohortsSink
from target_brevo_tajo.sinks.companies import CompaniesSink
from target_brevo_tajo.sinks.contacts import ContactsSink
from target_brevo_tajo.sinks.events import EventsSink
from target_brevo_tajo.sinks.lookups import LookupTablesSink
from target_brevo_tajo.sinks.unrouted import UnroutedSink

__all__ = [
    "CohortMembersSink",
    "CohortsSink",
    "CompaniesSink",
    "ContactsSink",
    "EventsSink",
    "LookupTablesSink",
    "SyncCheckpointsSink",
    "UnroutedSink",
]

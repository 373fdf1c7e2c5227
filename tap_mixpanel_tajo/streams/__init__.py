"""The tap's streams, one module per Mixpanel API family (export, engage, cohorts, groups...)."""

from tap_mixpanel_tajo.streams.checkpoints import SyncCheckpointsStream
from tap_mixpanel_tajo.streams.cohorts import CohortMembersStream, CohortsStream
from tap_mixpanel_tajo.streams.engage import ProfilesStream
from tap_mixpanel_tajo.streams.export import EventsStream
from tap_mixpanel_tajo.streams.groups import GroupsStream
from tap_mixpanel_tajo.streams.lookup_tables import LookupTablesStream

__all__ = [
    "CohortMembersStream",
    "CohortsStream",
    "EventsStream",
    "GroupsStream",
    "LookupTablesStream",
    "ProfilesStream",
    "SyncCheckpointsStream",
]

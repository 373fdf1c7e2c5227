"""The tap's streams, one module per Mixpanel API family (export, engage, cohorts)."""

from tap_mixpanel_tajo.streams.checkpoints import SyncCheckpointsStream
from tap_mixpanel_tajo.streams.cohorts import CohortMembersStream, CohortsStream
from tap_mixpanel_tajo.streams.engage import ProfilesStream
from tap_mixpanel_tajo.streams.export import EventsStream

__all__ = [
    "CohortMembersStream",
    "CohortsStream",
    "EventsStream",
    "ProfilesStream",
    "SyncCheckpointsStream",
]

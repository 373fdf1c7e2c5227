"""The tap's streams, one module per Mixpanel API family (export, engage, reports...)."""

from tap_mixpanel_tajo.streams.annotations import AnnotationsStream
from tap_mixpanel_tajo.streams.checkpoints import SyncCheckpointsStream
from tap_mixpanel_tajo.streams.cohorts import CohortMembersStream, CohortsStream
from tap_mixpanel_tajo.streams.engage import ProfilesStream
from tap_mixpanel_tajo.streams.export import EventsStream
from tap_mixpanel_tajo.streams.funnels import FunnelsStream
from tap_mixpanel_tajo.streams.groups import GroupsStream
from tap_mixpanel_tajo.streams.jql import JqlStream
from tap_mixpanel_tajo.streams.lookup_tables import LookupTablesStream
from tap_mixpanel_tajo.streams.queries import RetentionStream, SegmentationStream
from tap_mixpanel_tajo.streams.reports import InsightsStream

__all__ = [
    "AnnotationsStream",
    "CohortMembersStream",
    "CohortsStream",
    "EventsStream",
    "FunnelsStream",
    "GroupsStream",
    "InsightsStream",
    "JqlStream",
    "LookupTablesStream",
    "ProfilesStream",
    "RetentionStream",
    "SegmentationStream",
    "SyncCheckpointsStream",
]

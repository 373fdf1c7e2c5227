"""The tap's streams."""

from tap_mixpanel_tajo.streams.cohorts import CohortMembersStream, CohortsStream
from tap_mixpanel_tajo.streams.events import EventsStream
from tap_mixpanel_tajo.streams.profiles import ProfilesStream

__all__ = ["CohortMembersStream", "CohortsStream", "EventsStream", "ProfilesStream"]

"""The tap's streams."""

from tap_mixpanel_tajo.streams.events import EventsStream

__all__ = ["EventsStream"]

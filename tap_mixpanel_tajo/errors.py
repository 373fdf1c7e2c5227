"""The tap's errors: each message is one line saying what to do, and ends the run (:mod:`.fatal`).

:class:`TapConfigError` is a setting the run cannot work with (a date, a timezone, group keys,
credentials, cohort ids, a backfill too long); :class:`TapStateError` a state it cannot resume
from. Problems calling Mixpanel are the HTTP client's :class:`~.http_errors.MixpanelError`, a
:class:`TapError` too, so the command line ends every one the same way.
"""

from __future__ import annotations


class TapError(Exception):
    """A failure the tap cannot recover from; ``str(error)`` is one line saying what to do."""


class TapConfigError(TapError):
    """A setting (or the mapping file's connector block) the run cannot work with."""


class TapStateError(TapError):
    """A ``--state`` whose bookmarks the tap cannot resume from."""

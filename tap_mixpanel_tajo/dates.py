"""The tap's dates and times: one UTC, one date-time parser, one text form, export windows.

Mixpanel writes date-times without an offset (``2019-03-19 23:49:51``, ``$last_seen``): those are
UTC. Export dates and the ``start_date``/``end_date`` settings are days in the project's timezone.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_mixpanel_tajo.errors import TapConfigError

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1)
#: Larger epoch values are milliseconds (1e11 s is in the year 5138).
_MAX_SECONDS = 100_000_000_000
#: What a date setting may hold: a day, or an RFC 3339 time (without offset: project-local).
SETTING_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})?)?",
    re.ASCII,
)


def parse_utc(value: Any, *, naive_zone: dt.tzinfo = UTC) -> dt.datetime | None:
    """A date-time (ISO text, datetime or date) as an aware UTC datetime; None if unreadable.

    A value without an offset is wall-clock time in ``naive_zone`` (UTC, as Mixpanel writes it).
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive_zone)
    return moment.astimezone(UTC)


def utc_iso(moment: dt.datetime) -> str:
    """The one text form of a UTC timestamp in records and state (so strings compare in order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def utc_text(value: Any) -> str | None:
    """``"2019-03-19 23:49:51"`` -> ``"2019-03-19T23:49:51.000000+00:00"`` (None if unreadable)."""
    moment = parse_utc(value)
    return utc_iso(moment) if moment else None


def local_date(value: Any, zone: ZoneInfo) -> dt.date:
    """The project-local day of a setting's date-time (a value without offset is already local)."""
    moment = parse_utc(value, naive_zone=zone)
    if moment is None:
        msg = f"{value!r} is not an ISO 8601 date-time"
        raise ValueError(msg)
    return moment.astimezone(zone).date()


def project_zone(name: str | None) -> ZoneInfo:
    """The ``project_timezone`` setting as a zone; a name that is not IANA is a TapConfigError."""
    zone = name or "UTC"
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"project_timezone {zone!r} is not an IANA timezone name (e.g. US/Pacific)"
        raise TapConfigError(msg) from None


def setting_date_problem(name: str, value: Any) -> str | None:
    """Why a date setting's value is not a real day or time, in one line; None when it is.

    Strict on purpose: a typo must stop the run, not become another date (``2026-13-01`` is no
    day, though a lenient parser reads it as 2026-01-13, and ``20260113`` is refused too).
    """
    text = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
    if isinstance(text, str) and SETTING_DATE.fullmatch(text) and parse_utc(text) is not None:
        return None
    return (
        f"{name} {value!r} is not a date: write a real day as YYYY-MM-DD (e.g. 2026-11-01) "
        "or an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)"
    )


def check_date_range(start: Any, end: Any) -> None:
    """``start_date`` must not be after ``end_date``."""
    first, last = parse_utc(start), parse_utc(end)
    if first and last and first > last:
        msg = f"start_date {start} is after end_date {end}"
        raise TapConfigError(msg)


def epoch_to_utc(value: Any, tz: ZoneInfo | None) -> dt.datetime | None:
    """Mixpanel's ``properties.time`` (seconds or ms) as an aware UTC datetime.

    With ``tz`` (a pre-2023 project's timezone) the epoch value is project-local wall-clock
    time, and is converted to UTC.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = value / 1000 if value > _MAX_SECONDS else value
    if tz is None:
        return dt.datetime.fromtimestamp(seconds, tz=UTC)
    local = (_EPOCH + dt.timedelta(seconds=seconds)).replace(tzinfo=tz)
    return local.astimezone(UTC)


#: The end of a whole second's text in a minute: ``"07.000000+00:00"`` for second 7.
_SECOND_TEXTS = tuple(f"{second:02d}.000000+00:00" for second in range(60))


@functools.lru_cache(maxsize=1 << 14)
def _utc_minute_text(minute: int) -> str:
    return dt.datetime.fromtimestamp(minute * 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:")


def epoch_text(value: Any, tz: ZoneInfo | None) -> str | None:
    """``epoch_to_utc`` in the text form of :func:`utc_iso`; None if ``value`` is not a time.

    Most export times are whole seconds in UTC: their text comes from the minute's (cached) and
    the second, without a datetime per event, which costs more than the rest of the record.
    """
    if type(value) is int and tz is None and 0 <= value <= _MAX_SECONDS:
        minute, second = divmod(value, 60)
        return _utc_minute_text(minute) + _SECOND_TEXTS[second]
    moment = epoch_to_utc(value, tz)
    return utc_iso(moment) if moment else None


def day_windows(start: dt.date, end: dt.date, days: int = 1) -> list[tuple[dt.date, dt.date]]:
    """Inclusive, non-overlapping ``(from_date, to_date)`` windows covering ``start..end``."""
    step = max(1, days)
    windows = []
    current = start
    while current <= end:
        last = min(end, current + dt.timedelta(days=step - 1))
        windows.append((current, last))
        current = last + dt.timedelta(days=1)
    return windows

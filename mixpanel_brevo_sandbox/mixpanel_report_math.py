"""The numbers of the report endpoints, computed from the events visible at the sandbox clock.

Events are counted as the Query API counts them (``MixpanelProject.daily_counts``): by UTC day,
under their canonical distinct_id, exact re-ingested copies once. So a segmentation of an event
per day equals the export's events of that name and day without their copies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .expressions import Predicate
from .mixpanel_project import MixpanelProject, canonical_distinct_id

DAY_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One counted event: its name, UTC day, time, canonical user and properties."""

    name: str
    day: date
    time: float
    user: str
    insert_id: Any
    properties: dict[str, Any]


def occurrences(project: MixpanelProject, now_ms: int, names: set[str] | None) -> list[Occurrence]:
    """The visible events named in ``names`` (None: all), copies once, in time order."""
    visible = project.visible_events(now_ms)
    users = project.device_users(visible)
    seen: set[tuple[Any, ...]] = set()
    found = []
    for event in visible:
        if names is not None and event.name not in names:
            continue
        moment = event.time_seconds
        day = datetime.fromtimestamp(moment, timezone.utc).date()
        user = str(canonical_distinct_id(event.properties, users))
        insert_id = event.properties.get("$insert_id")
        key = (event.name, day, user, insert_id)
        if key in seen:
            continue
        seen.add(key)
        found.append(Occurrence(event.name, day, moment, user, insert_id, event.properties))
    found.sort(key=lambda o: (o.time, o.user))
    return found


def days_between(from_day: date, to_day: date) -> list[date]:
    """Every day from ``from_day`` to ``to_day``, both included."""
    return [from_day + timedelta(days=n) for n in range((to_day - from_day).days + 1)]


def segment_label(value: Any) -> str:
    """How a report names a property value's segment (``undefined`` when it is missing)."""
    if value is None:
        return "undefined"
    return value if isinstance(value, str) else json.dumps(value)


def segment_counts(
    found: Iterable[Occurrence],
    event: str,
    days: list[date],
    *,
    on: str | None,
    where: Predicate | None,
    unique: bool,
    limit: int,
) -> dict[str, dict[str, int]]:
    """``{segment: {day: count}}`` of one event, every day present; the top ``limit`` segments.

    Without ``on`` the one segment is the event's name, as in the spec's example.
    """
    first, last = days[0], days[-1]
    keys: dict[str, dict[date, set[tuple[Any, ...]]]] = {}
    for occ in found:
        if occ.name != event or not first <= occ.day <= last:
            continue
        if where is not None and not where(occ.properties):
            continue
        segment = event if on is None else segment_label(occ.properties.get(on))
        key = (occ.user,) if unique else (occ.user, occ.insert_id)
        keys.setdefault(segment, {}).setdefault(occ.day, set()).add(key)
    totals = {segment: sum(map(len, per_day.values())) for segment, per_day in keys.items()}
    top = sorted(totals, key=lambda segment: (-totals[segment], segment))[:limit]
    return {
        segment: {day.isoformat(): len(keys[segment].get(day, ())) for day in days}
        for segment in sorted(top)
    }


def funnel_day(
    by_user: dict[str, list[Occurrence]], steps: tuple[str, ...], day: date, length_s: float
) -> dict[str, Any]:
    """One day's funnel: users whose first step-1 event of the day starts it, step by step.

    A user reaches step k with the first step-k event after step k-1, within ``length_s`` of
    the start (events after the queried dates count, as the spec says).
    """
    reached: list[list[float]] = [[] for _ in steps]  # per step: seconds since the start
    between: list[list[float]] = [[] for _ in steps]  # per step: seconds since the step before
    for events in by_user.values():
        start = next((o.time for o in events if o.name == steps[0] and o.day == day), None)
        if start is None:
            continue
        reached[0].append(0.0)
        previous = start
        for index, step in enumerate(steps[1:], start=1):
            moment = next(
                (
                    o.time
                    for o in events
                    if o.name == step and previous < o.time <= start + length_s
                ),
                None,
            )
            if moment is None:
                break
            reached[index].append(moment - start)
            between[index].append(moment - previous)
            previous = moment
    return _funnel_answer(steps, reached, between)


def _funnel_answer(
    steps: tuple[str, ...], reached: list[list[float]], between: list[list[float]]
) -> dict[str, Any]:
    counts = [len(times) for times in reached]
    rows = []
    for index, step in enumerate(steps):
        before = counts[index - 1] if index else counts[0]
        rows.append({
            "count": counts[index],
            "avg_time": _mean(between[index]),
            "avg_time_from_start": _mean(reached[index]),
            "step_conv_ratio": counts[index] / before if before else 0,
            "overall_conv_ratio": counts[index] / counts[0] if counts[0] else 0,
            "goal": step,
            "event": step,
            "step_label": step,
        })  # fmt: skip
    drops = [counts[i - 1] - counts[i] for i in range(1, len(counts))]
    analysis = {
        "completion": counts[-1],
        "starting_amount": counts[0],
        "steps": len(steps),
        "worst": drops.index(max(drops)) + 1,
    }
    return {"steps": rows, "analysis": analysis}


def _mean(values: list[float]) -> int:
    """Whole seconds, as the spec types ``avg_time``; 0 for no conversions (and for step 1)."""
    return round(sum(values) / len(values)) if values else 0


def by_user(found: Iterable[Occurrence]) -> dict[str, list[Occurrence]]:
    """Occurrences grouped per user, each list in time order."""
    grouped: dict[str, list[Occurrence]] = {}
    for occ in found:
        grouped.setdefault(occ.user, []).append(occ)
    return grouped


@dataclass(frozen=True)
class RetentionQuery:
    """A Retention query, in days: ``born_event`` None for compounded (the cohort is ``event``)."""

    born_event: str | None
    event: str | None
    born_where: Predicate | None
    where: Predicate | None
    interval_days: int
    interval_count: int


def retention(found: list[Occurrence], days: list[date], query: RetentionQuery) -> dict[str, Any]:
    """``{day: {first, counts}}``: the users born that day, and how many came back per interval.

    ``counts[i]``: those back in interval i (0: less than one interval after birth), for
    ``interval_count + 1`` intervals. Birth retention: a user is born on the day of their first
    ``born_event``. Compounded: every user doing ``event`` that day is born then, at their first
    such event of the day.
    """
    births = _births(found, days, query)
    width = query.interval_days * DAY_SECONDS
    answer = {}
    for day in days:
        born = births.get(day, {})
        counts = [0] * (query.interval_count + 1)
        returns = by_user(o for o in found if o.user in born and _returns(o, query))
        for user, birth in born.items():
            buckets = {
                int((o.time - birth) // width) for o in returns.get(user, ()) if o.time > birth
            }
            for bucket in buckets:
                if bucket < len(counts):
                    counts[bucket] += 1
        answer[day.isoformat()] = {"first": len(born), "counts": counts}
    return answer


def _births(
    found: list[Occurrence], days: list[date], query: RetentionQuery
) -> dict[date, dict[str, float]]:
    births: dict[date, dict[str, float]] = {}
    compounded = query.born_event is None
    born_name = query.event if compounded else query.born_event
    first_seen: set[str] = set()
    for occ in found:
        if born_name is not None and occ.name != born_name:
            continue
        if query.born_where is not None and not query.born_where(occ.properties):
            continue
        if not compounded:
            if occ.user in first_seen:
                continue
            first_seen.add(occ.user)
        births.setdefault(occ.day, {}).setdefault(occ.user, occ.time)
    return {day: births[day] for day in days if day in births}


def _returns(occ: Occurrence, query: RetentionQuery) -> bool:
    if query.event is not None and occ.name != query.event:
        return False
    return query.where is None or query.where(occ.properties)

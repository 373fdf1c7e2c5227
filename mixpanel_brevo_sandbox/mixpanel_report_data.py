"""The project's saved reports (Insights bookmarks, funnels), annotations and JQL results.

Only the definitions live here; the numbers are computed from the events when a report is read
(``mixpanel_report_math``), so they agree with the export and change for recent days as late
events arrive. The demo project starts with a few of each; the admin API adds more for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: Longest funnel conversion window Mixpanel accepts (the spec's ``length``: at most 90 days).
MAX_FUNNEL_DAYS = 90
BOOKMARK_TYPES = ("general", "unique")
#: Who "wrote" the demo annotations (the App API names the annotation's author).
DEMO_USER = {"id": 501, "first_name": "Sandbox", "last_name": "Analyst"}


class ReportDefinitionError(ValueError):
    """A report, funnel, annotation or JQL result the admin API cannot register."""


@dataclass(frozen=True)
class Bookmark:
    """A saved Insights report: daily counts of ``events`` over the last ``days`` days.

    ``on`` breaks each event down by one event property; ``type`` is ``general`` (all events,
    exact copies once) or ``unique`` (distinct users).
    """

    id: int
    name: str
    events: tuple[str, ...]
    days: int = 7
    on: str | None = None
    type: str = "general"


@dataclass(frozen=True)
class Funnel:
    """A saved funnel: ``steps`` in order, each within ``length_days`` of the first step."""

    id: int
    name: str
    steps: tuple[str, ...]
    length_days: int = 1


@dataclass(frozen=True)
class Annotation:
    """An annotation: ``date`` in Mixpanel's ``YYYY-MM-DD HH:mm:ss``, project time (UTC)."""

    id: int
    date: str
    description: str
    tags: tuple[str, ...] = ()

    def to_json(self, tag_ids: dict[str, int]) -> dict[str, Any]:
        """The App API's ``AnnotationsEntry``."""
        return {
            "id": self.id,
            "date": self.date,
            "description": self.description,
            "user": dict(DEMO_USER),
            "tags": [{"id": tag_ids[tag], "name": tag} for tag in self.tags],
        }


@dataclass
class ProjectReports:
    """Everything above for one project, plus the JQL switch (``jql_available``)."""

    bookmarks: dict[int, Bookmark] = field(default_factory=dict)
    funnels: dict[int, Funnel] = field(default_factory=dict)
    annotations: dict[int, Annotation] = field(default_factory=dict)
    jql_results: dict[str, list[Any]] = field(default_factory=dict)
    jql_available: bool = True

    @classmethod
    def demo(cls, now: datetime) -> ProjectReports:
        """The demo project's reports; annotation dates are relative to the seeded ``now``."""
        reports = cls()
        for bookmark in (
            Bookmark(4101, "Purchases and sign ups", ("Purchase", "Sign Up")),
            Bookmark(4102, "Purchases by browser", ("Purchase",), on="$browser"),
            Bookmark(4103, "Daily buyers", ("Purchase",), days=5, type="unique"),
        ):
            reports.bookmarks[bookmark.id] = bookmark
        for funnel in (
            Funnel(7101, "Browse to purchase", ("Page View", "Add to Cart", "Purchase")),
            Funnel(7102, "Sign up to activation", ("Sign Up", "Feature Activated"), 7),
        ):
            reports.funnels[funnel.id] = funnel
        for number, (days_ago, text, tags) in enumerate(
            (
                (6, "Pricing page redesign shipped", ("release",)),
                (3, "checkout-v2 experiment started", ("experiment",)),
                (1, "Newsletter sent", ("marketing", "release")),
            ),
            start=1,
        ):
            moment = (now - timedelta(days=days_ago)).replace(minute=0, second=0, microsecond=0)
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
            reports.annotations[9100 + number] = Annotation(9100 + number, stamp, text, tags)
        return reports

    def tag_ids(self) -> dict[str, int]:
        """Each annotation tag's id: by first use, in annotation id order."""
        ids: dict[str, int] = {}
        for annotation in sorted(self.annotations.values(), key=lambda a: a.id):
            for tag in annotation.tags:
                ids.setdefault(tag, 300 + len(ids) + 1)
        return ids

    # -- admin ------------------------------------------------------------------------------

    def add_bookmark(self, data: Any) -> Bookmark:
        """Register a saved Insights report from ``{id?, name, events, days?, on?, type?}``."""
        body = _object(data)
        bookmark = Bookmark(
            _new_id(body, self.bookmarks, 4101),
            _text(body, "name"),
            tuple(_names(body, "events")),
            _positive(body, "days", 7),
            _optional_text(body, "on"),
            body.get("type", "general"),
        )
        if bookmark.type not in BOOKMARK_TYPES:
            raise ReportDefinitionError(f"type must be one of {list(BOOKMARK_TYPES)}")
        self.bookmarks[bookmark.id] = bookmark
        return bookmark

    def add_funnel(self, data: Any) -> Funnel:
        """Register a saved funnel from ``{id?, name, steps, length_days?}``."""
        body = _object(data)
        steps = _names(body, "steps")
        if len(steps) < 2:
            raise ReportDefinitionError("a funnel needs at least two steps")
        length = _positive(body, "length_days", 1)
        if length > MAX_FUNNEL_DAYS:
            raise ReportDefinitionError(f"length_days may not be over {MAX_FUNNEL_DAYS}")
        funnel = Funnel(
            _new_id(body, self.funnels, 7101), _text(body, "name"), tuple(steps), length
        )
        self.funnels[funnel.id] = funnel
        return funnel

    def add_annotation(self, data: Any) -> Annotation:
        """Register an annotation ``{id?, date: "YYYY-MM-DD HH:mm:ss", description, tags?}``."""
        body = _object(data)
        stamp = _text(body, "date")
        try:
            datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
        except ValueError as exc:
            raise ReportDefinitionError("date must be 'YYYY-MM-DD HH:mm:ss'") from exc
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise ReportDefinitionError("tags must be a list of names")
        annotation = Annotation(
            _new_id(body, self.annotations, 9101), stamp, _text(body, "description"), tuple(tags)
        )
        self.annotations[annotation.id] = annotation
        return annotation

    def add_jql_result(self, data: Any) -> str:
        """Register what the exact ``script`` text answers: ``{script, result: [...]}``."""
        body = _object(data)
        script, result = _text(body, "script"), body.get("result")
        if not isinstance(result, list):
            raise ReportDefinitionError("result must be a JSON array (what main() returns)")
        self.jql_results[script] = result
        return script


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ReportDefinitionError("the body must be a JSON object")
    return data


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ReportDefinitionError(f"{name} must be a non-empty string")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    return _text(body, name) if body.get(name) is not None else None


def _names(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(n, str) for n in value):
        raise ReportDefinitionError(f"{name} must be a non-empty list of event names")
    return value


def _positive(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ReportDefinitionError(f"{name} must be a positive integer")
    return value


def _new_id(body: dict[str, Any], taken: dict[int, Any], first: int) -> int:
    """The body's ``id``, or the next free one from ``first``; an id in use is refused."""
    if "id" not in body:
        return max(taken, default=first - 1) + 1
    value = body["id"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ReportDefinitionError("id must be a positive integer")
    if value in taken:
        raise ReportDefinitionError(f"id {value} is already taken")
    return value

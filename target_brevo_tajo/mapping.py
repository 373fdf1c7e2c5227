"""The mapping file: one model, read by both plugins.

The file is the seed document's YAML as customers write it (``connectors.mixpanel``,
``event_mapping``, ``property_mapping``). The tap reads it to push mapped event names and
profile properties down to Mixpanel; the target reads it to transform records. Both call
:func:`load_mapping`, so there is exactly one parser of the file.

Validation errors name the file, the line and the key, e.g.
``mappings/mixpanel-to-brevo.yml:42: event_mapping."Sign Up": must match [A-Za-z0-9_-]+``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

# The Brevo resource each of the tap's streams feeds unless `routes` says otherwise.
DEFAULT_ROUTES = {
    "events": "events",
    "profiles": "contacts",
    "cohorts": "cohorts",
    "cohort_members": "cohort_members",
}
BREVO_EVENT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _brevo_event_name(value: str) -> str:
    if not BREVO_EVENT_NAME.match(value):
        msg = f"Brevo event name {value!r} must be 1-255 characters of A-Z, a-z, 0-9, '_' or '-'"
        raise ValueError(msg)
    return value


BrevoEventName = Annotated[str, AfterValidator(_brevo_event_name)]


class MappingError(ValueError):
    """A mapping file that cannot be used; the message is one line naming file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceAccount(_Strict):
    """The seed's ``service_account`` block (credentials may also come from plugin settings)."""

    username: str
    secret: str = Field(repr=False)


class SyncOptions(_Strict):
    """Which data the connector syncs (the seed's ``sync`` block)."""

    events: bool = True
    profiles: bool = True
    cohorts: bool = True
    groups: bool = False


class MixpanelConnector(_Strict):
    """The seed's ``connectors.mixpanel`` block."""

    enabled: bool = True
    project_token: str | None = Field(default=None, repr=False)
    service_account: ServiceAccount | None = None
    project_id: str | None = None
    data_residency: Literal["US", "EU", "IN"] = "US"
    sync: SyncOptions = SyncOptions()
    lists: dict[str, int] = Field(default_factory=dict)

    @field_validator("project_id", mode="before")
    @classmethod
    def _project_id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("data_residency", mode="before")
    @classmethod
    def _upper_residency(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Connectors(_Strict):
    """The ``connectors`` block; only Mixpanel is known to this product."""

    mixpanel: MixpanelConnector = MixpanelConnector()


SyncMode = Literal["mirror", "additive"]
ALL_USERS_KEY = "all_users"


@dataclass(frozen=True)
class CohortRef:
    """A Mixpanel cohort as the cohorts list names it."""

    id: int
    name: str


@dataclass(frozen=True)
class CohortTarget:
    """Where one cohort goes: the mapping key that named it (if any) and the Brevo list id.

    ``list_id`` None means no list is configured: the target creates one named after the cohort.
    """

    cohort: CohortRef
    key: str | None
    list_id: int | None
    sync_mode: SyncMode | None


def slug(text: str) -> str:
    """``"Engaged Users (Last 7 Days)"`` -> ``"engaged_users_last_7_days"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _slugs(name: str) -> set[str]:
    """The slugs a cohort answers to: of its whole name, and without parenthesised qualifiers."""
    return {slug(name), slug(re.sub(r"\([^)]*\)", " ", name))} - {""}


class Mapping(_Strict):
    """A whole mapping file."""

    connectors: Connectors = Connectors()
    event_mapping: dict[str, BrevoEventName] = Field(default_factory=dict)
    property_mapping: dict[str, str] = Field(default_factory=dict)
    # Extension: route a Singer stream of another name to a Brevo resource.
    routes: dict[str, Literal["events", "contacts", "cohorts", "cohort_members"]] = Field(
        default_factory=dict
    )
    # Extensions for the cohort sync: explicit cohort id -> Brevo list id, and sync modes by
    # cohort (a `lists` key, a cohort id or name) with an optional `default`.
    cohort_lists: dict[int, int] = Field(default_factory=dict)
    cohort_sync_modes: dict[str, SyncMode] = Field(default_factory=dict)

    @property
    def mixpanel(self) -> MixpanelConnector:
        """The Mixpanel connector block."""
        return self.connectors.mixpanel

    def brevo_event_name(self, mixpanel_event: str) -> str | None:
        """The Brevo name of a Mixpanel event, or None when the mapping does not map it."""
        return self.event_mapping.get(mixpanel_event)

    def resource_of(self, stream_name: str) -> str | None:
        """The Brevo resource a Singer stream feeds: its route, else the tap stream's default."""
        return self.routes.get(stream_name) or DEFAULT_ROUTES.get(stream_name)

    def cohort_targets(self, cohorts: list[CohortRef]) -> list[CohortTarget]:
        """The cohorts the mapping names, each with its list and sync mode.

        A ``lists`` key other than ``all_users`` names a cohort by id, exact name, or the slug of
        its name (``engaged_users`` <-> "Engaged Users (Last 7 Days)"); ``cohort_lists`` names
        cohort ids directly. A key naming several cohorts, or none, is a :class:`MappingError`.
        """
        by_id = {cohort.id: cohort for cohort in cohorts}
        targets: dict[int, CohortTarget] = {}
        for key, list_id in self.mixpanel.lists.items():
            if key == ALL_USERS_KEY:
                continue
            cohort = self._cohort_named(key, cohorts)
            targets[cohort.id] = CohortTarget(cohort, key, list_id, self.sync_mode_of(key, cohort))
        for cohort_id, list_id in self.cohort_lists.items():
            cohort = by_id.get(cohort_id)
            if cohort is None:
                msg = f"cohort_lists: no Mixpanel cohort has id {cohort_id}"
                raise MappingError(msg)
            targets[cohort_id] = CohortTarget(
                cohort, str(cohort_id), list_id, self.sync_mode_of(str(cohort_id), cohort)
            )
        return list(targets.values())

    def sync_mode_of(self, key: str | None, cohort: CohortRef) -> SyncMode | None:
        """The sync mode the mapping sets for a cohort (by key, id or name), else its default."""
        modes = self.cohort_sync_modes
        for name in (key, str(cohort.id), cohort.name):
            if name is not None and name in modes:
                return modes[name]
        return modes.get("default")

    @staticmethod
    def _cohort_named(key: str, cohorts: list[CohortRef]) -> CohortRef:
        for matches in (
            [c for c in cohorts if str(c.id) == key],
            [c for c in cohorts if c.name == key],
            [c for c in cohorts if key in _slugs(c.name)],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                names = ", ".join(f"{c.name!r} (id {c.id})" for c in matches)
                msg = (
                    f"connectors.mixpanel.lists.{key}: names several cohorts: {names}; "
                    "use the cohort id as the key, or cohort_lists"
                )
                raise MappingError(msg)
        known = ", ".join(f"{c.name!r} (id {c.id})" for c in cohorts) or "none"
        msg = f"connectors.mixpanel.lists.{key}: names no Mixpanel cohort (cohorts: {known})"
        raise MappingError(msg)

    def mapped_event_names(self) -> list[str]:
        """The Mixpanel event names the mapping maps, for the export's ``event`` filter."""
        return sorted(self.event_mapping)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file, raising :class:`MappingError` with file, line and key."""
    return _load_cached(str(Path(path).resolve()))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Mapping:
    display = _display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{display}: cannot read the mapping file ({exc.strerror}); check mapping_file"
        raise MappingError(msg) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{display}:{mark.line + 1}" if mark else display
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        msg = f"{where}: invalid YAML: {problem}"
        raise MappingError(msg) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"{display}:1: the mapping file must be a YAML mapping of sections"
        raise MappingError(msg)
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        line = _line_of(node, loc)
        key = ".".join(_quote_key(part) for part in loc) or "(top level)"
        detail = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            detail = "unknown key (see mappings/README.md for the keys this file accepts)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = f"{display}:{line}: {key}: {detail}{more}"
        raise MappingError(msg) from exc


def _display_path(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _quote_key(part: Any) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_$]+", text) else f'"{text}"'


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest YAML node that ``loc`` reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if str(key_node.value) == str(part):
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line

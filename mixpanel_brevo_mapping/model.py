"""The mapping file's model: the seed's YAML blocks plus this product's documented extensions.

Validated with pydantic (unknown keys are errors, not ignored); :mod:`.loader` turns a
validation error into one line naming the file, the line and the key.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

from mixpanel_brevo_mapping.names import (
    BrevoEventName,
    ContactAttribute,
    NestedValueError,
    SyncMode,
)
from mixpanel_brevo_mapping.routes import Route

#: The Brevo resource each of the tap's streams feeds unless ``routes`` says otherwise.
DEFAULT_ROUTES = {
    "events": "events",
    "profiles": "contacts",
    "cohorts": "cohorts",
    "cohort_members": "cohort_members",
    "sync_checkpoints": "sync_checkpoints",
    "groups": "companies",
    "lookup_tables": "lookup_tables",
}
Resource = Literal[
    "events",
    "contacts",
    "cohorts",
    "cohort_members",
    "sync_checkpoints",
    "companies",
    "lookup_tables",
]

#: The tags of a route's two forms, in a validation error's key path (the loader drops them).
ROUTE_FORMS = ("resource", "route")


def _route_form(value: Any) -> str:
    """The short form names a resource; the long form is a mapping of keys."""
    return "route" if isinstance(value, (dict, Route)) else "resource"


#: A ``routes`` value: ``resource`` (records of the tap's shapes) or a :class:`Route`.
RouteValue = Annotated[
    Annotated[Resource, Tag("resource")] | Annotated[Route, Tag("route")],
    Discriminator(_route_form),
]

#: Profile properties the target reads whatever ``property_mapping`` maps: the seed's contact
#: fields, and ``$country_code``, which turns a local phone number into E.164.
CONTACT_PROFILE_PROPERTIES = (
    "$email",
    "$phone",
    "$country_code",
    "$first_name",
    "$last_name",
)

#: The ``lists`` key naming the list every synced contact joins (not a cohort).
ALL_USERS_KEY = "all_users"


class MappingError(ValueError):
    """A mapping file that cannot be used; one line per problem, naming file, line and key."""

    @property
    def problems(self) -> list[str]:
        """Each problem, one line."""
        return str(self).splitlines()


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


#: The group profile property that names a company unless ``group_mapping.name`` says otherwise.
DEFAULT_COMPANY_NAME_PROPERTY = "$name"


class GroupMapping(_Strict):
    """The ``group_mapping`` block: which group key becomes Brevo companies, and how.

    ``attributes`` maps a group profile property to a Brevo company attribute (its label, or
    the internal name of an existing one). ``member_property`` is the user profile property
    holding the group id, which links a contact to its company (default: the group key).
    """

    group_key: str = Field(min_length=1)
    name: str = Field(default=DEFAULT_COMPANY_NAME_PROPERTY, min_length=1)
    attributes: dict[str, str] = Field(default_factory=dict)
    member_property: str | None = Field(default=None, min_length=1)

    @property
    def link_property(self) -> str:
        """The user profile property whose value is the id of the user's group."""
        return self.member_property or self.group_key

    def group_properties(self) -> list[str]:
        """The group profile properties the target reads: the name and the mapped attributes."""
        return sorted({self.name, *self.attributes})


#: What a lookup enrichment may apply to: the profiles (contacts) and the events.
LookupTarget = Literal["profiles", "events"]
#: A name valid both as a Brevo contact attribute and as a Brevo event property key.
ENRICHED_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")
#: Contact attributes that identify a contact: a lookup table never writes them.
IDENTIFIER_ATTRIBUTES = frozenset({"EMAIL", "SMS", "EXT_ID"})


def _enriched_attribute(value: str) -> str:
    if not ENRICHED_ATTRIBUTE.match(value):
        msg = (
            f"attribute {value!r} must start with a letter and hold only A-Z, a-z, 0-9 or '_' "
            "(a Brevo contact attribute and event property name)"
        )
        raise ValueError(msg)
    name = value.upper()
    if name in IDENTIFIER_ATTRIBUTES:
        msg = f"{name} identifies the contact: map it with property_mapping, not a lookup table"
        raise ValueError(msg)
    return name


EnrichedAttribute = Annotated[str, AfterValidator(_enriched_attribute)]


class LookupEnrichment(_Strict):
    """One ``lookup_enrichment`` entry: a property's value looked up in a Mixpanel lookup table.

    The value of ``property`` (on the profile, or on the event) is a key of ``table`` (its name
    or id); the row's columns named in ``attributes`` become Brevo attributes, upper-cased like
    ``property_mapping``'s. Profiles get them before ``property_mapping`` applies, as contact
    attributes typed like the others; events get them among their properties, under the same
    name (valid as an event property key), unless the event already has a property of that name.
    """

    source_property: str = Field(alias="property", min_length=1)
    table: str = Field(min_length=1)
    attributes: dict[str, EnrichedAttribute] = Field(min_length=1)
    apply_to: list[LookupTarget] = Field(default=["profiles", "events"], min_length=1)

    @field_validator("apply_to")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            msg = "names profiles or events twice"
            raise ValueError(msg)
        return value

    def applies_to(self, target: LookupTarget) -> bool:
        """Whether this enrichment enriches profiles, or events."""
        return target in self.apply_to


class Mapping(_Strict):
    """A whole mapping file."""

    connectors: Connectors = Connectors()
    event_mapping: dict[str, BrevoEventName] = Field(default_factory=dict)
    property_mapping: dict[str, ContactAttribute] = Field(default_factory=dict)
    # Extension: route a Singer stream of another name to a Brevo resource (short form: the
    # records have the tap's shapes), or say how its rows become one (long form: a Route).
    routes: dict[str, RouteValue] = Field(default_factory=dict)
    # Extensions for the cohort sync: explicit cohort id -> Brevo list id, and sync modes by
    # cohort (a `lists` key, a cohort id or name) with an optional `default`.
    cohort_lists: dict[int, int] = Field(default_factory=dict)
    cohort_sync_modes: dict[str, SyncMode] = Field(default_factory=dict)
    # Extension: Mixpanel groups -> Brevo companies (optional; `sync.groups` alone uses defaults).
    group_mapping: GroupMapping | None = None
    # Extension: Mixpanel lookup table rows joined onto profiles and events.
    lookup_enrichment: list[LookupEnrichment] = Field(default_factory=list)

    @field_validator("routes")
    @classmethod
    def _one_route_per_list(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Two streams mirroring one list would remove each other's members."""
        seen: dict[int, str] = {}
        for stream, route in value.items():
            if isinstance(route, Route) and route.list_id is not None:
                if route.list_id in seen:
                    msg = (
                        f"list {route.list_id} is already the list of routes.{seen[route.list_id]}"
                    )
                    raise NestedValueError((stream, "list"), msg)
                seen[route.list_id] = stream
        return value

    @field_validator("lookup_enrichment")
    @classmethod
    def _one_source_per_attribute(
        cls, value: list[LookupEnrichment], info: ValidationInfo
    ) -> list[LookupEnrichment]:
        """An attribute filled from two places would flip between them from run to run."""
        mapped = {t.upper(): s for s, t in (info.data.get("property_mapping") or {}).items()}
        seen: dict[str, int] = {}
        for index, entry in enumerate(value):
            for column, attribute in entry.attributes.items():
                where = (index, "attributes", column)
                if attribute in mapped:
                    msg = f"{attribute} is already filled by property_mapping.{mapped[attribute]}"
                    raise NestedValueError(where, msg)
                if attribute in seen:
                    msg = f"{attribute} is already filled by lookup_enrichment.{seen[attribute]}"
                    raise NestedValueError(where, msg)
                seen[attribute] = index
        return value

    @property
    def mixpanel(self) -> MixpanelConnector:
        """The Mixpanel connector block."""
        return self.connectors.mixpanel

    def brevo_event_name(self, mixpanel_event: str) -> str | None:
        """The Brevo name of a Mixpanel event, or None when the mapping does not map it."""
        return self.event_mapping.get(mixpanel_event)

    def resource_of(self, stream_name: str) -> str | None:
        """The Brevo resource a Singer stream of the tap's shapes feeds (None for a long route).

        Its short-form route, else the tap stream's default.
        """
        route = self.routes.get(stream_name)
        if isinstance(route, Route):
            return None
        return route or DEFAULT_ROUTES.get(stream_name)

    def route_of(self, stream_name: str) -> Route | None:
        """The long-form route of a stream: how its rows become a Brevo resource, or None."""
        route = self.routes.get(stream_name)
        return route if isinstance(route, Route) else None

    def mapped_event_names(self) -> list[str]:
        """The Mixpanel event names the mapping maps, for the export's ``event`` filter."""
        return sorted(self.event_mapping)

    def profile_properties(self) -> list[str]:
        """Every profile property the target may read: the mapped ones and the contact fields.

        With ``group_mapping``, also the property linking a user to its group; with
        ``lookup_enrichment``, the properties whose values are looked up for profiles.
        """
        links = {self.group_mapping.link_property} if self.group_mapping else set()
        lookups = {entry.source_property for entry in self.enrichments("profiles")}
        return sorted({*self.property_mapping, *CONTACT_PROFILE_PROPERTIES, *links, *lookups})

    def enrichments(self, target: LookupTarget) -> list[LookupEnrichment]:
        """The ``lookup_enrichment`` entries that apply to profiles, or to events."""
        return [entry for entry in self.lookup_enrichment if entry.applies_to(target)]

    def company_groups(self, group_keys: list[str]) -> list[GroupMapping]:
        """Which of the tap's group keys become Brevo companies, each with its rules.

        The ``group_mapping`` block names one key; without it, ``sync.groups: true`` makes
        every group key's profiles companies named by ``$name``, linked by the group key.
        """
        if self.group_mapping is not None:
            return [self.group_mapping] if self.group_mapping.group_key in group_keys else []
        if not self.mixpanel.sync.groups:
            return []
        return [GroupMapping(group_key=key) for key in group_keys]

    def company_group(self, group_key: str) -> GroupMapping | None:
        """The rules of one group key's companies, or None when that key makes no companies."""
        found = self.company_groups([group_key])
        return found[0] if found else None

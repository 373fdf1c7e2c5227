"""A route's long form: any Singer stream to Brevo events, contacts, a list or companies.

``routes: {stream: resource}`` (the short form) names a resource whose records already have
the tap's shapes. The long form says how a row of any stream becomes that resource:
``{to: events, event, id_field, key, time, fields}``, ``{to: contacts, id_field, fields}``,
``{to: list, list, id_field, mode}`` or ``{to: companies, id_field, name_field, fields}``.
A key the resource needs and the route lacks, or one it does not take, is an error naming it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mixpanel_brevo_mapping.names import (
    BREVO_ATTRIBUTE_NAME,
    BREVO_EVENT_NAME,
    BrevoEventName,
    NestedValueError,
    SyncMode,
)

RouteTarget = Literal["events", "contacts", "list", "companies"]
IdType = Literal["email", "ext_id"]
#: What makes an identifier an email address when the route does not say ``id_type``.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: The keys each resource needs, and those it takes besides ``to``, ``id_field``, ``id_type``.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("event", "key", "time"),
    "contacts": (),
    "list": ("list_id",),
    "companies": (),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "events": ("fields",),
    "contacts": ("fields",),
    "list": ("mode",),
    "companies": ("name_field", "fields"),
}
_ROUTE_KEYS = ("event", "key", "time", "list_id", "mode", "name_field", "fields")


class Route(BaseModel):
    """How the rows of one stream become one Brevo resource (the long form of a route).

    ``id_field`` holds the contact (or, for companies, the company) identifier. A contact's
    identifier is its email address or its ``EXT_ID``: ``id_type`` says which; without it, a
    value that is an email address is an email, any other an ``EXT_ID`` (so a Mixpanel
    ``distinct_id`` names the contact the profile sync made).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: RouteTarget
    id_field: str = Field(min_length=1)
    id_type: IdType | None = None
    event: BrevoEventName | None = None
    key: str | None = Field(default=None, min_length=1)
    time: str | None = Field(default=None, min_length=1)
    list_id: int | None = Field(default=None, alias="list")
    mode: SyncMode | None = None
    name_field: str | None = Field(default=None, min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys_of_resource(self) -> Route:
        """Each resource's own keys: the required ones present, no other resource's."""
        given = self.model_fields_set
        for name in _REQUIRED[self.to]:
            if getattr(self, name) is None:
                raise NestedValueError((_key(name),), f"required for a route to {self.to}")
        allowed = {*_REQUIRED[self.to], *_OPTIONAL[self.to]}
        for name in _ROUTE_KEYS:
            if name in given and name not in allowed:
                msg = f"a route to {self.to} does not take {_key(name)}"
                raise NestedValueError((_key(name),), msg)
        if self.to == "companies" and self.id_type is not None:
            msg = "a company is identified by its id_field's value alone: drop id_type"
            raise NestedValueError(("id_type",), msg)
        if self.to == "list" and self.id_type == "email":
            msg = "a list's members are matched by EXT_ID, as cohort lists are: use ext_id"
            raise NestedValueError(("id_type",), msg)
        for field, target in self.fields.items():
            problem = _target_problem(self.to, target)
            if problem:
                raise NestedValueError(("fields", field), problem)
        return self

    @property
    def resource(self) -> RouteTarget:
        """The Brevo resource the stream feeds."""
        return self.to

    def stream_fields(self) -> list[tuple[tuple[str, ...], str]]:
        """Every field of the stream this route reads, each with the route's key naming it."""
        named = [
            (("id_field",), self.id_field),
            (("key",), self.key),
            (("time",), self.time),
            (("name_field",), self.name_field),
            *((("fields", field), field) for field in self.fields),
        ]
        return [(where, field) for where, field in named if field]

    def attributes(self) -> dict[str, str]:
        """``fields`` with contact attribute names upper-cased, as they are sent."""
        if self.to == "contacts":
            return {field: name.upper() for field, name in self.fields.items()}
        return dict(self.fields)

    def identifier(self, value: Any) -> tuple[IdType, str]:
        """How a row's ``id_field`` value identifies its contact: (email or ext_id, the value)."""
        text = str(value).strip()
        if self.to == "list":  # members are matched by EXT_ID, as cohort lists are
            return "ext_id", text
        if self.id_type is not None:
            return self.id_type, text.lower() if self.id_type == "email" else text
        return ("email", text.lower()) if _EMAIL.match(text) else ("ext_id", text)


def _key(name: str) -> str:
    """The mapping file's spelling of a field (``list_id`` is written ``list``)."""
    return "list" if name == "list_id" else name


def _target_problem(to: str, name: str) -> str | None:
    """Why ``name`` cannot be what a field becomes in ``to``, or None."""
    if to == "contacts" and not BREVO_ATTRIBUTE_NAME.match(name):
        return (
            f"Brevo contact attribute {name!r} must be 1-255 characters of A-Z, a-z, 0-9 or "
            "'_' (no spaces)"
        )
    if to == "events" and not BREVO_EVENT_NAME.match(name):
        return (
            f"Brevo event property {name!r} must be 1-255 characters of A-Z, a-z, 0-9, '_' or '-'"
        )
    if to == "companies" and not name.strip():
        return "a company attribute needs a name"
    return None

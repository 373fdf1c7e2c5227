"""A JQL stream's schema: the one declared, or one learned from the rows Mixpanel answers.

Discovery must not spend the Query API budget, so a query without a declared ``schema`` is
cataloged with its key fields and ``additionalProperties``: any row fits. When it runs, each
answer's fields and JSON types widen the schema (never narrow it), and the stream sends a new
SCHEMA before the records of an answer that widened it: a target that makes columns from the
schema sees every field before its first value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tap_mixpanel_tajo.jql_settings import JqlQuery

JQL_MAINTENANCE = (
    "Mixpanel's JQL is in maintenance mode (no new features, no end date published; "
    "2-minute timeout, 5 GB scanned per query): prefer a saved report read through the "
    "insights stream (bookmark_ids) where one can answer"
)
#: A key field's schema until a row shows its type: any JSON value but null.
ANY_VALUE = {"type": ["string", "number", "integer", "boolean", "array", "object"]}
JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int to Python
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def json_type(value: Any) -> str:
    """The JSON schema type of one decoded JSON value."""
    for python_type, name in JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return "null"


def jql_schema(query: JqlQuery) -> dict[str, Any]:
    """The cataloged schema: the declared one, else the key fields and any other field."""
    schema = query.schema or {
        "type": "object",
        "properties": {name: dict(ANY_VALUE) for name in query.primary_keys},
        "additionalProperties": True,
    }
    how = "incremental by day" if query.incremental else "read whole each run"
    inferred = "" if query.schema else ", fields learned from its rows"
    description = f"JQL query {query.name} ({how}{inferred}). {JQL_MAINTENANCE}."
    return {**schema, "required": list(query.primary_keys), "description": description}


class InferredSchema:
    """The fields and JSON types seen so far in one stream's rows."""

    def __init__(self, base: dict[str, Any], keys: Iterable[str]) -> None:
        self.base = base
        self.keys = set(keys)
        self.seen: dict[str, set[str]] = {}

    def widen(self, rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        """The schema widened by ``rows``; None when they show nothing new."""
        grew = False
        for row in rows:
            for name, value in row.items():
                types = self.seen.setdefault(name, set())
                kind = json_type(value)
                if kind not in types:
                    types.add(kind)
                    grew = True
        if not grew:
            return None
        properties = dict(self.base["properties"])
        for name, types in self.seen.items():
            nullable = types if name in self.keys else types | {"null"}
            properties[name] = {"type": sorted(nullable)}
        return {**self.base, "properties": properties}

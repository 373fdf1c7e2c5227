"""The ``jql_queries`` setting: declared, read and checked, one :class:`JqlQuery` per stream.

Each query becomes the stream ``jql_<name>``. A mistake (a bad or repeated name, no script or
two, a ``script_file`` that cannot be read, keys missing from a declared schema) is one line
naming the key, before the first call. ``{{start_date}}`` / ``{{end_date}}`` in ``params`` make
a query incremental: the stream fills them with each window's first and last day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as ConfigMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.errors import TapConfigError

SETTING = "jql_queries"
#: The keys a query takes (anything else is a typo, refused before the first call).
JQL_KEYS = ("name", "script", "script_file", "params", "primary_keys", "schema", "replication_key")
NAME = re.compile(r"[A-Za-z0-9_]+")
PLACEHOLDER = re.compile(r"\{\{\s*(start_date|end_date)\s*\}\}")

JQL_PROPERTY = th.Property(
    SETTING,
    th.ArrayType(
        th.ObjectType(
            th.Property("name", th.StringType, required=True),
            th.Property("script", th.StringType),
            th.Property("script_file", th.StringType),
            th.Property("params", th.ObjectType()),
            th.Property("primary_keys", th.ArrayType(th.StringType), required=True),
            th.Property("schema", th.ObjectType()),
            th.Property("replication_key", th.StringType),
        )
    ),
    title="JQL queries",
    description=(
        "JQL scripts read as streams, one jql_<name> stream each: {name, script or script_file, "
        "params, primary_keys, schema, replication_key}. {{start_date}} and {{end_date}} in "
        "params are filled with each window's days (incremental from the stream's bookmark); "
        "without them the query is read whole each run. script_file is relative to the "
        "working directory (the Meltano project). Mixpanel's JQL is in maintenance mode. "
        "Unset or empty: no JQL stream."
    ),
)


@dataclass(frozen=True)
class JqlQuery:
    """One configured JQL query: its script's text and how its records are keyed."""

    name: str
    script: str
    params: dict[str, Any]
    primary_keys: tuple[str, ...]
    schema: dict[str, Any] | None
    replication_key: str | None

    @property
    def stream_name(self) -> str:
        """The stream that reads it."""
        return f"jql_{self.name}"

    @property
    def incremental(self) -> bool:
        """Whether ``params`` holds a ``{{start_date}}`` or ``{{end_date}}`` to fill."""
        return _has_placeholder(self.params)

    def params_for(self, start_date: str, end_date: str) -> dict[str, Any]:
        """``params`` with its placeholders filled with one window's days."""
        days = {"start_date": start_date, "end_date": end_date}
        filled = _fill(self.params, days)
        assert isinstance(filled, dict)
        return filled


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return bool(PLACEHOLDER.search(value))
    if isinstance(value, dict):
        return any(_has_placeholder(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(item) for item in value)
    return False


def _fill(value: Any, days: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda found: days[found.group(1)], value)
    if isinstance(value, dict):
        return {key: _fill(item, days) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, days) for item in value]
    return value


def parse_jql_queries(config: ConfigMapping[str, Any]) -> dict[str, JqlQuery]:
    """``jql_queries`` as ``{stream name: query}``, in order; a mistake is one line."""
    queries: dict[str, JqlQuery] = {}
    for index, given in enumerate(config.get(SETTING) or []):
        where = f"{SETTING}[{index}]"
        if not isinstance(given, dict):
            msg = f"{where}: must be an object {{name, script or script_file, primary_keys}}"
            raise TapConfigError(msg)
        query = _query(where, given)
        if query.stream_name in queries:
            msg = f"{where}.name: a second query named {query.name!r}; give each its own name"
            raise TapConfigError(msg)
        queries[query.stream_name] = query
    return queries


def _query(where: str, given: dict[str, Any]) -> JqlQuery:
    unknown = sorted(set(given) - set(JQL_KEYS))
    if unknown:
        msg = f"{where}: unknown key(s) {', '.join(unknown)}; a query takes {', '.join(JQL_KEYS)}"
        raise TapConfigError(msg)
    name = given.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        msg = f"{where}.name: {name!r} must be letters, digits and _ (the stream is jql_<name>)"
        raise TapConfigError(msg)
    keys = given.get("primary_keys")
    if not keys or not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        msg = (
            f"{where}.primary_keys: a list of the row fields that key a record (e.g. [distinct_id])"
        )
        raise TapConfigError(msg)
    params = given.get("params") or {}
    if not isinstance(params, dict):
        msg = f"{where}.params: must be an object (the script's params)"
        raise TapConfigError(msg)
    replication_key = given.get("replication_key")
    if replication_key and not _has_placeholder(params):
        msg = (
            f"{where}.replication_key: needs {{{{start_date}}}} or {{{{end_date}}}} in params "
            "(without them the query is read whole each run)"
        )
        raise TapConfigError(msg)
    schema = _declared_schema(where, given.get("schema"), [*keys, *filter(None, [replication_key])])
    return JqlQuery(
        name=name,
        script=_script(where, given),
        params=params,
        primary_keys=tuple(keys),
        schema=schema,
        replication_key=replication_key or None,
    )


def _script(where: str, given: dict[str, Any]) -> str:
    """The script's text: ``script``, or ``script_file`` read (relative to the working dir)."""
    script, script_file = given.get("script"), given.get("script_file")
    if bool(script) == bool(script_file):
        msg = f"{where}: give either script or script_file (one of them)"
        raise TapConfigError(msg)
    if script:
        return str(script)
    path = Path(str(script_file)).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        msg = (
            f"{where}.script_file: cannot read {str(path.absolute())!r} ({reason}); a relative "
            "path is read from the working directory (the Meltano project)"
        )
        raise TapConfigError(msg) from None
    if not text.strip():
        msg = f"{where}.script_file: {str(path.absolute())!r} is empty"
        raise TapConfigError(msg)
    return text


def _declared_schema(where: str, schema: Any, fields: list[str]) -> dict[str, Any] | None:
    """A declared record schema, which must describe the key fields; None when not declared."""
    if schema is None:
        return None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        msg = f"{where}.schema: must be a JSON schema of the record with properties"
        raise TapConfigError(msg)
    missing = [name for name in fields if name not in properties]
    if missing:
        msg = f"{where}.schema: properties lacks {', '.join(missing)} (primary or replication key)"
        raise TapConfigError(msg)
    return {"type": "object", **schema}

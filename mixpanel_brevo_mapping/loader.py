"""Reading a mapping file: the one parser both plugins call.

Every problem is one line naming the file, the line and the key, e.g.
``mappings/mixpanel-to-brevo.yml:42: event_mapping."Sign Up": must match [A-Za-z0-9_-]+``;
a file with several problems gets one line for each, in file order, so one edit fixes them all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mixpanel_brevo_mapping.model import ROUTE_FORMS, Mapping, MappingError


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
    except UnicodeDecodeError as exc:
        msg = (
            f"{display}: the mapping file is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "check that mapping_file names the mapping YAML"
        )
        raise MappingError(msg) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{display}:{mark.line + 1}" if mark else display
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        msg = f"{where}: invalid YAML: {problem}"
        raise MappingError(msg) from exc
    problems = [
        (line, f"{display}:{line}: {_key_path(loc)}: duplicate key")
        for line, loc in _duplicate_keys(node, ())  # YAML would keep the last value silently
    ]
    if data is None:
        # An empty file would skip every event and still move the tap's bookmark.
        msg = (
            f"{display}: the mapping file is empty; write its sections (see "
            "mappings/mixpanel-to-brevo.yml), or leave mapping_file unset"
        )
        raise MappingError(msg)
    if not isinstance(data, dict):
        msg = f"{display}:1: the mapping file must be a YAML mapping of sections"
        raise MappingError(msg)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(display, node, error) for error in exc.errors()]
    if problems:
        raise MappingError("\n".join(message for _, message in sorted(problems)))
    return mapping


def route_field_problems(path: str | Path, stream: str, declared: set[str]) -> list[str]:
    """One line (file, line, key) per field a stream's long route reads and its SCHEMA lacks.

    The mapping is checked when it is loaded; a stream's fields are known only when its SCHEMA
    arrives, so this is called then, before any of its records is written.
    """
    route = load_mapping(path).route_of(stream)
    if route is None:
        return []
    resolved = str(Path(path).resolve())
    display = _display_path(resolved)
    node = yaml.compose(Path(resolved).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    problems = []
    for where, field in route.stream_fields():
        if field not in declared:
            loc = ("routes", stream, *where)
            problems.append(
                f"{display}:{_line_of(node, loc)}: {_key_path(loc)}: the stream's SCHEMA has "
                f"no field {field!r}"
            )
    return problems


def _problem(display: str, node: yaml.Node | None, error: Any) -> tuple[int, str]:
    """One validation error as (line, "file:line: key: what is wrong")."""
    nested = (error.get("ctx") or {}).get("error")
    loc = _without_form_tag((*error["loc"], *getattr(nested, "loc", ())))
    line = _line_of(node, loc)
    detail = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        detail = "unknown key (see mappings/README.md for the keys this file accepts)"
    return line, f"{display}:{line}: {_key_path(loc)}: {detail}"


def _without_form_tag(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key path as written: a route's form (short or long) is pydantic's, not a key."""
    if len(loc) > 2 and loc[0] == "routes" and loc[2] in ROUTE_FORMS:
        return (*loc[:2], *loc[3:])
    return loc


def _display_path(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _key_path(loc: tuple[Any, ...]) -> str:
    return ".".join(_quote_key(part) for part in loc) or "(top level)"


def _quote_key(part: Any) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_$]+", text) else f'"{text}"'


def _duplicate_keys(
    node: yaml.Node | None, loc: tuple[str, ...]
) -> list[tuple[int, tuple[str, ...]]]:
    """The 1-based line and key path of every key written twice in one YAML mapping."""
    found: list[tuple[int, tuple[str, ...]]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                found.append((key_node.start_mark.line + 1, (*loc, key)))
            seen.add(key)
            found += _duplicate_keys(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, (*loc, str(index)))
    return found


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest YAML node that ``loc`` reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
            continue
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

"""A small subset of Mixpanel segmentation expressions, enough for incremental profile queries.

Filters (``where``): clauses joined by ``and``, each ``properties["name"] OP literal`` (OP one of
``== != > >= < <=``; literal a double-quoted string, a number, ``true`` or ``false``) or
``defined(properties["name"])`` / ``not defined(properties["name"])``. ``user["name"]`` is read as
``properties["name"]``. Segments (``on``): one ``properties["name"]``. Anything else raises
ExpressionError, which the API turns into a 400.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import Any

_COMPARE = re.compile(
    r'^(?:properties|user)\["(?P<name>[^"]+)"\]\s*(?P<op>==|!=|>=|<=|>|<)\s*'
    r'(?P<literal>"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false)$'
)
_DEFINED = re.compile(
    r'^(?P<neg>not\s+)?defined\s*\(\s*(?:properties|user)\["(?P<name>[^"]+)"\]\s*\)$'
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
Predicate = Callable[[dict[str, Any]], bool]


class ExpressionError(ValueError):
    """The expression uses syntax the sandbox does not support."""


def _split_and(text: str) -> list[str]:
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if char == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        if not quoted and text[i : i + 5].lower() == " and ":
            parts.append("".join(current).strip())
            current, i = [], i + 5
            continue
        current.append(char)
        i += 1
    parts.append("".join(current).strip())
    return parts


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clause(text: str) -> Predicate:
    if match := _DEFINED.match(text):
        name, negate = match["name"], bool(match["neg"])
        return lambda props: (name in props and props[name] is not None) != negate
    match = _COMPARE.match(text)
    if not match:
        raise ExpressionError(f"unsupported expression: {text}")
    name, compare = match["name"], _OPS[match["op"]]
    literal = json.loads(match["literal"])

    def predicate(props: dict[str, Any]) -> bool:
        if name not in props:
            return match["op"] == "!="
        value = props[name]
        if isinstance(literal, (str, bool)):
            return compare(value, literal) if type(value) is type(literal) else False
        number = _number(value)
        return number is not None and compare(number, literal)

    return predicate


def parse(expression: str) -> Predicate:
    """Compile an expression into a predicate over a properties dict."""
    text = expression.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if not text:
        raise ExpressionError("empty expression")
    clauses = [_clause(part) for part in _split_and(text)]
    return lambda props: all(clause(props) for clause in clauses)


_PROPERTY = re.compile(r'^(?:properties|user)\["(?P<name>[^"]+)"\]$')


def property_name(expression: str) -> str:
    """The property a segmenting ``on`` expression reads (``properties["name"]`` only)."""
    match = _PROPERTY.match(expression.strip())
    if not match:
        raise ExpressionError(f"unsupported segmentation expression: {expression}")
    return match["name"]

"""Settings read from the environment (``--config=ENV``): each variable must read as its type.

The SDK turns ``TAP_MIXPANEL_TAJO_LOOKBACK_DAYS=abc`` into ``int("abc")`` and a traceback that
names neither the variable nor the setting; this names both and says what to write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from singer_sdk.helpers import _typing


def env_setting_problem(
    properties: Mapping[str, Any], prefix: str, environ: Mapping[str, str]
) -> str | None:
    """Why one of the setting variables cannot be read as its setting's type; None if all can."""
    for name, schema in properties.items():
        variable = prefix + name.upper().replace("-", "_")
        value = environ.get(variable)
        if value is None:
            continue
        if _typing.is_integer_type(schema):
            try:
                int(value)
            except ValueError:
                return f"{variable}={value!r} is not a whole number: set {name} to e.g. 5"
        elif _typing.is_array_type(schema) or _typing.is_object_type(schema):
            if _typing.is_string_array_type(schema):
                continue  # the SDK also reads "a,b,c"
            kind = "array" if _typing.is_array_type(schema) else "object"
            if "string" in schema.get("type", ()):  # a list or a word: funnel_ids
                kind += ' or a word in double quotes (e.g. "all")'
            try:
                json.loads(value)
            except ValueError:
                return f"{variable} is not a JSON {kind}: set {name} as JSON text"
    return None

"""The settings' environment variables the target cannot read, refused before the SDK reads them."""

from __future__ import annotations

from collections import abc
from typing import Any

TRUE_TEXTS = ("true", "1", "yes", "on")
FALSE_TEXTS = ("false", "0", "no", "off", "")


def environment_problem(
    schema: abc.Mapping[str, Any], environ: abc.Mapping[str, str], prefix: str
) -> str | None:
    """A boolean or integer setting's environment variable the target cannot read, as one line.

    The SDK reads any text but true/1/yes/on as false (``DRY_RUN=maybe`` wrote for real) and
    ends in a traceback on an integer that is not one.
    """
    for name, spec in schema.get("properties", {}).items():
        variable = prefix + name.upper().replace("-", "_")
        text = environ.get(variable)
        if text is None:
            continue
        kinds = spec.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "boolean" in kinds and text.strip().lower() not in TRUE_TEXTS + FALSE_TEXTS:
            return f"{variable} is {text!r}: set it to true or false"
        if "integer" in kinds and not text.strip().lstrip("+-").isdigit():
            return f"{variable} is {text!r}: set it to a whole number"
    return None

"""Pieces of the official API specs the sandbox validates against (see ``extract.py``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator

HERE = Path(__file__).resolve().parent


@cache
def brevo_schemas() -> dict[str, Any]:
    """The vendored Brevo component schemas, keyed by their name in the official spec."""
    return json.loads((HERE / "brevo_schemas.json").read_text(encoding="utf-8"))


@cache
def mixpanel_params() -> dict[str, list[dict[str, Any]]]:
    """The vendored Mixpanel request parameters per operation (``extract.MIXPANEL_OPERATIONS``)."""
    return json.loads((HERE / "mixpanel_params.json").read_text(encoding="utf-8"))


@cache
def mixpanel_responses() -> dict[str, Any]:
    """The vendored 200 schemas of the report endpoints (``extract.MIXPANEL_RESPONSES``)."""
    return json.loads((HERE / "mixpanel_responses.json").read_text(encoding="utf-8"))


@cache
def brevo_validator(name: str) -> Draft7Validator:
    """A JSON Schema validator for one vendored Brevo schema."""
    return Draft7Validator(brevo_schemas()[name])


@cache
def _brevo_check(name: str) -> Any:
    """A compiled check of one vendored Brevo schema: raises on the first problem."""
    return fastjsonschema.compile(brevo_schemas()[name])


def brevo_errors(name: str, instance: Any) -> list[str]:
    """Readable messages for everything the named schema rejects in ``instance``.

    The compiled check passes a valid instance about 20 times faster than the interpreted
    validator, which otherwise capped the sandbox at a few 200-event batches a second; only an
    instance it rejects goes through the interpreted validator, for the messages.
    """
    try:
        _brevo_check(name)(instance)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        return []
    messages = []
    for error in sorted(brevo_validator(name).iter_errors(instance), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.absolute_path)
        messages.append(f"{where}: {error.message}" if where else error.message)
    return messages

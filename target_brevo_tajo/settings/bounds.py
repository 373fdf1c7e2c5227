"""The bounds a setting's value must keep, checked at start-up with a one-line message.

The schema's bounds (``minimum``, ``minLength``...) apply to numbers only, and Brevo's documented
caps are not in the schema: both are checked here, each naming the setting and what to set.
"""

from __future__ import annotations

from collections import abc
from typing import Any

from target_brevo_tajo.settings.schema import CONFIG_SCHEMA

# Brevo's documented caps (developers.brevo.com/reference/import-contacts, /docs/event-endpoints):
# a setting above one would fail every call it shapes, so it is refused at start-up instead.
DOCUMENTED_CAPS: dict[str, tuple[int, str]] = {
    "events_batch_size": (200, "events per POST /events/batch call"),
    "events_batch_max_bytes": (524_288, "bytes (512 KB) per POST /events/batch body"),
    "contacts_import_max_bytes": (10_000_000, "bytes (10 MB) per POST /contacts/import body"),
}

# Why a bound holds, where the setting's name does not say it.
BOUND_REASONS: dict[str, str] = {
    "ledger_retention_days": (
        "at the end of each run the ledger forgets the events sent longer ago than this, and "
        "the tap re-exports its lookback_days every run: keep it above the tap's lookback_days, "
        "or those events are sent again"
    ),
    "request_timeout_seconds": "a Brevo call needs time to be answered",
    "mapping_file": "set it to the mapping YAML's path, or leave it unset",
    "report_file": "set it to a file path, or leave it unset",
    "rejects_file": "set it to a file path, or leave it unset",
}


class SettingsError(ValueError):
    """A setting value the target cannot run with; the message is one line saying what to do."""


def bound_problem(config: abc.Mapping[str, Any]) -> str | None:
    """The first setting outside the bounds ``CONFIG_SCHEMA`` declares, as one line.

    A number's text form (``"0"``) is checked too: the schema's bounds apply to numbers only. A
    value of the wrong type is left to the schema's check.
    """
    for name, spec in CONFIG_SCHEMA["properties"].items():
        value = config.get(name)
        if value is None or isinstance(value, bool):
            continue
        need = None
        if isinstance(value, str) and len(value) < spec.get("minLength", 0):
            need = "empty"
        elif "minimum" in spec or "exclusiveMinimum" in spec:
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if number < spec.get("minimum", number):
                need = f"{value}: set it to {spec['minimum']} or more"
            elif number <= spec.get("exclusiveMinimum", number - 1):
                need = f"{value}: set it to more than {spec['exclusiveMinimum']}"
        if need is not None:
            reason = BOUND_REASONS.get(name)
            return f"{name} is {need}" + (f"; {reason}" if reason else "")
    return None


def cap_problem(values: abc.Mapping[str, Any]) -> str | None:
    """The first typed setting above Brevo's documented cap (``DOCUMENTED_CAPS``), as one line."""
    for name, (cap, unit) in DOCUMENTED_CAPS.items():
        if values[name] > cap:
            return (
                f"{name} is {values[name]}, above Brevo's documented cap of {cap} {unit}; "
                f"set it to {cap} or less"
            )
    return None

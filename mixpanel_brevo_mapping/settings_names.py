"""Unknown setting names, refused by both plugins at start-up.

A misspelled setting (``dry_runn: true``) is otherwise silently ignored, and the run does what the
user meant to prevent. Meltano passes a custom setting of ``meltano.yml`` in the config file but
drops an undeclared environment variable, which still reaches the plugin's environment: so both the
config and the environment are checked. It lives here because both plugins need it and may import
nothing of each other.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def plugin_settings(plugin: Any) -> dict[str, Any]:
    """A singer-sdk plugin class's settings by name: its own and the SDK's built-ins.

    The same list ``--about`` prints (``stream_maps``, ``batch_size_rows``...), so a built-in
    is never refused as unknown.
    """
    schema = copy.deepcopy(plugin.config_jsonschema)
    plugin.append_builtin_config(schema)
    return schema["properties"]


def object_settings(properties: Mapping[str, Any]) -> set[str]:
    """The settings of a config schema whose value is an object (Meltano exports each key)."""
    names = set()
    for name, prop in properties.items():
        kinds = prop.get("type")
        if "object" in (kinds if isinstance(kinds, list) else [kinds]):
            names.add(name)
    return names


def unknown_setting(
    config: Iterable[str],
    known: Iterable[str],
    *,
    environ: Mapping[str, str],
    env_prefix: str,
    objects: Iterable[str] = (),
) -> str | None:
    """One line naming the first unknown setting and the closest known one, or None.

    ``env_prefix`` is the plugin's (``TARGET_BREVO_TAJO_``). A name after it that starts with
    ``_`` is Meltano's (``TAP_X__SELECT``, an inherited plugin's ``TAP_X__COHORTS_...``), and
    ``LOGLEVEL`` is the SDK's own log level variable. ``objects`` names the object settings:
    Meltano also exports each of their keys (``TAP_X_LOOKUP_TABLE_SOURCES_PLANS``).
    """
    names = sorted(set(known))
    unknown = sorted(set(config) - set(names))
    if unknown:
        return _refusal(unknown[0], names, source=None)
    env_names = {env_prefix + name.upper().replace("-", "_"): name for name in names}
    nested = tuple(env_prefix + name.upper().replace("-", "_") + "_" for name in objects)
    for variable in sorted(environ):
        rest = variable.removeprefix(env_prefix)
        if rest == variable or rest.startswith("_") or rest == "LOGLEVEL":
            continue
        if variable not in env_names and not variable.startswith(nested):
            return _refusal(rest.lower(), names, source=variable)
    return None


def _refusal(name: str, known: list[str], *, source: str | None) -> str:
    where = f" (environment variable {source})" if source else ""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "see --about for the settings"
    return f"unknown setting '{name}'{where}: {hint}"

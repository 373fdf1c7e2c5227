"""Settings have one source: each plugin's ``config_jsonschema``, as ``--about`` prints it.

``--about --format=json`` adds the SDK's built-ins for the plugin's capabilities (stream maps,
flattening, batch, record validation...). meltano.yml declares exactly those settings, with the
Meltano kind, secrecy and default the schema implies, and docs/settings.md's tables are
``make docs``'s output. Inherited plugins (``tap-mixpanel-tajo--cohorts``) inherit all of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from settings_docs import PLUGINS, SETTINGS_DOC, about, render

MELTANO_YML = Path(__file__).resolve().parent.parent / "meltano.yml"

# JSON schema type → Meltano kind. Besides: `enum` makes `options`, and `secret` makes
# `sensitive: true` whatever the kind. A date or date-time string stays `string`: Meltano's
# `date_iso8601` kind rereads text that is not a real date with dateparser (2026-13-01 became
# 2026-01-13), and the plugin must see the text as written to refuse it.
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}
# What an inherited plugin takes from its parent rather than declaring again.
INHERITED = {"settings", "settings_group_validation", "capabilities"}


def meltano_plugins() -> list[dict[str, Any]]:
    """Every extractor and loader meltano.yml declares, inherited ones included."""
    plugins = yaml.safe_load(MELTANO_YML.read_text(encoding="utf-8"))["plugins"]
    return [*plugins["extractors"], *plugins["loaders"]]


def meltano_plugin(plugin: str) -> dict[str, Any]:
    """meltano.yml's entry of the plugin."""
    (entry,) = (entry for entry in meltano_plugins() if entry["name"] == plugin)
    return entry


def declared(plugin: str) -> dict[str, dict[str, Any]]:
    """meltano.yml's settings of the plugin, by name."""
    return {setting["name"]: setting for setting in meltano_plugin(plugin).get("settings", [])}


def schema(plugin: str) -> dict[str, dict[str, Any]]:
    """The plugin's settings as its ``--about`` lists them, SDK built-ins included."""
    return about(plugin)["settings"]["properties"]


def meltano_kind(name: str, prop: dict[str, Any]) -> str:
    """The Meltano kind a setting of this JSON schema must be declared with."""
    if "enum" in prop:
        return "options"
    json_type = prop.get("type")
    listed = [json_type] if isinstance(json_type, str) else json_type or []
    types = [t for t in listed if t != "null"]
    if sorted(types) == ["number", "string"]:
        return "string"  # a decimal Meltano must pass as text (target_brevo_tajo.settings.DECIMAL)
    if sorted(types) == ["array", "string"]:
        return "string"  # a list or a word (funnel_ids: all): Meltano's array kind refuses a word
    if len(types) != 1 or types[0] not in KINDS:
        pytest.fail(f"{name}: no Meltano kind for the JSON schema type {json_type!r}")
    return KINDS[types[0]]


def test_meltano_yml_base_plugins_are_the_plugins_checked_here():
    """Every plugin of ours (this checkout, ``pip_url: -e .``) is checked below.

    The target installs with its PostgreSQL driver (``-e .[postgres]``): a shared ledger.
    The others are the demo's plugins from PyPI, pinned to one version each.
    """
    bases = [entry for entry in meltano_plugins() if "inherit_from" not in entry]
    ours = [entry["name"] for entry in bases if entry["pip_url"] in {"-e .", "-e .[postgres]"}]
    assert sorted(ours) == sorted(PLUGINS)
    assert all("==" in entry["pip_url"] for entry in bases if entry["name"] not in PLUGINS)


def test_inherited_plugins_take_settings_and_capabilities_from_their_parent():
    """A second copy of the settings in an inherited plugin would drift like the first did."""
    copies = {
        entry["name"]: sorted(INHERITED & set(entry))
        for entry in meltano_plugins()
        if "inherit_from" in entry
    }
    assert copies
    assert copies == {name: [] for name in copies}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_yml_declares_every_setting_of_the_plugin_and_no_other(plugin: str):
    """Users find in Meltano every setting the plugin reads, SDK built-ins included."""
    names, properties = set(declared(plugin)), set(schema(plugin))
    assert names == properties, (
        f"{plugin}: meltano.yml lacks {sorted(properties - names)} "
        f"and declares {sorted(names - properties)}, which the plugin does not have"
    )


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_kinds_are_the_schema_types(plugin: str):
    """Meltano parses values by kind: a wrong kind turns 0.5 into an error or a string."""
    properties = schema(plugin)
    wrong = {
        name: f"meltano.yml says {setting.get('kind')}, the schema means {expected}"
        for name, setting in declared(plugin).items()
        if name in properties
        and setting.get("kind") != (expected := meltano_kind(name, properties[name]))
    }
    assert wrong == {}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_options_are_the_schema_enum(plugin: str):
    """Meltano offers exactly the values the plugin accepts, in the same order."""
    settings = declared(plugin)
    enums = {
        name: prop["enum"]
        for name, prop in schema(plugin).items()
        if "enum" in prop and name in settings
    }
    offered = {
        name: [option["value"] for option in settings[name].get("options", [])] for name in enums
    }
    assert enums
    assert offered == enums


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_hides_exactly_the_secret_settings(plugin: str):
    """Secrets stay out of ``meltano config`` output; other values stay visible."""
    sensitive = {name for name, setting in declared(plugin).items() if setting.get("sensitive")}
    secret = {name for name, prop in schema(plugin).items() if prop.get("secret")}
    assert secret
    assert sensitive == secret


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_defaults_are_the_schema_defaults(plugin: str):
    """A default lives in the schema; meltano.yml repeats it (``value:``) and invents none."""
    settings, properties = declared(plugin), schema(plugin)
    common = settings.keys() & properties.keys()
    values = {name: settings[name].get("value") for name in common}
    defaults = {name: properties[name].get("default") for name in common}
    assert values == defaults


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_capabilities_are_the_plugin_capabilities(plugin: str):
    """Meltano decides how to call the plugin (catalog, state...) from its capabilities."""
    declared_capabilities = set(meltano_plugin(plugin)["capabilities"])
    capabilities = set(about(plugin)["capabilities"])
    assert declared_capabilities == capabilities, (
        f"{plugin}: meltano.yml lacks {sorted(capabilities - declared_capabilities)} "
        f"and claims {sorted(declared_capabilities - capabilities)}"
    )


def test_settings_doc_tables_are_the_plugins_about():
    """docs/settings.md is the full settings reference, so it must not lag the plugins."""
    page = SETTINGS_DOC.read_text(encoding="utf-8")
    assert render(page) == page, "docs/settings.md's settings tables are stale: run make docs"

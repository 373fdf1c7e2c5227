"""Settings a plugin cannot run with are refused at start-up in one line, never a traceback.

Issue 10: ``dry_runn: true`` under the prod target was silently ignored and the run wrote for
real; ``start_date: yesterday`` gave 49 lines. Both plugins refuse an unknown name from a config
file or from their environment variables, with the setting it resembles (the SDK's built-ins,
everything ``--about`` lists, stay allowed), and a bad value with what to write instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mixpanel_brevo_mapping.settings_names import unknown_setting
from settings_docs import about
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from target_brevo_tajo.target import TargetBrevoTajo
from tests.conftest import MAPPING_FILE

KNOWN = ["dry_run", "lookback_days", "api_key"]
PREFIX = "TARGET_BREVO_TAJO_"
TAP_CONFIG = {"api_secret": "secret", "start_date": "2024-03-01T00:00:00Z"}
TARGET_CONFIG = {"api_key": "key"}


def plugin_command(module: str, *args: str, cwd, env: dict[str, str] | None = None):
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_MIXPANEL", "TARGET_"))}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**plain, **(env or {})},
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_misspelled_config_key_is_named_with_the_setting_it_resembles():
    problem = unknown_setting({"dry_runn": True}, KNOWN, environ={}, env_prefix=PREFIX)

    assert problem == "unknown setting 'dry_runn': did you mean 'dry_run'?"


def test_a_name_like_no_setting_points_to_about():
    problem = unknown_setting({"colour": "red"}, KNOWN, environ={}, env_prefix=PREFIX)

    assert problem == "unknown setting 'colour': see --about for the settings"


def test_a_misspelled_environment_variable_is_named_with_its_variable():
    environ = {"TARGET_BREVO_TAJO_DRY_RUNN": "true", "HOME": "/root"}

    problem = unknown_setting({}, KNOWN, environ=environ, env_prefix=PREFIX)

    assert problem == (
        "unknown setting 'dry_runn' (environment variable TARGET_BREVO_TAJO_DRY_RUNN): "
        "did you mean 'dry_run'?"
    )


def test_known_settings_meltano_variables_and_the_log_level_pass():
    environ = {
        "TARGET_BREVO_TAJO_DRY_RUN": "true",
        "TARGET_BREVO_TAJO__DIALECT": "brevo",  # Meltano's own extras
        "TARGET_BREVO_TAJO__COHORTS_API_KEY": "k",  # an inherited plugin's prefix
        "TARGET_BREVO_TAJO_LOGLEVEL": "debug",
        "TAP_MIXPANEL_TAJO_LOOKBACK_DAYZ": "1",  # another plugin's business
    }

    problem = unknown_setting({"dry_run": True}, KNOWN, environ=environ, env_prefix=PREFIX)

    assert problem is None


def test_meltano_variables_of_an_object_settings_keys_pass():
    # Meltano exports `lookup_table_sources: {Accounts: ...}` as a variable per key too.
    tap = "TAP_MIXPANEL_TAJO_"
    environ = {f"{tap}LOOKUP_TABLE_SOURCES_ACCOUNTS": "accounts.csv"}
    names = TapMixpanelTajo.setting_names()
    objects = TapMixpanelTajo.object_setting_names()

    assert unknown_setting({}, names, environ=environ, env_prefix=tap, objects=objects) is None
    assert unknown_setting({}, names, environ=environ, env_prefix=tap) == (
        "unknown setting 'lookup_table_sources_accounts' (environment variable "
        "TAP_MIXPANEL_TAJO_LOOKUP_TABLE_SOURCES_ACCOUNTS): did you mean 'lookup_table_sources'?"
    )
    assert "lookback_days" not in objects


def test_the_target_lets_meltanos_variables_of_stream_maps_keys_pass(monkeypatch, tmp_path):
    monkeypatch.setenv("TARGET_BREVO_TAJO_STREAM_MAPS_EVENTS", '{"ip": null}')
    config = {
        "api_key": "key",
        "mapping_file": str(MAPPING_FILE),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "dry_run": True,
    }

    TargetBrevoTajo(config=config, parse_env_config=False)  # no SettingsError
    assert "stream_maps" in TargetBrevoTajo.object_setting_names()


@pytest.mark.parametrize("plugin_class", [TapMixpanelTajo, TargetBrevoTajo])
def test_every_setting_about_lists_is_a_known_setting(plugin_class):
    """The SDK's built-ins (stream_maps, flattening_*, batch_size_rows...) are allowed."""
    names = set(about(plugin_class.name)["settings"]["properties"])

    assert {"stream_maps", "flattening_enabled"} <= names
    assert plugin_class.setting_names() == names


@pytest.mark.parametrize(
    ("module", "config", "typo", "expected"),
    [
        (
            "tap_mixpanel_tajo",
            TAP_CONFIG,
            {"lookback_dayz": 1},
            "tap-mixpanel-tajo: unknown setting 'lookback_dayz': did you mean 'lookback_days'?",
        ),
        (
            "target_brevo_tajo",
            TARGET_CONFIG,
            {"dry_runn": True},
            "target-brevo-tajo: unknown setting 'dry_runn': did you mean 'dry_run'?",
        ),
    ],
    ids=["tap", "target"],
)
def test_an_unknown_key_in_a_config_file_stops_the_plugin_in_one_line(
    tmp_path, module, config, typo, expected
):
    (tmp_path / "config.json").write_text(json.dumps({**config, **typo}))

    result = plugin_command(module, "--config", "config.json", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].endswith(expected)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("module", "env", "expected"),
    [
        (
            "tap_mixpanel_tajo",
            {"TAP_MIXPANEL_TAJO_API_SECRET": "s", "TAP_MIXPANEL_TAJO_LOOKBACK_DAYZ": "1"},
            "tap-mixpanel-tajo: unknown setting 'lookback_dayz' (environment variable "
            "TAP_MIXPANEL_TAJO_LOOKBACK_DAYZ): did you mean 'lookback_days'?",
        ),
        (
            "target_brevo_tajo",
            {"TARGET_BREVO_TAJO_API_KEY": "k", "TARGET_BREVO_TAJO_DRY_RUNN": "true"},
            "target-brevo-tajo: unknown setting 'dry_runn' (environment variable "
            "TARGET_BREVO_TAJO_DRY_RUNN): did you mean 'dry_run'?",
        ),
    ],
    ids=["tap", "target"],
)
def test_an_unknown_environment_variable_stops_the_plugin_in_one_line(
    tmp_path, module, env, expected
):
    result = plugin_command(module, "--config=ENV", cwd=tmp_path, env=env)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].endswith(expected)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("module", "config", "expected"),
    [
        (
            "tap_mixpanel_tajo",
            {**TAP_CONFIG, "start_date": "yesterday"},
            "tap-mixpanel-tajo: start_date 'yesterday' is not a date: write a real day as "
            "YYYY-MM-DD (e.g. 2026-11-01) or an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)",
        ),
        (
            "tap_mixpanel_tajo",
            {**TAP_CONFIG, "end_date": "2026-13-01"},
            "tap-mixpanel-tajo: end_date '2026-13-01' is not a date: write a real day as "
            "YYYY-MM-DD (e.g. 2026-11-01) or an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)",
        ),
        (
            "tap_mixpanel_tajo",
            {**TAP_CONFIG, "data_residency": "UK"},
            "tap-mixpanel-tajo: invalid configuration: 'UK' is not one of ['US', 'EU', 'IN'] "
            "in config['data_residency']",
        ),
        (
            "tap_mixpanel_tajo",
            {**TAP_CONFIG, "base_url": "localhost:8080"},
            "tap-mixpanel-tajo: invalid configuration: 'localhost:8080' does not match "
            "'^https?://[^\\\\s/]+' in config['base_url']",
        ),
        (
            "target_brevo_tajo",
            {**TARGET_CONFIG, "base_url": "api.brevo.com/v3"},
            "target-brevo-tajo: invalid configuration: 'api.brevo.com/v3' does not match "
            "'^https?://[^\\\\s/]+' in config['base_url']",
        ),
        (
            "target_brevo_tajo",
            {**TARGET_CONFIG, "deletion_policy": "nuke"},
            "target-brevo-tajo: invalid configuration: 'nuke' is not one of "
            "['keep', 'unlist', 'delete'] in config['deletion_policy']",
        ),
    ],
    ids=["start-date", "end-date", "residency", "tap-url", "target-url", "target-enum"],
)
def test_a_bad_setting_value_stops_the_plugin_in_one_line(tmp_path, module, config, expected):
    (tmp_path / "config.json").write_text(json.dumps(config))

    result = plugin_command(module, "--config", "config.json", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].endswith(expected)
    assert "Traceback" not in result.stderr


def test_the_seed_mappings_example_credentials_are_no_credentials(tmp_path, mapping_file):
    """Meltano always passes mapping_file, whose seed example account made every config complete."""
    config = {"mapping_file": str(mapping_file), "start_date": "2024-03-01T00:00:00Z"}
    (tmp_path / "config.json").write_text(json.dumps(config))

    result = plugin_command("tap_mixpanel_tajo", "--config", "config.json", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"tap-mixpanel-tajo: no Mixpanel credentials: the mapping file {mapping_file} holds the "
        "seed's example service account; set service_account_username and "
        "service_account_secret (e.g. in .env)"
    )

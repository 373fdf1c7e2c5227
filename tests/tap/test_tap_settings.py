"""The tap's settings: read once, typed, with the schema's defaults; mistakes are its own."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.errors import TapConfigError, TapError
from tap_mixpanel_tajo.settings import CONFIG_SCHEMA, SCHEMA_DEFAULTS, TapSettings
from tap_mixpanel_tajo.tap import TapMixpanelTajo

PACKAGE = Path(__file__).resolve().parent.parent / "tap_mixpanel_tajo"
CREDENTIALS = {
    "project_id": "12345",
    "service_account_username": "u",
    "service_account_secret": "s",
}


def test_every_setting_of_the_schema_is_a_field_and_takes_its_default():
    settings = TapSettings.from_config({})

    assert set(CONFIG_SCHEMA["properties"]) == set(TapSettings.__dataclass_fields__)
    for name, default in SCHEMA_DEFAULTS.items():
        assert getattr(settings, name) == default, name
    assert settings.cohort_ids == ()
    assert settings.group_keys == {}


def test_numbers_from_a_config_file_become_the_types_the_fields_declare():
    settings = TapSettings.from_config(
        {"max_retry_wait_seconds": Decimal("2.5"), "lookback_days": Decimal(3), "cohort_ids": [7]}
    )

    assert settings.max_retry_wait_seconds == 2.5
    assert isinstance(settings.max_retry_wait_seconds, float)
    assert settings.lookback_days == 3
    assert isinstance(settings.lookback_days, int)
    assert settings.cohort_ids == (7,)


def test_a_date_setting_is_kept_as_text_and_a_day_object_as_its_iso_form():
    settings = TapSettings.from_config(
        {"start_date": dt.date(2026, 11, 1), "end_date": "2026-11-30T00:00:00Z"}
    )

    assert (settings.start_date, settings.end_date) == ("2026-11-01", "2026-11-30T00:00:00Z")


def test_the_secrets_stay_out_of_the_settings_repr():
    settings = TapSettings.from_config({"service_account_secret": "s3cr3t", "api_secret": "k3y"})

    assert "s3cr3t" not in repr(settings)
    assert "k3y" not in repr(settings)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"start_date": "2026-13-01"}, "start_date '2026-13-01' is not a date"),
        ({"start_date": "2026-11-02", "end_date": "2026-11-01"}, "start_date 2026-11-02 is after"),
        ({"project_timezone": "Mars/Olympus"}, "project_timezone 'Mars/Olympus' is not an IANA"),
        ({"group_keys": [{"data_group_id": "1"}]}, "group_keys[0]: needs a group_key"),
        ({"group_keys": [{"group_key": "company_id"}]}, "company_id has no data_group_id"),
    ],
)
def test_a_date_timezone_or_group_key_mistake_is_a_tap_config_error_not_an_http_one(
    config, message
):
    with pytest.raises(TapConfigError) as raised:
        TapSettings.from_config(config)

    assert not isinstance(raised.value, MixpanelError)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_http_clients_error_is_a_tap_error_so_the_command_line_ends_both_alike():
    assert issubclass(MixpanelError, TapError)
    assert issubclass(TapConfigError, TapError)
    assert not issubclass(TapConfigError, MixpanelError)


def test_a_date_mistake_ends_the_tap_in_one_line_at_start():
    with pytest.raises(SystemExit) as stop:
        TapMixpanelTajo(config={**CREDENTIALS, "end_date": "20260113"}, parse_env_config=False)

    assert str(stop.value).startswith("tap-mixpanel-tajo: end_date '20260113' is not a date")


def test_the_tap_and_its_streams_read_settings_only_through_tap_settings():
    """No ``config.get(name, default)`` or ``config[name]`` repeats a default the schema holds."""
    readers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            value = getattr(node, "value", None) if isinstance(node, ast.Subscript) else None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                value = node.func.value if node.func.attr == "get" else None
            if isinstance(value, ast.Attribute) and value.attr == "config":
                readers.append(f"{path.name}:{node.lineno}")

    assert readers == []

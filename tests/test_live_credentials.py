"""Credential checks against the real APIs: two read-only calls, no data moved.

They run only when ``LIVE_TESTS=1`` and the plugins' credentials are in the environment (or in
``.env``); CI sets neither, so they skip there.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.conftest import ROOT

pytestmark = pytest.mark.live


def live_setting(name: str) -> str:
    """A setting from the environment or the project's ``.env``; skips the test without it."""
    if os.environ.get("LIVE_TESTS") != "1":
        pytest.skip("live API tests run only with LIVE_TESTS=1")
    env_file = Path(ROOT / ".env")
    values = dict(os.environ)
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#"):
                values.setdefault(key.strip(), value.strip())
    if not values.get(name):
        pytest.skip(f"{name} is not set")
    return values[name]


def test_the_mixpanel_service_account_reaches_the_project():
    config = {
        "project_id": live_setting("TAP_MIXPANEL_TAJO_PROJECT_ID"),
        "service_account_username": live_setting("TAP_MIXPANEL_TAJO_SERVICE_ACCOUNT_USERNAME"),
        "service_account_secret": live_setting("TAP_MIXPANEL_TAJO_SERVICE_ACCOUNT_SECRET"),
        "data_residency": os.environ.get("TAP_MIXPANEL_TAJO_DATA_RESIDENCY", "US"),
    }
    tap = TapMixpanelTajo(config=config, parse_env_config=False)

    cohorts = tap.client.list_cohorts()  # one Query API call of the hourly 60

    assert isinstance(cohorts, list)


def test_the_brevo_api_key_is_accepted():
    response = httpx.get(
        "https://api.brevo.com/v3/account",
        headers={"api-key": live_setting("TARGET_BREVO_TAJO_API_KEY")},
        timeout=30,
    )

    assert response.status_code == 200, response.text[:200]

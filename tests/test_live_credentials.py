"""Credential checks against the real APIs: read-only calls, no data moved.

Run them with ``LIVE_TESTS=1 .venv/bin/pytest tests/test_live_credentials.py -m live``
(``LIVE_ENVIRONMENT`` picks the Meltano environment, default ``prod``). They read the settings
exactly as Meltano resolves them for that environment (``meltano.yml``, the environment, ``.env``)
with ``meltano config --unsafe print``, fail on a blank secret, and end in one line when an API
cannot be reached. CI sets no ``LIVE_TESTS``, so the live checks skip there; the helpers they use
are checked below without any network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import httpx
import pytest

from tap_mixpanel_tajo.tap import TapMixpanelTajo
from target_brevo_tajo.brevo.client import BrevoClient, BrevoError
from tests.conftest import ROOT

# The settings without which a plugin cannot reach its API, by plugin.
REQUIRED_SECRETS = {
    "tap-mixpanel-tajo": ("service_account_username", "service_account_secret", "project_id"),
    "target-brevo-tajo": ("api_key",),
}


def unquoted(value: Any) -> Any:
    """A value pasted with its quotes (``"xkeysib-…"``) as the API expects it, without them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def checked(plugin: str, config: dict[str, Any]) -> dict[str, Any]:
    """The plugin's config with quotes stripped; a blank required secret fails the check."""
    config = {name: unquoted(value) for name, value in config.items()}
    blank = [name for name in REQUIRED_SECRETS[plugin] if not str(config.get(name) or "").strip()]
    if blank:
        pytest.fail(f"{plugin}: {', '.join(blank)} is blank in this environment; set it in .env")
    return config


def meltano_config(plugin: str) -> dict[str, Any]:
    """The plugin's settings as Meltano resolves them for ``LIVE_ENVIRONMENT``."""
    if os.environ.get("LIVE_TESTS") != "1":
        pytest.skip("live API tests run only with LIVE_TESTS=1")
    meltano = shutil.which("meltano") or str(ROOT / ".venv" / "bin" / "meltano")
    environment = os.environ.get("LIVE_ENVIRONMENT", "prod")
    result = subprocess.run(
        [meltano, f"--environment={environment}", "config", "--unsafe", "print", plugin],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"meltano could not resolve {plugin}'s settings: {result.stderr[-300:]}")
    return checked(plugin, json.loads(result.stdout))


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


@pytest.mark.live
def test_the_mixpanel_service_account_reaches_the_project():
    config = meltano_config("tap-mixpanel-tajo")
    tap = TapMixpanelTajo(config=config, parse_env_config=False)

    try:
        cohorts = tap.client.list_cohorts()  # one Query API call of the hourly 60
    except (httpx.HTTPError, OSError) as exc:
        pytest.fail(f"Mixpanel cannot be reached: {one_line(exc)}")

    assert isinstance(cohorts, list)


@pytest.mark.live
def test_the_brevo_api_key_is_accepted():
    config = meltano_config("target-brevo-tajo")
    client = BrevoClient(config.get("base_url") or "https://api.brevo.com/v3", config["api_key"])

    try:
        account = client.call("GET", "/account")
    except BrevoError as exc:
        pytest.fail(one_line(exc))

    assert account.get("email")


def test_a_key_pasted_with_its_quotes_is_sent_without_them():
    config = checked("target-brevo-tajo", {"api_key": '"xkeysib-abc"'})

    assert config["api_key"] == "xkeysib-abc"


def test_a_blank_secret_fails_the_check_instead_of_skipping_it():
    with pytest.raises(pytest.fail.Exception, match="api_key is blank"):
        checked("target-brevo-tajo", {"api_key": "  "})
    with pytest.raises(pytest.fail.Exception, match="service_account_secret is blank"):
        checked(
            "tap-mixpanel-tajo",
            {"service_account_username": "sa", "service_account_secret": "", "project_id": "1"},
        )


def test_an_unreachable_brevo_is_one_line():
    client = BrevoClient("http://127.0.0.1:9/v3", "key", max_retries=0, sleep=lambda _s: None)

    with pytest.raises(BrevoError) as failure:
        client.call("GET", "/account")

    assert "\n" not in str(failure.value)
    assert str(failure.value).startswith("Brevo unreachable")

"""No credential reaches a message the tap raises or logs, in any form Mixpanel may echo it.

Issue 17: a Mixpanel error body that echoed the request's ``Authorization`` header was printed
as it came, the base64 of ``user:secret`` included.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest
import respx
from click.testing import CliRunner

from tap_mixpanel_tajo.client import Credentials, MixpanelClient, MixpanelError
from tap_mixpanel_tajo.redaction import Redactor
from tap_mixpanel_tajo.tap import TapMixpanelTajo

EXPORT = "https://data.mixpanel.com/api/2.0/export"
SECRET = "s3cr3t+/value=="
SERVICE_ACCOUNT = Credentials(
    service_account_username="sa-user", service_account_secret=SECRET, project_id="1"
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def refused_export(credentials: Credentials, body: str, caplog) -> str:
    """Everything the client said about an export Mixpanel refused (400) with ``body``."""
    caplog.set_level(logging.DEBUG)
    respx.get(EXPORT).respond(400, text=body)
    client = MixpanelClient(credentials, sleep=lambda _: None)
    with pytest.raises(MixpanelError) as info:
        list(client.iter_export("2024-01-01", "2024-01-01"))
    return str(info.value) + "\n" + "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("credentials", "echoed", "hidden"),
    [
        (
            SERVICE_ACCOUNT,
            f"Authorization: Basic {b64('sa-user:' + SECRET)}",
            [SECRET, b64("sa-user:" + SECRET)],
        ),
        (Credentials(api_secret=SECRET), f"Basic {b64(SECRET + ':')}", [SECRET, b64(SECRET + ":")]),
        (Credentials(oauth_token="tok-abc.def", project_id="1"), "Bearer tok-abc.def", ["tok-abc"]),
        (SERVICE_ACCOUNT, f"secret={SECRET}", [SECRET]),
        (SERVICE_ACCOUNT, f"GET /export?api_secret={quote(SECRET, safe='')}", [quote(SECRET)]),
        (SERVICE_ACCOUNT, f"secret {b64(SECRET)} in base64", [b64(SECRET)]),
        (SERVICE_ACCOUNT, "via https://proxy-user:proxy-pass@proxy.test/", ["proxy-pass"]),
        (SERVICE_ACCOUNT, "Authorization: Basic b3RoZXI6Y3JlZGVudGlhbA==", ["b3RoZXI6Y3JlZGVu"]),
    ],
    ids=[
        "service-account-base64",
        "api-secret-base64",
        "bearer-token",
        "plain-secret",
        "percent-encoded-secret",
        "secret-alone-base64",
        "url-password",
        "someone-elses-basic-header",
    ],
)
@respx.mock
def test_an_error_body_echoing_a_credential_is_redacted(credentials, echoed, hidden, caplog):
    said = refused_export(credentials, f'{{"error": "bad request", "echo": "{echoed}"}}', caplog)

    assert "Mixpanel refused export 2024-01-01..2024-01-01 (HTTP 400)" in said
    assert "***" in said
    for text in hidden:
        assert text not in said


def test_redaction_leaves_ordinary_text_alone():
    redact = Redactor(["s3cr3t"], pairs=["user:s3cr3t"])

    text = "export 2024-01-01..2024-01-01: 12 records, basic checks passed, https://host/path"
    assert redact(text) == text


@respx.mock
def test_a_fatal_line_of_the_tap_carries_no_credential(tmp_path, caplog):
    """The tap's own logs and last line go through the same redaction as the client's messages."""
    caplog.set_level(logging.INFO)
    respx.get("http://mixpanel.test/lookup-tables").respond(
        400, text=f"Authorization: Basic {b64('sa-user:' + SECRET)} secret={SECRET}"
    )
    config = {
        "base_url": "http://mixpanel.test",
        "project_id": "1",
        "service_account_username": "sa-user",
        "service_account_secret": SECRET,
        "start_date": "2024-03-01",
        "end_date": "2024-03-01",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))

    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--config", str(tmp_path / "config.json")])

    assert result.exit_code != 0
    said = f"{result.output}\n{result.exception}\n{caplog.text}"
    assert "Mixpanel refused lookup tables list (HTTP 400)" in said
    assert SECRET not in said
    assert b64("sa-user:" + SECRET) not in said
    assert "Basic ***" in said

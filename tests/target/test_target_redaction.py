"""No credential appears in a log line, the report or a reject, in any form Brevo may echo it.

Issue 17 item 12: an error body echoing the request's credentials was printed as it came.
"""

from __future__ import annotations

import base64
import json
import logging
from types import SimpleNamespace

import httpx
import pytest
import respx

from target_brevo_tajo.redaction import add_secret, redact
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import event, singer_input

BREVO = "https://api.brevo.com/v3"
API_KEY = "xkeysib-0123456789abcdef0123456789abcdef-AbCdEf0123456789"


@pytest.fixture
def config(config, tmp_path) -> dict:
    return {
        **config,
        "api_key": API_KEY,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "report_file": str(tmp_path / "report.json"),
        "max_retries": 0,
    }


def echoing(status: int):
    """Brevo answering with a body that echoes the key in several forms."""
    forms = [
        API_KEY,
        API_KEY[:20],  # cut short
        base64.b64encode(API_KEY.encode()).decode(),
        f"Bearer {API_KEY}",
    ]
    return httpx.Response(status, json={"code": "unauthorized", "message": " ".join(forms)})


def test_an_error_body_echoing_the_key_is_redacted_in_the_log_the_report_and_the_exit_line(
    config, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    with respx.mock(base_url=BREVO) as brevo:
        brevo.post("/events/batch").mock(return_value=echoing(401))
        with pytest.raises(SystemExit) as ended:
            TargetBrevoTajo.invoke(
                config=SimpleNamespace(config=config, parse_env=False),
                file_input=singer_input(event("Purchase", "k-1")),
            )

    exit_line = str(ended.value)
    report = (tmp_path / "report.json").read_text()
    assert json.loads(report)["error"].startswith("Brevo rejected the API key (HTTP 401")
    for text in (caplog.text, report, exit_line):
        assert API_KEY[:20] not in text
        assert base64.b64encode(API_KEY.encode()).decode()[:20] not in text
        assert "***" in text


def test_a_reject_reason_echoing_the_key_is_redacted_in_the_report_and_the_rejects_file(
    config, tmp_path
):
    def refused(request: httpx.Request) -> httpx.Response:
        body = {"errors": [{"eventIndex": 0, "message": f"bad event for key {API_KEY}"}]}
        return httpx.Response(400, json=body)

    with respx.mock(base_url=BREVO) as brevo:
        brevo.post("/events/batch").mock(side_effect=refused)
        TargetBrevoTajo.invoke(
            config=SimpleNamespace(config=config, parse_env=False),
            file_input=singer_input(event("Purchase", "k-2")),
        )

    report = (tmp_path / "report.json").read_text()
    rejects = (tmp_path / "rejects.jsonl").read_text()
    assert json.loads(report)["events"]["rejected"] == 1
    for text in (report, rejects):
        assert "bad event for key ***" in text
        assert API_KEY[8:] not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("Authorization: Basic dXNlcjpzZWNyZXQ=", "Authorization: Basic ***"),
        ("api-key xkeysib-1234abcd", "api-key ***"),
        ("smtp xsmtpsib-99-zz", "smtp ***"),
        ("secret s3cr3t-value, quoted s3cr3t%2Fvalue", "secret ***, quoted ***"),
    ],
)
def test_every_form_a_credential_takes_is_redacted(text, expected):
    add_secret("s3cr3t-value")
    add_secret("s3cr3t/value")

    assert redact(text) == expected

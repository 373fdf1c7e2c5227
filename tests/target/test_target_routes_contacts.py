"""A stream routed to Brevo contacts by a long-form route, against the sandbox's Brevo."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.brevo_sandbox import run, target_config

pytestmark = pytest.mark.sandbox(profiles=0, events=0, days=1)

ROUTE = """\
routes:
  crm_accounts: {to: contacts, id_field: email, fields: {first_name: FIRSTNAME, seats: seats}}
"""
SCHEMA = {
    "type": "SCHEMA",
    "stream": "crm_accounts",
    "key_properties": [],
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": ["string", "null"]},
            "first_name": {"type": ["string", "null"]},
            "seats": {"type": ["integer", "null"]},
        },
    },
}


def account(email: str | None, first_name: str = "Ada", seats: int = 3) -> dict[str, Any]:
    record = {"email": email, "first_name": first_name, "seats": seats}
    return {"type": "RECORD", "stream": "crm_accounts", "record": record}


def accounts_input(*records: dict[str, Any]) -> io.StringIO:
    messages = [SCHEMA, *records, {"type": "STATE", "value": {"bookmarks": {}}}]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def brevo_contacts(sandbox: SandboxServer) -> dict[str, dict]:
    listed = http.get(f"{sandbox.url}/_sandbox/brevo/contacts", timeout=30).json()["contacts"]
    return {contact["email"]: contact for contact in listed}


def test_a_changed_contact_is_sent_and_an_unchanged_one_is_not(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTE)
    run(config, accounts_input(account("Ada@Example.com"), account("bob@example.com", "Bob")))

    again = run(
        config,
        accounts_input(account("ada@example.com", seats=5), account("bob@example.com", "Bob")),
    )

    contacts = brevo_contacts(sandbox)
    assert contacts["ada@example.com"]["attributes"]["SEATS"] == 5
    assert contacts["ada@example.com"]["attributes"]["FIRSTNAME"] == "Ada"
    assert contacts["bob@example.com"]["attributes"]["FIRSTNAME"] == "Bob"
    report = again.run.report.contacts
    assert (report.received, report.updated, report.unchanged, report.created) == (2, 1, 1, 0)


def test_a_row_without_its_id_field_is_a_named_reject(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, ROUTE)

    target = run(config, accounts_input(account(None), account("ada@example.com")))

    report = target.run.report
    assert (report.contacts.rejected, report.contacts.created) == (1, 1)
    assert report.rejected_records["crm_accounts"] == 1
    assert list(brevo_contacts(sandbox)) == ["ada@example.com"]


def test_an_id_that_is_no_email_address_is_an_ext_id_unless_id_type_says_email(
    sandbox, tmp_path: Path
):
    by_email = ROUTE.replace("id_field: email,", "id_field: email, id_type: email,")
    run(target_config(sandbox, tmp_path, ROUTE), accounts_input(account("u-7")))
    with sandbox.state.lock:
        (contact,) = sandbox.state.brevo.contacts.values()
    assert contact["attributes"]["EXT_ID"] == "u-7"

    strict = tmp_path / "strict"
    strict.mkdir()
    target = run(target_config(sandbox, strict, by_email), accounts_input(account("u-8")))

    assert target.run.report.contacts.rejected == 1
    assert target.run.report.rejected_records["crm_accounts"] == 1

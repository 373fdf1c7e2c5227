"""The contacts sink: Mixpanel profiles become typed Brevo contacts, and only changes travel."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from target_brevo_tajo.contacts.account_attributes import MissingAttributes
from target_brevo_tajo.contacts.attributes import (
    AttributeType,
    ConversionError,
    infer_type,
    normalise_phone,
    to_brevo_value,
)
from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import profile, profiles_input

BREVO = "https://api.brevo.com/v3"
ACCOUNT_ATTRIBUTES = [
    {"name": "EMAIL", "category": "normal", "type": "text"},
    {"name": "FIRSTNAME", "category": "normal", "type": "text"},
    {"name": "LASTNAME", "category": "normal", "type": "text"},
    {"name": "SMS", "category": "normal", "type": "text"},
    {"name": "EXT_ID", "category": "normal", "type": "text"},
    {"name": "CITY", "category": "normal", "type": "text"},
    {"name": "REGION", "category": "normal", "type": "text"},
    {"name": "COUNTRY", "category": "normal", "type": "text"},
    {"name": "PLAN_TYPE", "category": "normal", "type": "text"},
    {"name": "COMPANY", "category": "normal", "type": "text"},
    {"name": "SIGNUP_DATE", "category": "normal", "type": "date"},
    {"name": "LTV", "category": "normal", "type": "float"},
]
ADA = {
    "$email": "Ada@Example.com",
    "$first_name": "Ada",
    "$last_name": "Lovelace",
    "$phone": "06 12 34 56 78",
    "$city": "Paris",
    "$region": "Ile-de-France",
    "$country_code": "FR",
    "plan": "pro",
    "company": "Analytical Engines",
    "signup_date": "2026-03-04T10:11:12",
    "total_revenue": "1234.50",
    "$last_seen": "2026-11-20T10:00:00",
}


@pytest.fixture
def config(config: dict, tmp_path: Path) -> dict:
    return {**config, "rejects_file": str(tmp_path / "rejects.jsonl"), "import_poll_seconds": 0.01}


@pytest.fixture
def brevo(respx_mock):
    """A Brevo account: attributes, imports that complete on the second poll, lists."""
    respx_mock.get("/contacts/attributes").respond(200, json={"attributes": ACCOUNT_ATTRIBUTES})
    respx_mock.post("/contacts/import").respond(202, json={"processId": 77})
    respx_mock.get("/processes/77").mock(
        side_effect=[
            httpx.Response(200, json={"id": 77, "status": "in_process", "name": "IMPORTUSER"}),
            httpx.Response(200, json={"id": 77, "status": "completed", "name": "IMPORTUSER"}),
        ]
        * 10
    )
    return respx_mock


def run_target(
    config: dict, *records: dict, state: dict | None = None, complete_refresh: str | None = None
) -> TargetBrevoTajo:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = lambda _seconds: None
    target.listen(profiles_input(*records, state=state, complete_refresh=complete_refresh))
    return target


def imported_rows(respx_mock) -> list[dict]:
    return [
        row
        for call in respx_mock.calls
        if call.request.url.path.endswith("/contacts/import")
        for row in json.loads(call.request.content)["jsonBody"]
    ]


def import_bodies(respx_mock) -> list[dict]:
    return [
        json.loads(call.request.content)
        for call in respx_mock.calls
        if call.request.url.path.endswith("/contacts/import")
    ]


pytestmark = pytest.mark.respx(base_url=BREVO, assert_all_called=False)


def test_every_seed_mapping_line_becomes_a_typed_attribute(brevo, config):
    target = run_target(config, profile("user-1", **ADA))

    (row,) = imported_rows(brevo)
    assert row == {
        "email": "ada@example.com",
        "attributes": {
            "EXT_ID": "user-1",
            "FIRSTNAME": "Ada",
            "LASTNAME": "Lovelace",
            "SMS": "+33612345678",
            "CITY": "Paris",
            "REGION": "Ile-de-France",
            "COUNTRY": "FR",
            "PLAN_TYPE": "pro",
            "COMPANY": "Analytical Engines",
            "SIGNUP_DATE": "2026-03-04",
            "LTV": 1234.5,
        },
    }
    (body,) = import_bodies(brevo)
    assert body["listIds"] == [15]  # the seed's lists.all_users
    assert body["updateExistingContacts"] is True
    assert body["emptyContactsAttributes"] is False
    assert target.run.report.contacts.created == 1


def test_the_ledger_records_an_import_only_after_brevo_completed_it(brevo, config):
    run_target(config, profile("user-1", **ADA))

    polls = [c for c in brevo.calls if c.request.url.path.endswith("/processes/77")]
    assert len(polls) == 2
    known = ContactLedger(Ledger(config["ledger_url"])).contacts_by_id(["user-1"])
    assert known["user-1"].email == "ada@example.com"


def test_a_failed_import_is_not_recorded_and_ends_with_one_line(respx_mock, config):
    respx_mock.get("/contacts/attributes").respond(200, json={"attributes": ACCOUNT_ATTRIBUTES})
    respx_mock.post("/contacts/import").respond(202, json={"processId": 5})
    respx_mock.get("/processes/5").respond(200, json={"id": 5, "status": "failed", "error": "x"})

    with pytest.raises(Exception, match="import process 5 ended failed"):
        run_target(config, profile("user-1", **ADA))

    assert ContactLedger(Ledger(config["ledger_url"])).contacts_by_id(["user-1"]) == {}


def test_a_rerun_with_no_change_makes_zero_contact_writes(brevo, config):
    run_target(config, profile("user-1", **ADA), profile("user-2", **{**ADA, "$email": "b@x.io"}))
    brevo.calls.clear()

    target = run_target(
        config, profile("user-1", **ADA), profile("user-2", **{**ADA, "$email": "b@x.io"})
    )

    assert imported_rows(brevo) == []
    assert target.run.report.contacts.unchanged == 2


def test_changing_one_profile_updates_exactly_that_contact(brevo, config):
    run_target(config, profile("user-1", **ADA), profile("user-2", **{**ADA, "$email": "b@x.io"}))
    brevo.calls.clear()

    target = run_target(
        config,
        profile("user-1", **{**ADA, "plan": "enterprise"}),
        profile("user-2", **{**ADA, "$email": "b@x.io"}),
    )

    assert [r["attributes"]["EXT_ID"] for r in imported_rows(brevo)] == ["user-1"]
    assert imported_rows(brevo)[0]["attributes"]["PLAN_TYPE"] == "enterprise"
    assert target.run.report.contacts.updated == 1


def test_bad_values_are_reported_and_the_contact_still_syncs_by_ext_id(brevo, config, tmp_path):
    target = run_target(
        config,
        profile("user-1", **{**ADA, "$email": "not-an-email"}),
        profile("user-2", **{"$phone": "0612345678", "$email": "c@x.io"}),
    )

    rows = {r["attributes"]["EXT_ID"]: r for r in imported_rows(brevo)}
    assert "email" not in rows["user-1"]
    assert "SMS" not in rows["user-2"]
    assert target.run.report.contacts.values_rejected == {
        "EMAIL: invalid email": 1,
        "SMS: without a country": 1,
    }
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert {r["distinct_id"] for r in rejects} == {"user-1", "user-2"}
    assert all(" left out: " in r["reason"] for r in rejects)


def test_an_sms_owned_by_another_contact_is_left_out_and_reported(brevo, config):
    ContactLedger(Ledger(config["ledger_url"])).record_contacts(
        [SyncedContact(distinct_id="someone-else", sms="+33612345678")]
    )

    target = run_target(config, profile("user-1", **ADA))

    assert "SMS" not in imported_rows(brevo)[0]["attributes"]
    assert target.run.report.contacts.values_rejected == {
        "SMS: already owned by another contact": 1
    }


def test_missing_attributes_stop_the_run_before_any_contact_is_written(respx_mock, config):
    respx_mock.get("/contacts/attributes").respond(
        200,
        json={"attributes": [a for a in ACCOUNT_ATTRIBUTES if a["name"] not in ("LTV", "CITY")]},
    )

    with pytest.raises(MissingAttributes, match="no contact attribute CITY, LTV") as stopped:
        run_target(config, profile("user-1", **ADA))

    assert "create_missing_attributes: true" in str(stopped.value)
    assert imported_rows(respx_mock) == []
    assert ContactLedger(Ledger(config["ledger_url"])).contacts_by_id(["user-1"]) == {}


def test_a_value_the_attributes_type_refused_is_sent_once_the_account_takes_it(respx_mock, config):
    plans = {"name": "PLAN_TYPE", "category": "category", "type": "category"}
    others = [a for a in ACCOUNT_ATTRIBUTES if a["name"] != "PLAN_TYPE"]
    respx_mock.get("/contacts/attributes").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "attributes": [
                        *others,
                        {**plans, "enumeration": [{"value": 1, "label": "free"}]},
                    ]
                },
            ),
            httpx.Response(
                200,
                json={
                    "attributes": [
                        *others,
                        {
                            **plans,
                            "enumeration": [
                                {"value": 1, "label": "free"},
                                {"value": 2, "label": "pro"},
                            ],
                        },
                    ]
                },
            ),
        ]
    )
    respx_mock.post("/contacts/import").respond(202, json={"processId": 1})
    respx_mock.get("/processes/1").respond(200, json={"id": 1, "status": "completed"})
    run_target(config, profile("user-1", **ADA))
    assert "PLAN_TYPE" not in imported_rows(respx_mock)[0]["attributes"]  # "pro": no such option
    respx_mock.calls.clear()

    target = run_target(config)  # the option was added in Brevo; the profile did not change

    (row,) = imported_rows(respx_mock)
    assert row["attributes"]["PLAN_TYPE"] == 2
    assert row["attributes"]["CITY"] == "Paris"
    assert target.run.report.contacts.left_out_resent == 1
    assert target.run.report.contacts.received == 0


def test_missing_attributes_are_created_with_a_type_when_asked(respx_mock, config):
    respx_mock.get("/contacts/attributes").respond(
        200,
        json={
            "attributes": [a for a in ACCOUNT_ATTRIBUTES if a["name"] not in ("LTV", "SIGNUP_DATE")]
        },
    )
    created = respx_mock.post(url__regex=r"/contacts/attributes/normal/\w+").respond(201)
    respx_mock.post("/contacts/import").respond(202, json={"processId": 1})
    respx_mock.get("/processes/1").respond(200, json={"id": 1, "status": "completed"})

    run_target(
        {**config, "create_missing_attributes": True},
        profile("user-1", **ADA),  # total_revenue "1234.50": a number written as text here...
        profile("user-2", **{**ADA, "$email": "b@x.io", "total_revenue": 99.5}),  # ...a number here
    )

    made = {
        c.request.url.path.rsplit("/", 1)[1]: json.loads(c.request.content) for c in created.calls
    }
    assert made == {"SIGNUP_DATE": {"type": "date"}, "LTV": {"type": "float"}}
    attributes = imported_rows(respx_mock)[0]["attributes"]
    assert attributes["SIGNUP_DATE"] == "2026-03-04"
    assert attributes["LTV"] == 1234.5  # the numeric string, typed as the float attribute


def test_a_merged_device_contact_takes_the_users_id_instead_of_being_duplicated(brevo, config):
    ledger = Ledger(config["ledger_url"])
    known = ContactLedger(ledger)
    known.record_contacts([SyncedContact(distinct_id="$device:d1")])
    ledger.learn_aliases({"$device:d1": "user-1"})
    renamed = brevo.put("/contacts/$device:d1").respond(204)

    target = run_target(config, profile("user-1", **ADA))

    assert json.loads(renamed.calls.last.request.content) == {"ext_id": "user-1"}
    assert renamed.calls.last.request.url.params["identifierType"] == "ext_id"
    assert set(known.contacts_by_id(["$device:d1", "user-1"])) == {"user-1"}
    assert target.run.report.contacts.merged == 1


@pytest.mark.parametrize(
    ("policy", "expected_call"),
    [
        ("keep", None),
        ("unlist", ("POST", "/v3/contacts/lists/15/contacts/remove")),
        ("delete", ("DELETE", "/v3/contacts/user-2")),
    ],
)
def test_profiles_gone_at_a_complete_full_refresh_follow_the_deletion_policy(
    brevo, config, policy, expected_call
):
    brevo.post("/contacts/lists/15/contacts/remove").respond(201, json={"contacts": {}})
    brevo.delete("/contacts/user-2").respond(204)
    config = {**config, "deletion_policy": policy}
    run_target(config, profile("user-1", **ADA), profile("user-2", **{**ADA, "$email": "b@x.io"}))
    brevo.calls.clear()

    target = run_target(
        config, profile("user-1", full_refresh_id="R2", **ADA), complete_refresh="R2"
    )

    writes = [
        (c.request.method, c.request.url.path)
        for c in brevo.calls
        if c.request.method in ("POST", "DELETE") and "import" not in c.request.url.path
    ]
    assert writes == ([expected_call] if expected_call else [])
    assert target.run.report.contacts.gone_from_mixpanel == 1


def test_an_unfinished_full_refresh_deletes_nothing(brevo, config):
    config = {**config, "deletion_policy": "delete"}
    run_target(config, profile("user-1", **ADA), profile("user-2", **{**ADA, "$email": "b@x.io"}))

    target = run_target(
        config,
        profile("user-1", full_refresh_id="R3", **ADA),
        # The tap never confirmed R3 complete; its STATE layout is no proof to the target.
        state={"bookmarks": {"profiles": {"last_full_refresh": "R3"}}},
    )

    assert target.run.report.contacts.gone_from_mixpanel == 0
    assert not [c for c in brevo.calls if c.request.method == "DELETE"]


def test_a_checkpoint_of_another_run_deletes_nothing(brevo, config):
    config = {**config, "deletion_policy": "delete"}
    run_target(config, profile("user-1", **ADA), profile("user-2", **{**ADA, "$email": "b@x.io"}))

    target = run_target(
        config, profile("user-1", full_refresh_id="R4", **ADA), complete_refresh="R3"
    )

    assert target.run.report.contacts.gone_from_mixpanel == 0
    assert not [c for c in brevo.calls if c.request.method == "DELETE"]


def test_phone_numbers_become_e164_in_the_profiles_country():
    assert normalise_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalise_phone("+44 20 7946 0958", None) == "+442079460958"
    assert normalise_phone("0049 30 901820", "FR") == "+4930901820"
    with pytest.raises(ConversionError, match="no country code"):
        normalise_phone("0612345678", None)


def test_values_take_the_brevo_attribute_type():
    assert to_brevo_value("12.5", AttributeType("LTV", "float")) == 12.5
    assert to_brevo_value(3, AttributeType("LTV", "float")) == 3.0
    assert to_brevo_value("yes", AttributeType("OPT", "boolean")) is True
    assert to_brevo_value(1700000000, AttributeType("D", "date")) == "2023-11-14"
    assert to_brevo_value("2026-03-04T10:11:12Z", AttributeType("D", "date")) == "2026-03-04"
    assert to_brevo_value(42.0, AttributeType("T", "text")) == "42"
    assert to_brevo_value(Decimal("99.5"), AttributeType("LTV", "float")) == 99.5
    assert infer_type(Decimal("99.5")) == "float"
    assert infer_type("1234.50") == "float"
    assert infer_type("01234") == "text"  # a zip code, not a number
    assert infer_type("2026-03-04T10:11:12") == "date"
    assert to_brevo_value("Gold", AttributeType("C", "category", enumeration=((1, "Gold"),))) == 1
    with pytest.raises(ConversionError):
        to_brevo_value("soon", AttributeType("D", "date"))


def test_numbers_of_impossible_length_are_rejected_but_unlisted_ranges_are_kept():
    assert normalise_phone("07700 900123", "GB") == "+447700900123"  # a reserved range
    with pytest.raises(ConversionError, match="wrong length"):
        normalise_phone("06 12", "FR")


def test_imports_are_filled_up_to_the_byte_cap(brevo, config):
    profiles = [profile(f"user-{i}", **{**ADA, "$email": f"u{i}@x.io"}) for i in range(6)]

    target = run_target({**config, "contacts_import_max_bytes": 1200}, *profiles)

    bodies = [c.request.content for c in brevo.calls if c.request.url.path.endswith("/import")]
    assert len(bodies) > 1
    assert all(len(body) <= 1200 for body in bodies)
    assert sum(len(json.loads(b)["jsonBody"]) for b in bodies) == 6
    assert target.run.report.contacts.imports == len(bodies)


def test_a_dry_run_reads_the_account_but_writes_nothing(respx_mock, config):
    respx_mock.get("/contacts/attributes").respond(
        200, json={"attributes": [a for a in ACCOUNT_ATTRIBUTES if a["name"] != "LTV"]}
    )
    Ledger(config["ledger_url"]).learn_aliases({"$device:d1": "user-1"})
    ContactLedger(Ledger(config["ledger_url"])).record_contacts(
        [SyncedContact(distinct_id="$device:d1")]
    )

    target = run_target(
        {**config, "dry_run": True, "create_missing_attributes": True}, profile("user-1", **ADA)
    )

    assert [c.request.method for c in respx_mock.calls] == ["GET"]
    # Counted as the real run would do it: the contact of the alias carried over, not created.
    report = target.run.report.contacts
    assert (report.created, report.merged, report.updated) == (0, 1, 1)
    assert target.run.report.contacts.created_attributes == ["LTV (float, dry run: not created)"]

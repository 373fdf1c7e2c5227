"""The events sink: Mixpanel events become Brevo events, each $insert_id once."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import respx
from click.testing import CliRunner
from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError

from mixpanel_brevo_mapping import aliases_in
from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.events.ledger import EventLedger, event_key
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.settings import Settings
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import EVENT_TIME, event, singer_input

BREVO = "https://api.brevo.com/v3"


@pytest.fixture
def config(config: dict, tmp_path: Path) -> dict:
    return {
        **config,
        "report_file": str(tmp_path / "report.json"),
        "rejects_file": str(tmp_path / "rejects.jsonl"),
    }


def run_target(config: dict, *records: dict, sleeps: list[float] | None = None) -> TargetBrevoTajo:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = (sleeps if sleeps is not None else []).append
    target.listen(singer_input(*records))
    return target


def sent_events(route: respx.Route) -> list[dict]:
    return [e for call in route.calls for e in json.loads(call.request.content)["events"]]


def accepted(request: httpx.Request) -> httpx.Response:
    count = len(json.loads(request.content)["events"])
    return httpx.Response(202, json={"count": count, "message": "Events queued"})


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_mapped_events_are_renamed_and_unmapped_ones_skipped_and_counted(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    target = run_target(
        config,
        event("Purchase", "ins-1", price=19.99, currency="EUR"),
        event("Sign Up", "ins-2"),
        event("Session Start", "ins-3"),
        event("Session Start", "ins-4"),
    )

    sent = sent_events(route)
    assert [e["event_name"] for e in sent] == ["order_completed", "customer_created"]
    assert sent[0]["identifiers"] == {"ext_id": "user-1"}
    assert sent[0]["event_date"] == "2026-11-20T10:00:00Z"
    assert sent[0]["event_properties"] == {
        "mp_insert_id": "ins-1",  # traceable back to Mixpanel
        "price": 19.99,
        "currency": "EUR",
    }
    report = target.run.report.to_dict()["events"]
    assert report["sent"] == 2
    assert report["skipped_unmapped_by_name"] == {"Session Start": 2}


@respx.mock(base_url=BREVO)
def test_an_insert_id_reaches_brevo_once_within_a_run_and_across_runs(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    first = run_target(config, event("Purchase", "ins-1"), event("Purchase", "ins-1"))
    second = run_target(config, event("Purchase", "ins-1"), event("Purchase", "ins-2"))

    assert [e["event_name"] for e in sent_events(route)] == ["order_completed"] * 2
    assert first.run.report.events.deduplicated_in_run == 1
    assert second.run.report.events.deduplicated_by_ledger == 1
    assert second.run.report.events.sent == 1


@respx.mock(base_url=BREVO)
def test_an_outage_leaves_its_calls_in_doubt_and_the_rerun_resends_only_what_brevo_lacks(
    respx_mock, config
):
    config = {**config, "events_batch_size": 2, "max_retries": 1, "events_settle_seconds": 0}
    config["events_calls_in_flight"] = 1  # which call meets the outage must not be left to chance
    calls = {"n": 0}

    def first_call_then_outage(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return accepted(request) if calls["n"] == 1 else httpx.Response(503)

    respx_mock.post("/events/batch").mock(side_effect=first_call_then_outage)
    lookups = respx_mock.get("/events").mock(
        return_value=httpx.Response(200, json={"count": 0, "events": []})
    )
    records = [event("Purchase", f"ins-{i}") for i in range(5)]
    with pytest.raises(SystemExit, match="unconfirmed after 2 attempts"):
        TargetBrevoTajo.invoke(  # as the CLI runs it: a failing run releases its claims
            config=SimpleNamespace(config=config, parse_env=False),
            file_input=singer_input(*records),
        )
    # Each 503 was settled by look-ups (two: once more before any resend), never resent blindly.
    after_503 = [
        respx_mock.calls[i + 1].request.method
        for i, call in enumerate(respx_mock.calls)
        if call.response.status_code == 503
    ]
    assert after_503 == ["GET", "GET"]
    assert lookups.call_count >= 4

    respx_mock.reset()
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)
    respx_mock.get("/events").mock(
        return_value=httpx.Response(200, json={"count": 0, "events": []})
    )
    rerun = run_target(config, *records)

    assert sorted(e["event_properties"]["mp_insert_id"] for e in sent_events(route)) == [
        "ins-2",
        "ins-3",
        "ins-4",
    ]
    assert rerun.run.report.events.deduplicated_by_ledger == 4


@respx.mock(base_url=BREVO)
def test_partial_batch_failure_records_accepted_events_and_reports_each_rejection(
    respx_mock, config, tmp_path
):
    respx_mock.post("/events/batch").mock(
        return_value=httpx.Response(
            207,
            json={
                "status": "partiallyQueued",
                "total_events": 3,
                "successful_events": 2,
                "failed_events": 1,
                "errors": [{"eventIndex": [1], "message": "invalid event_date"}],
            },
        )
    )
    records = [event("Purchase", f"ins-{i}") for i in range(3)]

    target = run_target(config, *records)

    report = target.run.report.to_dict()["events"]
    assert report["sent"] == 2
    assert report["rejected_by_reason"] == {"Brevo: invalid event_date": 1}
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert rejects[0]["insert_id"] == "ins-1"
    ledger = Ledger(config["ledger_url"])
    assert EventLedger(ledger).sent_event_keys(
        [event_key("Purchase", f"ins-{i}", EVENT_TIME) for i in range(3)]
    ) == {
        event_key("Purchase", "ins-0", EVENT_TIME),
        event_key("Purchase", "ins-2", EVENT_TIME),
    }


@respx.mock(base_url=BREVO)
def test_batches_fill_to_the_count_and_byte_caps(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    run_target({**config, "events_batch_size": 3}, *[event("Purchase", f"c-{i}") for i in range(7)])
    assert sorted(len(json.loads(c.request.content)["events"]) for c in route.calls) == [1, 3, 3]

    route.reset()
    big = "x" * 1000
    run_target(
        {**config, "events_batch_max_bytes": 2500},
        *[event("Purchase", f"b-{i}", note=big) for i in range(4)],
    )
    sizes = [len(c.request.content) for c in route.calls]
    assert len(sizes) == 2
    assert all(size <= 2500 for size in sizes)


@respx.mock(base_url=BREVO)
def test_property_names_are_made_valid_and_every_change_is_reported(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    target = run_target(
        config,
        event("Purchase", "p-1", **{"$browser": "Firefox", "Plan Name": "pro", "utm.source": "ad"}),
        event("Purchase", "p-2", huge="y" * 60_000, small=1),
    )

    first, second = sent_events(route)
    assert first["event_properties"] == {
        "mp_insert_id": "p-1",
        "mp_browser": "Firefox",
        "Plan_Name": "pro",
        "utm_source": "ad",
    }
    assert second["event_properties"] == {"mp_insert_id": "p-2", "small": 1}
    report = target.run.report.to_dict()["events"]
    assert report["renamed_properties"] == {
        "$insert_id -> mp_insert_id": 2,
        "$browser -> mp_browser": 1,
        "Plan Name -> Plan_Name": 1,
        "utm.source -> utm_source": 1,
    }
    assert report["dropped_properties"] == {"over 50 KB: huge": 1}


@respx.mock(base_url=BREVO)
def test_anonymous_device_events_wait_for_login_then_go_to_the_identified_contact(
    respx_mock, config
):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    first = run_target(config, event("Page View", "a-1", "$device:d1", device_id="d1"))
    second = run_target(
        config,
        event("Sign Up", "a-2", "user-9", device_id="d1", user_id="user-9"),
        event("Page View", "a-3", "$device:d1", device_id="d1"),
    )

    assert first.run.report.events.skipped_anonymous == 1
    assert [e["identifiers"]["ext_id"] for e in sent_events(route)] == ["user-9", "user-9"]
    assert second.run.report.events.attributed_to_identified_user == 1


@respx.mock(base_url=BREVO)
def test_the_email_known_to_the_ledger_identifies_the_contact(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)
    ContactLedger(Ledger(config["ledger_url"])).record_contacts(
        [SyncedContact(distinct_id="user-1", email="ada@example.com")]
    )

    run_target(config, event("Purchase", "e-1"))

    assert sent_events(route)[0]["identifiers"] == {
        "ext_id": "user-1",
        "email_id": "ada@example.com",
    }


@respx.mock(base_url=BREVO)
def test_rate_limited_calls_wait_for_brevos_reset_then_succeed(respx_mock, config):
    limited = httpx.Response(
        429,
        headers={"x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "7"},
        json={"code": "too_many_requests", "message": "Too many requests"},
    )
    route = respx_mock.post("/events/batch").mock(
        side_effect=[limited, httpx.Response(202, json={"count": 1, "message": "ok"})]
    )
    sleeps: list[float] = []

    target = run_target(config, event("Purchase", "r-1"), sleeps=sleeps)

    assert route.call_count == 2
    assert any(7 <= s < 8 for s in sleeps)
    assert target.run.report.retries == 1


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_dry_run_counts_everything_and_writes_nothing(respx_mock, config):
    route = respx_mock.post("/events/batch")

    target = run_target({**config, "dry_run": True}, event("Purchase", "d-1"))

    assert route.call_count == 0
    assert target.run.report.events.sent == 1
    assert EventLedger(Ledger(config["ledger_url"])).sent_event_keys(["anything"]) == set()


@respx.mock(base_url=BREVO)
def test_the_sync_report_is_written_as_json(respx_mock, config, tmp_path):
    respx_mock.post("/events/batch").mock(side_effect=accepted)

    run_target(config, event("Purchase", "j-1"), event("Search", "j-2"))

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["events"]["sent"] == 1
    assert report["events"]["skipped_unmapped"] == 1
    assert report["api_calls"] == {"total": 1, "POST /events/batch": 1}


def test_records_without_identity_are_rejected_with_a_reason(config):
    target = run_target(config, event("Purchase", "n-1", distinct_id=None))

    assert target.run.report.events.rejected == {
        "no distinct_id: the event belongs to no contact": 1
    }


@respx.mock(base_url=BREVO)
def test_a_bad_api_key_ends_the_run_with_one_line_saying_what_to_do(respx_mock, config, tmp_path):
    respx_mock.post("/events/batch").mock(
        return_value=httpx.Response(401, json={"code": "unauthorized", "message": "Key not found"})
    )
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    input_file = tmp_path / "input.jsonl"
    input_file.write_text(singer_input(event("Purchase", "k-1")).getvalue())

    result = CliRunner().invoke(
        TargetBrevoTajo.cli, ["--config", str(config_file), "--input", str(input_file)]
    )

    assert result.exit_code == 1
    message = str(result.exception)  # what Python prints on stderr as the process ends
    assert message.startswith("target-brevo-tajo: Brevo rejected the API key (HTTP 401")
    assert "set api_key" in message
    assert "\n" not in message
    assert "xkeysib-test-secret" not in message + result.output


@respx.mock(base_url=BREVO)
def test_original_id_merge_events_attribute_an_anonymous_ids_events_to_the_user(respx_mock, config):
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    target = run_target(
        config,
        event("$identify", "m-1", "user-7", **{"$anon_id": "anon-3", "$identified_id": "user-7"}),
        event("Purchase", "m-2", "anon-3"),
    )

    assert [e["identifiers"]["ext_id"] for e in sent_events(route)] == ["user-7"]
    assert target.run.report.events.identity_events == 1
    assert target.run.report.events.skipped_unmapped == {}


def test_every_kind_of_identity_merge_names_its_canonical_id():
    assert aliases_in(event("Page View", "x", "u1", device_id="d1", user_id="u1")["record"]) == {
        "$device:d1": "u1"
    }
    assert aliases_in(
        event("$identify", "x", "u1", **{"$anon_id": "a1", "$identified_id": "u1"})["record"]
    ) == {"a1": "u1"}
    assert aliases_in(event("$create_alias", "x", "u1", alias="mail@x.io")["record"]) == {
        "mail@x.io": "u1"
    }
    assert aliases_in(event("$merge", "x", "u1", **{"$distinct_ids": ["u1", "a9"]})["record"]) == {
        "a9": "u1"
    }


@respx.mock(base_url=BREVO, assert_all_called=False)
def test_a_dry_run_leaves_the_ledger_as_it_was(respx_mock, config):
    run_target(
        {**config, "dry_run": True},
        event("Page View", "z-1", "user-5", device_id="d5", user_id="user-5"),
        event("Purchase", "z-2"),
    )

    ledger = Ledger(config["ledger_url"])
    assert ledger.canonical_ids(["$device:d5"]) == {}
    assert EventLedger(ledger).sent_event_keys([event_key("Purchase", "z-2", EVENT_TIME)]) == set()


def test_decimal_settings_may_come_as_text_as_meltano_passes_them_from_the_environment(config):
    target = TargetBrevoTajo(
        config={**config, "import_poll_seconds": "0.2", "events_settle_seconds": "5"},
        parse_env_config=False,
    )

    assert target.run.settings.import_poll_seconds == 0.2
    assert target.run.settings.events_settle_seconds == 5.0
    with pytest.raises(ConfigValidationError, match="Config validation failed") as refused:
        TargetBrevoTajo(config={**config, "import_poll_seconds": "soon"}, parse_env_config=False)
    assert "'soon' does not match" in refused.value.errors[0]


def test_settings_take_their_declared_types_whatever_json_numbers_became():
    settings = Settings.from_config(
        {
            "api_key": "k",
            "events_batch_size": Decimal("3"),
            "import_poll_seconds": Decimal("0.2"),
            "dry_run": None,
        }
    )

    assert settings.events_batch_size == 3
    assert isinstance(settings.events_batch_size, int)
    assert settings.import_poll_seconds == 0.2
    assert isinstance(settings.import_poll_seconds, float)
    assert settings.dry_run is False


@respx.mock(base_url=BREVO)
def test_the_next_batch_is_read_and_sent_while_a_call_waits_for_brevos_answer(respx_mock, config):
    config = {**config, "batch_size_rows": 2, "events_batch_size": 2}  # one call a batch
    second_call_arrived = threading.Event()
    first_call_saw_the_second: list[bool] = []
    lock = threading.Lock()

    def answer_the_first_call_once_the_second_arrived(request: httpx.Request) -> httpx.Response:
        with lock:
            first = not first_call_saw_the_second and not second_call_arrived.is_set()
            if first:
                first_call_saw_the_second.append(False)
            else:
                second_call_arrived.set()
        if first:
            first_call_saw_the_second[0] = second_call_arrived.wait(timeout=10)
        return accepted(request)

    route = respx_mock.post("/events/batch").mock(
        side_effect=answer_the_first_call_once_the_second_arrived
    )
    records = [event("Purchase", f"ins-{i}") for i in range(4)]

    target = run_target(config, *records)

    assert first_call_saw_the_second == [True]
    assert sorted(e["event_properties"]["mp_insert_id"] for e in sent_events(route)) == [
        f"ins-{i}" for i in range(4)
    ]
    assert target.run.report.events.sent == 4


@respx.mock(base_url=BREVO)
def test_a_state_passes_on_only_once_every_event_before_it_is_accepted(
    respx_mock, config, monkeypatch
):
    config = {**config, "batch_size_rows": 2, "events_batch_size": 2}
    sent_when_state_passed: list[int] = []
    monkeypatch.setattr(
        Target,
        "_write_state_message",
        lambda self, _state: sent_when_state_passed.append(self.run.report.events.sent),
    )
    respx_mock.post("/events/batch").mock(side_effect=accepted)

    run_target(config, *[event("Purchase", f"ins-{i}") for i in range(6)])

    assert sent_when_state_passed == [6]


@respx.mock(base_url=BREVO)
def test_a_batchs_last_call_is_filled_by_the_next_batchs_events(respx_mock, config):
    config = {**config, "batch_size_rows": 3, "events_batch_size": 2}
    route = respx_mock.post("/events/batch").mock(side_effect=accepted)

    target = run_target(config, *[event("Purchase", f"ins-{i}") for i in range(6)])

    assert [len(json.loads(call.request.content)["events"]) for call in route.calls] == [2, 2, 2]
    assert target.run.report.events.sent == 6

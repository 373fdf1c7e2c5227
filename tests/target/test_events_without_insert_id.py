"""Events without ``$insert_id``: a key that identity merges do not move, and Brevo can find.

Issue 18, item 5: their key hashed ``distinct_id``, which a merge rewrites, so a re-export after
a merge sent them again (20 of 20); and their Brevo payload had no ``mp_insert_id``, so a call in
doubt holding them could not be settled from ``GET /events`` and a lost answer doubled them.
The records here are the tap's own, built from export lines as Mixpanel writes them.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.streams.export_records import ExportLine, line_record, to_record
from target_brevo_tajo.target import TargetBrevoTajo
from tests.admin_http import http
from tests.brevo_sandbox import sandbox_config
from tests.singer_messages import EVENTS_SCHEMA

TIME = 1763632800  # 2026-11-20T10:00:00Z


def export_line(name: str, **properties: Any) -> bytes:
    return json.dumps({"event": name, "properties": properties}).encode()


def tap_record(line: bytes) -> dict[str, Any]:
    """The record the tap writes for one export line, ``properties`` decoded."""
    record = line_record(msgspec.json.decode(line, type=ExportLine), None)
    record["properties"] = msgspec.json.decode(record["properties"])
    return record


def key(line: bytes) -> str:
    return tap_record(line)["insert_id"]


def before_and_after_merges(n: int) -> tuple[bytes, bytes]:
    """Event ``n`` as exported before and after the identity merge that named its user.

    Even ``n``: Simplified ID Merge, the device's events get the user's id and ``$user_id``.
    Odd ``n``: Original ID Merge, the anonymous id becomes the canonical one, and the export
    shows the id the event was sent with as ``$distinct_id_before_identity``.
    """
    common = {"time": TIME + n, "plan": "pro", "amount": 10 + n, "cart": {"b": 1, "a": [n]}}
    if n % 2 == 0:
        before = export_line(
            "Purchase", distinct_id=f"$device:d-{n}", **{"$device_id": f"d-{n}"}, **common
        )
        merged = {"$user_id": f"user-{n}", "$device_id": f"d-{n}"}
    else:
        before = export_line("Purchase", distinct_id=f"anon-{n}", **common)
        merged = {"$distinct_id_before_identity": f"anon-{n}"}
    # Exported later, its properties in another order, nested ones too.
    after = export_line(
        "Purchase",
        cart={"a": [n], "b": 1},
        **merged,
        **{k: v for k, v in reversed(common.items()) if k != "cart"},
        distinct_id=f"user-{n}",
    )
    return before, after


# The tap's key ------------------------------------------------------------------------------------


def test_an_event_without_insert_id_keeps_its_key_through_an_identity_merge():
    for n in range(2):
        before, after = before_and_after_merges(n)
        assert tap_record(before)["distinct_id"] != tap_record(after)["distinct_id"]
        assert key(before) == key(after)
        assert key(before) == to_record(json.loads(before), None)["insert_id"]


def test_the_key_ignores_what_mixpanel_adds_to_each_copy_it_ingests():
    first = export_line(
        "Sign Up",
        time=TIME,
        distinct_id="u",
        plan="pro",
        mp_processing_time_ms=1763632801000,
        **{"$mp_api_timestamp_ms": 1763632800500, "$mp_api_endpoint": "api.mixpanel.com"},
    )
    copy = export_line(
        "Sign Up",
        time=TIME,
        distinct_id="u",
        plan="pro",
        mp_processing_time_ms=1763640000000,
        **{
            "$mp_api_timestamp_ms": 1763639999000,
            "$mp_api_endpoint": "api-eu.mixpanel.com",
            "$import": True,
            "$mp_event_size": 412,
        },
    )
    assert key(first) == key(copy)


@pytest.mark.parametrize(
    "other",
    [
        {"name": "Add to Cart"},
        {"time": TIME + 1},
        {"$device_id": "d-2"},
        {"plan": "free"},
        {"cart": {"items": 2}},
        {"$city": "Lyon"},
    ],
    ids=["name", "time", "device", "property", "nested-property", "geolocation"],
)
def test_events_without_insert_id_that_differ_in_what_they_are_have_different_keys(other):
    event = {"name": "Sign Up", "time": TIME, "$device_id": "d-1", "plan": "pro"}
    event["cart"] = {"items": 1}
    changed = {**event, **other}
    assert key(export_line(**event)) != key(export_line(**changed))


def test_properties_beyond_a_floats_range_are_hashed_as_exported_not_a_crash():
    def raw_key(ratio: bytes) -> str:
        line = b'{"event": "Sign Up", "properties": {"time": 1763632800, "ratio": %s}}' % ratio
        return line_record(msgspec.json.decode(line, type=ExportLine), None)["insert_id"]

    assert raw_key(b"1e400") == raw_key(b"1e400") != raw_key(b"2e400")
    assert len(raw_key(b"1e400")) == 32


def test_an_events_own_insert_id_is_its_key_unchanged():
    line = export_line("Sign Up", time=TIME, distinct_id="u", **{"$insert_id": "abc-1"})
    assert key(line) == "abc-1"
    assert len(key(export_line("Sign Up", time=TIME, distinct_id="u"))) == 32


# Through the target, against the sandbox's Brevo --------------------------------------------------


pytestmark = pytest.mark.sandbox(profiles=5, events=10, days=1)


@pytest.fixture
def config(sandbox, mapping_file: Path, tmp_path: Path) -> dict:
    return sandbox_config(
        sandbox,
        mapping_file,
        tmp_path,
        anonymous_events="send",
        events_settle_seconds=0.2,
        request_timeout_seconds=5,
    )


def target_input(lines: list[bytes]) -> io.StringIO:
    """The tap's output for these export lines: schema, records, a STATE."""
    records = [{"type": "RECORD", "stream": "events", "record": tap_record(x)} for x in lines]
    state = {"type": "STATE", "value": {"bookmarks": {"events": {}}}}
    messages = [EVENTS_SCHEMA, *records, state]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def run_target(config: dict, lines: list[bytes]) -> TargetBrevoTajo:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.listen(target_input(lines))
    return target


def held_in_brevo(sandbox: SandboxServer) -> Counter[int]:
    """How many times Brevo holds each event, told apart by its ``amount``."""
    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]
    return Counter(e["event_properties"]["amount"] - 10 for e in events)


def test_events_without_insert_id_reexported_after_an_identity_merge_are_sent_once(sandbox, config):
    exports = [before_and_after_merges(n) for n in range(20)]

    first = run_target(config, [before for before, _ in exports])
    rerun = run_target(config, [after for _, after in exports])

    assert held_in_brevo(sandbox) == dict.fromkeys(range(20), 1)
    assert (first.run.report.events.sent, rerun.run.report.events.sent) == (20, 0)


def test_a_lost_answer_for_events_without_insert_id_is_settled_from_brevo_not_resent(
    sandbox, config
):
    fault = {"api": "brevo", "method": "POST", "path": "/events/batch"}
    fault |= {"kind": "after_processing", "status": 502}
    http.post(f"{sandbox.url}/_sandbox/faults", json=fault, timeout=30).raise_for_status()
    lines = [before for before, _ in (before_and_after_merges(n) for n in range(20))]

    target = run_target(config, lines)

    assert held_in_brevo(sandbox) == dict.fromkeys(range(20), 1)
    report = target.run.report.events
    assert report.calls_in_doubt == 1
    assert (report.found_in_brevo_when_settling, report.resent_after_settling) == (20, 0)
    stored = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]
    assert {e["event_properties"]["mp_insert_id"] for e in stored} == {
        tap_record(line)["insert_id"] for line in lines
    }

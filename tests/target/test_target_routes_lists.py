"""A stream routed to a Brevo list by a long-form route, against the sandbox's Brevo."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.lists.routed import RoutedListSink
from tests.admin_http import http
from tests.brevo_sandbox import run, target_config

pytestmark = pytest.mark.sandbox(profiles=5, events=20, days=1)

SCHEMA = {
    "type": "SCHEMA",
    "stream": "jql_buyers",
    "key_properties": ["distinct_id"],
    "schema": {"type": "object", "properties": {"distinct_id": {"type": ["string", "null"]}}},
}
STATE = {"type": "STATE", "value": {"bookmarks": {"jql_buyers": {}}}}


def route(mode: str) -> str:
    return f"routes:\n  jql_buyers: {{to: list, list: 16, id_field: distinct_id, mode: {mode}}}\n"


def buyers(*ids: str | None, state: bool = True) -> io.StringIO:
    rows = [{"type": "RECORD", "stream": "jql_buyers", "record": {"distinct_id": i}} for i in ids]
    messages = [SCHEMA, *rows, *([STATE] if state else [])]
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def list_16(sandbox: SandboxServer) -> set[str]:
    lists = http.get(f"{sandbox.url}/_sandbox/brevo/lists").json()["lists"]
    contacts = http.get(f"{sandbox.url}/_sandbox/brevo/contacts").json()["contacts"]
    ext_ids = {c["id"]: c["attributes"].get("EXT_ID") for c in contacts}
    (buyers_list,) = [lst for lst in lists if lst["id"] == 16]
    return {ext_ids[i] for i in buyers_list["contactIds"]}


def test_a_mirror_list_loses_a_member_who_left_the_stream(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, route("mirror"))
    run(config, buyers("b-1", "b-2", "b-3"))
    assert list_16(sandbox) == {"b-1", "b-2", "b-3"}

    target = run(config, buyers("b-1", "b-2", "b-2"))

    assert list_16(sandbox) == {"b-1", "b-2"}
    (line,) = target.run.report.to_dict()["cohorts"]
    assert (line["listId"], line["removed"], line["snapshotComplete"]) == (16, 1, True)
    report = target.run.report.cohort_members
    assert (report.received, report.already_in_list, report.deduplicated) == (3, 2, 1)


def test_rows_no_state_followed_remove_no_one(sandbox, tmp_path: Path):
    config = target_config(sandbox, tmp_path, route("mirror"))
    run(config, buyers("b-1", "b-2"))

    target = run(config, buyers("b-1", state=False))

    assert list_16(sandbox) == {"b-1", "b-2"}
    (line,) = target.run.report.to_dict()["cohorts"]
    assert (line["removed"], line["snapshotComplete"]) == (0, False)


def test_an_additive_list_only_adds_and_a_row_without_its_id_is_a_named_reject(
    sandbox, tmp_path: Path
):
    config = target_config(sandbox, tmp_path, route("additive"))
    run(config, buyers("b-1", "b-2"))

    target = run(config, buyers("b-3", None))

    assert list_16(sandbox) == {"b-1", "b-2", "b-3"}
    assert target.run.report.cohort_members.rejected == 1
    assert target.run.report.rejected_records["jql_buyers"] == 1


def test_a_wider_schema_mid_stream_keeps_the_lists_snapshot_whole(
    sandbox, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(RoutedListSink, "MAX_SIZE_DEFAULT", 1)  # each row drains on its own
    config = target_config(sandbox, tmp_path, route("mirror"))
    run(config, buyers("b-1", "b-2", "b-3"))
    properties = {**SCHEMA["schema"]["properties"], "purchases": {"type": ["integer", "null"]}}
    wider = {**SCHEMA, "schema": {"type": "object", "properties": properties}}
    lines = buyers("b-1", "b-2").getvalue().splitlines()
    lines.insert(2, json.dumps(wider))  # after the first row, drained before it

    target = run(config, io.StringIO("\n".join(lines) + "\n"))

    assert list_16(sandbox) == {"b-1", "b-2"}
    (line,) = target.run.report.to_dict()["cohorts"]
    assert (line["membersCount"], line["removed"]) == (2, 1)

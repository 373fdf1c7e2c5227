"""The cohorts and cohort_members streams: selection, records, Engage paging and snapshots."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import ClassVar
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from click.testing import CliRunner
from singer_sdk import Stream, Tap

from mixpanel_brevo_mapping import CONTACT_PROFILE_PROPERTIES, MappingError, load_mapping
from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.client import MixpanelError
from tap_mixpanel_tajo.dates import utc_text
from tap_mixpanel_tajo.errors import TapConfigError
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE

BASE = "http://mixpanel.test"
COHORTS_LIST = f"{BASE}/api/query/cohorts/list"
ENGAGE = f"{BASE}/api/query/engage"
UTC = dt.timezone.utc

CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "max_retries": 1,
}

ENGAGED, AT_RISK, POWER = 1001, 1002, 1003
COHORTS = [
    {
        "count": 120,
        "is_visible": 1,
        "description": "Anyone with an event in the last 7 days.",
        "created": "2025-11-03 09:30:00",
        "project_id": 12345,
        "id": ENGAGED,
        "name": "Engaged Users (Last 7 Days)",
    },
    {
        "count": 16,
        "is_visible": 0,
        "description": "Profiles not seen for more than 14 days.",
        "created": "2025-11-04 23:59:59",
        "project_id": 12345,
        "id": AT_RISK,
        "name": "At Risk",
    },
    {
        "count": 7,
        "is_visible": 1,
        "description": "",
        "created": "2025-11-05 00:00:00",
        "project_id": 12345,
        "id": POWER,
        "name": "Power Users",
    },
]


def make_tap(state: dict | None = None, **overrides) -> TapMixpanelTajo:
    """A tap syncing only the cohorts and cohort_members streams."""
    config = {key: value for key, value in {**CONFIG, **overrides}.items() if value is not None}
    tap = TapMixpanelTajo(config=config, state=state or {}, parse_env_config=False)
    for name in ("lookup_tables", "events", "profiles"):
        tap.streams[name].selected = False
    return tap


def messages(capsys) -> list[dict]:
    """The Singer messages written to stdout so far."""
    return [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]


def run(tap: TapMixpanelTajo, capsys) -> list[dict]:
    """Sync and return every message written."""
    capsys.readouterr()
    tap.sync_all()
    return messages(capsys)


def records(written: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in written if m["type"] == "RECORD" and m["stream"] == stream]


def final_snapshots(written: list[dict]) -> dict:
    """Cohort id (text) -> snapshot id, of the cohort snapshots sync_checkpoints confirms."""
    return {
        r["id"]: r["snapshot_id"]
        for r in records(written, "sync_checkpoints")
        if r["stream"] == "cohort_members" and r["kind"] == "cohort_snapshot"
    }


def member(n: int, **props) -> dict:
    return {"$distinct_id": f"user-{n}", "$properties": {"$email": f"user{n}@example.com", **props}}


def page(number: int, results: list[dict], session_id: str = "S1") -> httpx.Response:
    body = {"page": number, "page_size": 1000, "session_id": session_id, "status": "ok"}
    return httpx.Response(200, json={**body, "results": results, "total": len(results)})


def form(request: httpx.Request) -> dict[str, str]:
    """The form body of an Engage call."""
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def engage_by_cohort(pages: dict[int, list]) -> respx.Route:
    """Answer Engage per cohort: ``pages[cohort_id][n]`` is the response (or error) of page n."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = form(request)
        cohort_id = json.loads(body["filter_by_cohort"])["id"]
        return pages[cohort_id][int(body.get("page", "0"))]

    return respx.post(ENGAGE).mock(side_effect=answer)


def list_cohorts(cohorts: list[dict] | None = None) -> respx.Route:
    return respx.post(COHORTS_LIST).mock(return_value=httpx.Response(200, json=cohorts or COHORTS))


def mapping(tmp_path, connector: str, extra: str = "") -> str:
    path = tmp_path / "mapping.yml"
    path.write_text(f"connectors:\n  mixpanel:\n{connector}{extra}")
    return str(path)


# Which cohorts


@respx.mock
def test_by_default_the_cohorts_the_mapping_names_are_synced(capsys):
    list_cohorts()
    engage_by_cohort({ENGAGED: [page(0, [])], AT_RISK: [page(0, [])]})

    cohorts = records(run(make_tap(mapping_file=str(MAPPING_FILE)), capsys), "cohorts")

    # The seed's lists: engaged_users -> "Engaged Users (Last 7 Days)", at_risk -> "At Risk".
    assert [(c["id"], c["mapping_key"]) for c in cohorts] == [
        (ENGAGED, "engaged_users"),
        (AT_RISK, "at_risk"),
    ]


@respx.mock
def test_cohort_ids_chooses_the_cohorts(capsys):
    list_cohorts()
    route = engage_by_cohort({POWER: [page(0, [member(1)])]})

    written = run(make_tap(mapping_file=str(MAPPING_FILE), cohort_ids=[POWER]), capsys)

    (cohort,) = records(written, "cohorts")
    assert (cohort["id"], cohort["name"]) == (POWER, "Power Users")
    # The mapping does not name it: no key (the target picks or makes its list).
    assert cohort["mapping_key"] is None
    assert route.call_count == 1


@respx.mock
def test_without_a_mapping_every_cohort_is_synced(capsys):
    list_cohorts()
    engage_by_cohort({cohort["id"]: [page(0, [])] for cohort in COHORTS})

    cohorts = records(run(make_tap(), capsys), "cohorts")

    assert [c["id"] for c in cohorts] == [ENGAGED, AT_RISK, POWER]


@respx.mock
def test_an_unknown_cohort_id_ends_the_run_with_one_line_naming_the_known_cohorts(capsys):
    list_cohorts()

    with pytest.raises(TapConfigError) as ended:
        run(make_tap(cohort_ids=[POWER, 4242]), capsys)

    message = str(ended.value)
    assert message.startswith("cohort_ids: no Mixpanel cohort has id 4242")
    assert "'At Risk' (id 1002)" in message
    assert "\n" not in message


@respx.mock
def test_a_mapping_key_naming_no_cohort_ends_the_run_with_one_line(tmp_path, capsys):
    list_cohorts()
    path = mapping(tmp_path, "    lists:\n      all_users: 1\n      churned: 9\n")

    with pytest.raises(MappingError) as ended:
        run(make_tap(mapping_file=path), capsys)

    message = str(ended.value)
    assert message.startswith("connectors.mixpanel.lists.churned: ")
    assert "names no Mixpanel cohort" in message
    assert "\n" not in message


@respx.mock
def test_the_cohorts_are_listed_with_one_post_carrying_the_project_id(capsys):
    route = list_cohorts()
    engage_by_cohort({cohort["id"]: [page(0, [])] for cohort in COHORTS})

    run(make_tap(), capsys)

    assert route.call_count == 1
    assert route.calls.last.request.method == "POST"
    assert route.calls.last.request.url.params["project_id"] == "12345"


# Record shape


@respx.mock
def test_a_cohort_record_is_typed_and_names_the_mapping_key_that_selected_it(tmp_path, capsys):
    list_cohorts()
    engage_by_cohort({ENGAGED: [page(0, [])], AT_RISK: [page(0, [])]})
    path = mapping(
        tmp_path,
        "    lists:\n      engaged_users: 16\n      At Risk: 17\n",
    )

    engaged, at_risk = records(run(make_tap(mapping_file=path), capsys), "cohorts")

    assert at_risk == {
        "id": AT_RISK,
        "name": "At Risk",
        "description": "Profiles not seen for more than 14 days.",
        "count": 16,
        "created": "2025-11-04T23:59:59.000000+00:00",  # Mixpanel's text, read as UTC
        "is_visible": False,  # from 0
        "mapping_key": "At Risk",  # an exact name is a key too; Brevo lists are the target's
    }
    assert engaged["is_visible"] is True
    assert engaged["mapping_key"] == "engaged_users"


def test_created_is_read_as_utc():
    assert utc_text("2019-03-19 23:49:51") == "2019-03-19T23:49:51.000000+00:00"
    assert utc_text("2019-03-19T23:49:51+02:00") == "2019-03-19T21:49:51.000000+00:00"
    assert utc_text("") is None
    assert utc_text("last week") is None


# Members


@respx.mock
def test_members_come_from_engage_filtered_by_cohort_profiles_only_in_pages(capsys):
    list_cohorts()
    route = engage_by_cohort(
        {
            AT_RISK: [
                page(0, [member(i) for i in range(1000)]),
                page(1, [member(1000), member(1001)]),
            ]
        }
    )

    written = run(make_tap(cohort_ids=[AT_RISK]), capsys)

    first, second = (form(call.request) for call in route.calls)
    assert json.loads(first["filter_by_cohort"]) == {"id": AT_RISK}
    assert first["include_all_users"] == "false"  # Mixpanel's default (true) adds non-profiles
    assert "session_id" not in first
    assert "page" not in first
    assert (second["session_id"], second["page"]) == ("S1", "1")
    assert second["filter_by_cohort"] == first["filter_by_cohort"]
    assert second["include_all_users"] == "false"
    assert route.calls.last.request.url.params["project_id"] == "12345"
    members = records(written, "cohort_members")
    assert len(members) == 1002
    assert members[0] == {
        "cohort_id": AT_RISK,
        "distinct_id": "user-0",
        "properties": {"$email": "user0@example.com"},
        "snapshot_id": members[0]["snapshot_id"],
    }


@respx.mock
def test_members_are_asked_for_the_properties_the_target_reads(capsys):
    list_cohorts()
    route = engage_by_cohort({ENGAGED: [page(0, [])], AT_RISK: [page(0, [])]})

    run(make_tap(mapping_file=str(MAPPING_FILE)), capsys)

    asked = json.loads(form(route.calls.last.request)["output_properties"])
    assert asked == sorted(
        set(load_mapping(MAPPING_FILE).property_mapping)
        | {*CONTACT_PROFILE_PROPERTIES, "$last_seen"}
    )


@respx.mock
def test_members_are_read_one_selected_cohort_per_partition_after_one_cohorts_list(capsys):
    listed = list_cohorts()
    engage_by_cohort({ENGAGED: [page(0, [member(1)])], AT_RISK: [page(0, [member(2)])]})

    tap = make_tap(mapping_file=str(MAPPING_FILE))
    assert tap.streams["cohort_members"].partitions == [
        {"cohort_id": ENGAGED},
        {"cohort_id": AT_RISK},
    ]
    written = run(tap, capsys)

    assert [(r["cohort_id"], r["distinct_id"]) for r in records(written, "cohort_members")] == [
        (ENGAGED, "user-1"),
        (AT_RISK, "user-2"),
    ]
    assert [r["id"] for r in records(written, "cohorts")] == [ENGAGED, AT_RISK]
    assert listed.call_count == 1


def selected_by_hand(streams: set[str]) -> dict:
    """A catalog selecting only ``streams``, every property of the others deselected (as
    Meltano's ``select`` writes it)."""
    catalog = make_tap().catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


@pytest.mark.parametrize("selected", [{"cohorts", "cohort_members"}, {"cohort_members"}])
@respx.mock
def test_every_member_comes_after_its_cohorts_record_even_with_only_members_selected(
    selected, capsys
):
    list_cohorts()
    engage_by_cohort({ENGAGED: [page(0, [member(1)])], AT_RISK: [page(0, [member(2)])]})
    config = {**CONFIG, "mapping_file": str(MAPPING_FILE)}
    tap = TapMixpanelTajo(config=config, catalog=selected_by_hand(selected), parse_env_config=False)

    written = [m for m in run(tap, capsys) if m["type"] == "RECORD"]

    described: set[int] = set()
    for message in written:
        if message["stream"] == "cohorts":
            described.add(message["record"]["id"])
        elif message["stream"] == "cohort_members":
            assert message["record"]["cohort_id"] in described
    assert [r["cohort_id"] for r in records(written, "cohort_members")] == [ENGAGED, AT_RISK]
    # Whole records: the target takes each cohort's list from its name and mapping key.
    assert [(r["name"], r["mapping_key"]) for r in records(written, "cohorts")] == [
        ("Engaged Users (Last 7 Days)", "engaged_users"),
        ("At Risk", "at_risk"),
    ]
    assert {m["stream"] for m in written} == {"cohorts", "cohort_members"}


# Snapshots


@respx.mock
def test_sync_checkpoints_confirm_each_cohorts_complete_snapshot(capsys):
    list_cohorts()
    engage_by_cohort({ENGAGED: [page(0, [member(1), member(2)])], AT_RISK: [page(0, [])]})
    started = dt.datetime.now(UTC)
    stale = {"bookmarks": {"cohort_members": {"snapshots": {"999": "an-old-run"}}}}

    written = run(make_tap(state=stale, mapping_file=str(MAPPING_FILE)), capsys)

    (snapshot_id,) = {m["snapshot_id"] for m in records(written, "cohort_members")}
    assert started <= dt.datetime.fromisoformat(snapshot_id) <= dt.datetime.now(UTC)
    # An empty cohort is complete too: the target empties its list (mirror mode).
    assert final_snapshots(written) == {str(ENGAGED): snapshot_id, str(AT_RISK): snapshot_id}
    checkpoint = records(written, "sync_checkpoints")[0]
    assert (checkpoint["records"], checkpoint["kind"]) == (2, "cohort_snapshot")
    assert dt.datetime.fromisoformat(checkpoint["completed_at"]) >= started
    # Completion is data, not the tap's STATE layout: no snapshots nor per-cohort bookmarks.
    last = [m["value"] for m in written if m["type"] == "STATE"][-1]
    assert snapshot_id not in json.dumps(last)
    assert "partitions" not in last["bookmarks"]["cohort_members"]
    # The checkpoints come after the last page of every stream.
    kinds = [m["stream"] for m in written if m["type"] == "RECORD"]
    assert kinds[-2:] == ["sync_checkpoints", "sync_checkpoints"]


@pytest.mark.parametrize("first_cohort_size", [1, 0])
@respx.mock
def test_a_cohort_cut_short_by_a_failure_is_not_marked_complete(first_cohort_size, capsys):
    list_cohorts()
    broken = httpx.Response(400, text="request for page in uncached query for params")
    engage_by_cohort(
        {
            ENGAGED: [page(0, [member(i) for i in range(first_cohort_size)])],
            AT_RISK: [page(0, [member(i) for i in range(1000)]), broken],  # page 2 never works
        }
    )

    capsys.readouterr()
    with pytest.raises(MixpanelError) as ended:
        make_tap(mapping_file=str(MAPPING_FILE)).sync_all()
    written = messages(capsys)

    assert "cohort 1002 members engage page 1" in str(ended.value)
    assert records(written, "cohort_members")
    # A failed run confirms no snapshot: the cut-short cohort never, the first one neither.
    assert final_snapshots(written) == {}


@pytest.mark.parametrize(
    ("connector", "reason"),
    [
        ("    sync:\n      cohorts: false\n", "connectors.mixpanel.sync.cohorts is false"),
        ("    enabled: false\n", "connectors.mixpanel.enabled is false"),
    ],
)
@respx.mock
def test_the_mapping_can_turn_both_streams_off(connector, reason, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    path = mapping(tmp_path, connector + "    lists:\n      at_risk: 17\n")

    written = run(make_tap(mapping_file=path), capsys)

    assert not records(written, "cohorts")
    assert not records(written, "cohort_members")
    assert not respx.calls  # not even the cohorts list
    assert f"Skipping the cohorts stream: {reason}" in caplog.text
    assert f"Skipping the cohort_members stream: {reason}" in caplog.text


@respx.mock
def test_each_cohort_and_the_run_are_logged(capsys, caplog):
    caplog.set_level(logging.INFO)
    list_cohorts()
    engage_by_cohort({ENGAGED: [page(0, [member(1), member(2)])], AT_RISK: [page(0, [])]})

    run(make_tap(mapping_file=str(MAPPING_FILE)), capsys)

    text = caplog.text
    assert "cohorts: 3 listed by Mixpanel, 2 to sync" in text
    assert "cohort 'Engaged Users (Last 7 Days)' (1001) page 0: 2 members so far of 2, " in text
    assert re.search(
        r"cohort 'Engaged Users \(Last 7 Days\)' \(1001\): snapshot \S+ complete: "
        r"2 members in 1 page\(s\), ",
        text,
    )
    assert re.search(r"cohort 'At Risk' \(1002\): snapshot \S+ complete: 0 members in 1 page", text)


# Catalog


def test_discovery_lists_both_streams_and_the_cohort_ids_setting(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    result = CliRunner().invoke(TapMixpanelTajo.cli, ["--discover", "--config", str(config)])
    assert result.exit_code == 0, result.output
    streams = {s["tap_stream_id"]: s for s in json.loads(result.stdout)["streams"]}
    cohorts, members = streams["cohorts"], streams["cohort_members"]
    assert cohorts["key_properties"] == ["id"]
    assert set(cohorts["schema"]["properties"]) == {
        "id",
        "name",
        "description",
        "count",
        "created",
        "is_visible",
        "mapping_key",
    }
    assert members["key_properties"] == ["cohort_id", "distinct_id"]
    assert set(members["schema"]["properties"]) == {
        "cohort_id",
        "distinct_id",
        "properties",
        "snapshot_id",
    }
    setting = TapMixpanelTajo.config_jsonschema["properties"]["cohort_ids"]
    assert setting["items"]["type"] == ["integer"]
    assert setting["title"]
    assert setting["description"]


# Against the sandbox's Mixpanel


SANDBOX_NOW = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)


pytestmark = pytest.mark.sandbox(now=SANDBOX_NOW, profiles=200, events=2000, days=10)


def sandbox_tap(sandbox: SandboxServer) -> TapMixpanelTajo:
    return make_tap(
        base_url=f"{sandbox.url}/mixpanel",
        service_account_username="sandbox-user",
        service_account_secret="sandbox-secret",
        mapping_file=str(MAPPING_FILE),
    )


def sandbox_profiles_in(sandbox: SandboxServer, cohort_id: int) -> set[str]:
    """The sandbox's own answer: the cohort's members that have a profile."""
    project = sandbox.state.mixpanel
    return {
        m for m in project.cohort_members(cohort_id, sandbox.state.now) if m in project.profiles
    }


def members_by_cohort(written: list[dict]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for record in records(written, "cohort_members"):
        found.setdefault(record["cohort_id"], []).append(record["distinct_id"])
    return found


def test_the_members_of_each_mapped_cohort_arrive_once_as_the_sandbox_has_them(sandbox, capsys):
    written = run(sandbox_tap(sandbox), capsys)

    found = members_by_cohort(written)
    assert set(found) == {ENGAGED, AT_RISK}
    for cohort_id, ids in found.items():
        assert ids, f"cohort {cohort_id} has no members in the sandbox"
        assert len(ids) == len(set(ids))
        assert set(ids) == sandbox_profiles_in(sandbox, cohort_id)
    snapshot_id = records(written, "cohort_members")[0]["snapshot_id"]
    assert final_snapshots(written) == {str(ENGAGED): snapshot_id, str(AT_RISK): snapshot_id}


def test_a_member_who_leaves_a_cohort_is_missing_from_the_next_snapshot(sandbox, capsys):
    first = members_by_cohort(run(sandbox_tap(sandbox), capsys))
    leaver = first[AT_RISK][0]
    seen = (SANDBOX_NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    # "At Risk" is "not seen for more than 14 days": seen an hour ago, the profile leaves it.
    http.post(
        f"{sandbox.url}/_sandbox/mixpanel/profiles",
        json={"profiles": [{"$distinct_id": leaver, "$properties": {"$last_seen": seen}}]},
    ).raise_for_status()
    try:
        written = run(sandbox_tap(sandbox), capsys)
    finally:
        http.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()

    second = members_by_cohort(written)
    assert sorted(second[AT_RISK]) == sorted(set(first[AT_RISK]) - {leaver})
    # The snapshot without the leaver is confirmed complete: the target may drop them.
    assert (
        final_snapshots(written)[str(AT_RISK)]
        == records(written, "cohort_members")[0]["snapshot_id"]
    )


def test_the_sdk_syncs_a_child_stream_before_its_parents_record_so_cohorts_go_first_instead(
    capsys,
):
    """Why cohort_members is not a child of cohorts: with ``parent_stream_type`` the SDK writes
    a parent record's children first. If this fails, the SDK changed and a child stream would
    keep cohorts before their members by itself."""

    class Parent(Stream):
        name = "parent"
        schema: ClassVar[dict] = {"properties": {"id": {"type": "integer"}}}

        def get_records(self, context):
            yield {"id": 1}

    class Child(Stream):
        name = "child"
        parent_stream_type = Parent
        state_partitioning_keys: ClassVar[list[str]] = []
        schema: ClassVar[dict] = {"properties": {"parent_id": {"type": "integer"}}}

        def get_records(self, context):
            yield {"parent_id": context["id"]}

    class OrderTap(Tap):
        name = "order-tap"
        config_jsonschema: ClassVar[dict] = {"properties": {}}

        def discover_streams(self):
            return [Parent(self), Child(self)]

    capsys.readouterr()
    OrderTap(config={}, parse_env_config=False).sync_all()

    written = [m["stream"] for m in messages(capsys) if m["type"] == "RECORD"]
    assert written == ["child", "parent"]

"""The groups stream: group profiles per group key, incremental on $last_seen (sandbox)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mixpanel_brevo_sandbox.demo_data import COMPANY_DATA_GROUP_ID
from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
TEAMS_DATA_GROUP_ID = "-77"
GROUP_KEYS = [
    {"group_key": "company_id", "data_group_id": COMPANY_DATA_GROUP_ID},
    {"group_key": "team_id", "data_group_id": TEAMS_DATA_GROUP_ID},
]


pytestmark = pytest.mark.sandbox(now=NOW, profiles=30, events=200, days=2)


@pytest.fixture(scope="module")
def shared_sandbox(shared_sandbox):
    """The module's sandbox, with a team beside the demo's companies."""
    team = {"$distinct_id": "t-1", "$properties": {"$name": "Core", "$last_seen": "2026-11-01"}}
    http.post(
        f"{shared_sandbox.url}/_sandbox/mixpanel/groups",
        json={"data_group_id": TEAMS_DATA_GROUP_ID, "profiles": [team]},
    ).raise_for_status()
    return shared_sandbox


@pytest.fixture
def groups_mapping(tmp_path) -> Path:
    path = tmp_path / "mapping.yml"
    path.write_text(MAPPING_FILE.read_text().replace("groups: false", "groups: true"))
    return path


def run_tap(sandbox: SandboxServer, capsys, mapping: Path, state: dict | None = None) -> list[dict]:
    tap = TapMixpanelTajo(
        config={
            "base_url": f"{sandbox.url}/mixpanel",
            "project_id": "12345",
            "service_account_username": "sandbox-user",
            "service_account_secret": "sandbox-secret",
            "mapping_file": str(mapping),
            "group_keys": GROUP_KEYS,
        },
        state=state,
        parse_env_config=False,
    )
    for name, stream in tap.streams.items():
        stream.selected = name in {"groups", "sync_checkpoints"}
    capsys.readouterr()
    http.delete(f"{sandbox.url}/_sandbox/calls")
    tap.sync_all()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(messages: list[dict]) -> dict:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


def engage_calls(sandbox: SandboxServer) -> int:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return sum(1 for c in calls if c["path"].endswith("/engage"))


def test_a_group_key_without_data_group_id_is_one_line_saying_where_to_find_it(groups_mapping):
    with pytest.raises(SystemExit) as stop:
        TapMixpanelTajo(
            config={
                "project_id": "12345",
                "service_account_username": "u",
                "service_account_secret": "s",
                "mapping_file": str(groups_mapping),
                "group_keys": [{"group_key": "company_id"}],
            },
            parse_env_config=False,
        )

    assert str(stop.value) == (
        "tap-mixpanel-tajo: group_keys: company_id has no data_group_id; "
        "Mixpanel shows it under Project Settings > Group Keys"
    )


def test_each_group_key_is_read_in_full_first_and_confirmed_by_a_checkpoint(
    sandbox, capsys, groups_mapping
):
    messages = run_tap(sandbox, capsys, groups_mapping)

    groups = records(messages, "groups")
    assert {(g["group_key"], g["group_id"]) for g in groups} == {
        *(("company_id", f"c-{n:03d}") for n in range(1, 11)),
        ("team_id", "t-1"),
    }
    acme = next(g for g in groups if g["group_id"] == "c-001")
    # Only what the target reads travels: the company name and $last_seen.
    assert set(acme["properties"]) == {"$name", "$last_seen"}
    assert acme["properties"]["$name"] == "Acme Corp"
    assert acme["full_refresh_id"] is not None
    checkpoints = records(messages, "sync_checkpoints")
    assert {(c["stream"], c["id"], c["kind"], c["records"]) for c in checkpoints} == {
        ("groups", "company_id", "full_refresh", 10),
        ("groups", "team_id", "full_refresh", 1),
    }
    assert engage_calls(sandbox) == 2


def test_the_next_run_reads_only_groups_whose_last_seen_moved(sandbox, capsys, groups_mapping):
    state = last_state(run_tap(sandbox, capsys, groups_mapping))
    change = {
        "$distinct_id": "c-002",
        "$properties": {"$name": "Globex AG", "$last_seen": "2026-11-20T11:00:00"},
    }
    http.post(
        f"{sandbox.url}/_sandbox/mixpanel/groups",
        json={"data_group_id": COMPANY_DATA_GROUP_ID, "profiles": [change]},
    ).raise_for_status()

    messages = run_tap(sandbox, capsys, groups_mapping, state)

    groups = {g["group_id"]: g for g in records(messages, "groups")}
    # c-001 was seen in the bookmark's own second, which `>=` reads again; the others were not.
    assert sorted(groups) == ["c-001", "c-002"]
    assert groups["c-002"]["properties"]["$name"] == "Globex AG"
    assert groups["c-002"]["full_refresh_id"] is None
    assert records(messages, "sync_checkpoints") == []


def test_groups_are_not_read_unless_the_mapping_syncs_them(sandbox, capsys):
    messages = run_tap(sandbox, capsys, MAPPING_FILE)

    assert records(messages, "groups") == []
    assert engage_calls(sandbox) == 0


def test_profiles_carry_the_group_key_property_that_links_users_to_companies(
    sandbox, capsys, groups_mapping
):
    tap = TapMixpanelTajo(
        config={"project_id": "1", "api_secret": "s", "mapping_file": str(groups_mapping),
                "group_keys": GROUP_KEYS},
        parse_env_config=False,
    )  # fmt: skip

    assert {"company_id", "team_id"} <= set(tap.selection.profile_output_properties() or [])

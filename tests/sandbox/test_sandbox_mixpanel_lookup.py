"""The sandbox's Mixpanel lookup tables: documented list, App API list and download, a refusal."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import yaml
from jsonschema import Draft7Validator

from mixpanel_brevo_sandbox.lookup_tables import CSV_DIR
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
SA = ("sandbox-user", "sandbox-secret")
SECRET = ("sandbox-project-secret", "")
PID = {"project_id": 12345}
APP = "/mixpanel/api/app/projects/12345/data-definitions/lookup-tables/"
PLANS_GROUP, ACCOUNTS_GROUP = 4231, -8644926364725811123
INGESTION_SPEC = (
    Path(__file__).resolve().parents[3] / "shared/specs/mixpanel/ingestion.openapi.yaml"
)

pytestmark = pytest.mark.sandbox(now=NOW, profiles=40, events=300, days=2)


def download(client, group: int, auth=SA) -> httpx.Response:
    return client.get(f"{APP}download/", params={"data-group-id": group}, auth=auth)


def test_the_documented_list_names_both_tables(client):
    response = client.get("/mixpanel/lookup-tables", params=PID, auth=SA)

    assert response.status_code == 200
    assert response.json() == {
        "code": 200,
        "status": "OK",
        "results": [
            {"id": "6f1c2a4e-2d0b-4c55-9b7e-1d2f3a4b5c6d", "name": "Plans"},
            {"id": "55b4fb2b-e8de-466c-930f-8b36640b9b5e", "name": "Accounts"},
        ],
    }


@pytest.mark.skipif(not INGESTION_SPEC.is_file(), reason="the official specs live beside the repo")
def test_the_documented_list_answers_as_the_official_spec_says(client):
    spec = yaml.safe_load(INGESTION_SPEC.read_text(encoding="utf-8"))
    content = spec["components"]["responses"]["LookupTableList"]["content"]
    validator = Draft7Validator(
        content["application/json"]["schema"], format_checker=Draft7Validator.FORMAT_CHECKER
    )

    body = client.get("/mixpanel/lookup-tables", params=PID, auth=SA).json()

    assert not list(validator.iter_errors(body))
    assert spec["paths"]["/lookup-tables"]["get"]["security"] == [{"ServiceAccount": []}]


def test_the_documented_list_takes_service_accounts_only_and_needs_project_id(client):
    assert client.get("/mixpanel/lookup-tables", params=PID, auth=SECRET).status_code == 401
    missing = client.get("/mixpanel/lookup-tables", auth=SA)
    assert missing.status_code == 400
    assert "project_id" in missing.json()["error"]


def test_the_app_api_lists_each_table_with_its_data_group_id(client):
    response = client.get(APP, auth=SA)

    assert response.status_code == 200
    groups = {entry["name"]: entry["id"] for entry in response.json()["results"]}
    assert groups == {"Plans": PLANS_GROUP, "Accounts": ACCOUNTS_GROUP}


def test_the_download_streams_the_uploaded_csv(client):
    response = download(client, PLANS_GROUP)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers.get("transfer-encoding") == "chunked"
    assert response.content == (CSV_DIR / "plans.csv").read_bytes()


def test_accounts_is_refused_and_its_source_csv_is_beside_the_sandbox(client):
    response = download(client, ACCOUNTS_GROUP)

    assert response.status_code == 403
    rows = list(csv.reader(io.StringIO((CSV_DIR / "accounts.csv").read_text(encoding="utf-8"))))
    assert rows[0][0] == "company_id"
    assert [row[0] for row in rows[1:]] == [f"c-{n:03d}" for n in range(1, 11)]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"data-group-id": 99}, 404), ({"data-group-id": "plans"}, 400), ({}, 400)],
)
def test_a_download_of_no_known_table_is_refused(client, params, status):
    assert client.get(f"{APP}download/", params=params, auth=SA).status_code == status


def test_a_fault_can_refuse_every_download(client):
    fault = {
        "api": "mixpanel",
        "path": APP.removeprefix("/mixpanel") + "download",
        "kind": "status",
    }
    client.post("/_sandbox/faults", json={**fault, "status": 403}).raise_for_status()

    assert download(client, PLANS_GROUP).status_code == 403
    assert download(client, PLANS_GROUP).status_code == 200


def test_the_demo_profiles_plans_are_keys_of_the_plans_table(client):
    keys = {row["plan_id"] for row in csv.DictReader((CSV_DIR / "plans.csv").open())}
    response = client.post("/mixpanel/api/query/engage", data=PID, auth=SA)

    plans = {row["$properties"]["plan"] for row in response.json()["results"]}
    assert plans == keys == {"free", "pro", "enterprise"}


def test_the_tap_reads_plans_downloaded_and_accounts_from_its_source(server, capsys):
    server.state.reset()
    tap = TapMixpanelTajo(
        config={
            "base_url": f"{server.url}/mixpanel",
            "project_id": "12345",
            "service_account_username": SA[0],
            "service_account_secret": SA[1],
            "lookup_table_sources": {"Accounts": str(CSV_DIR / "accounts.csv")},
        },
        parse_env_config=False,
    )
    for name, stream in tap.streams.items():
        stream.selected = name == "lookup_tables"
    capsys.readouterr()
    tap.sync_all()
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]

    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    by_table = {
        name: [r for r in records if r["table_name"] == name] for name in ("Plans", "Accounts")
    }
    assert [r["key"] for r in by_table["Plans"]] == ["free", "pro", "enterprise"]
    assert by_table["Plans"][1]["values"]["price"] == 49.5
    assert len(by_table["Accounts"]) == 10
    assert by_table["Accounts"][0]["values"]["notes"] == "Renewal call booked\nfor Q3"
    calls = http.get(f"{server.url}/_sandbox/calls").json()["calls"]
    downloads = [c["status"] for c in calls if c["path"].endswith("/download/")]
    assert downloads == [200, 403]

"""End to end: lookup tables enrich contacts and events through `meltano run` on the sandbox.

The sandbox serves ``Plans`` through the App API download and refuses ``Accounts`` (403); its
Meltano environment points ``lookup_table_sources`` at the Accounts CSV, so both tables arrive.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.admin_http import http
from tests.conftest import MAPPING_FILE
from tests.e2e.meltano import meltano_run

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox(profiles=60, events=1500, days=3)]

LOOKUP_ENRICHMENT = """
lookup_enrichment:
  - property: plan
    table: Plans
    attributes: {display_name: PLAN_NAME, price: PLAN_PRICE}
    apply_to: [profiles]
  - property: Plan Name
    table: Plans
    attributes: {seats_included: PLAN_SEATS}
    apply_to: [events]
  - property: company_id
    table: Accounts
    attributes: {tier: ACCOUNT_TIER, arr: ACCOUNT_ARR}
    apply_to: [profiles]
"""
PLAN_NAMES = {"free": "Free", "pro": "Pro", "enterprise": "Enterprise, annual"}
PLAN_PRICES = {"free": 0, "pro": 49.5, "enterprise": 499}
PLAN_SEATS = {"pro": 5}  # Feature Activated carries "pro"; Enterprise has no seats_included
TIERS = {"c-001": "gold", "c-002": "silver", "c-003": "bronze"}


def test_plans_downloaded_and_accounts_from_its_source_enrich_contacts_and_events(
    sandbox, tmp_path: Path, monkeypatch
):
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(MAPPING_FILE.read_text() + LOOKUP_ENRICHMENT)
    monkeypatch.setenv("TAP_MIXPANEL_TAJO_MAPPING_FILE", str(mapping))

    suffix = f"e2e-lookup-{uuid.uuid4().hex[:8]}"
    report = meltano_run(sandbox, tmp_path, suffix, 1, mapping_file=str(mapping))

    lookups = report["lookups"]
    assert {name: table["rows"] for name, table in lookups["tables"].items()} == {
        "Plans": 3,
        "Accounts": 10,
    }
    assert lookups["keys_not_found"] == 0
    assert lookups["profiles_enriched"] > 0
    assert lookups["events_enriched"] > 0
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
    downloads = [c["status"] for c in calls if c["path"].endswith("/lookup-tables/download/")]
    assert sorted(downloads) == [200, 403]

    profiles = http.post(
        f"{sandbox.url}/mixpanel/api/query/engage",
        data={"project_id": 12345},
        auth=("sandbox-user", "sandbox-secret"),
        timeout=30,
    ).json()["results"]
    plan_of = {p["$properties"].get("$email", "").lower(): p["$properties"] for p in profiles}
    contacts = http.get(f"{sandbox.url}/_sandbox/brevo/contacts", timeout=30).json()["contacts"]
    checked = 0
    for contact in contacts:
        props = plan_of.get((contact["email"] or "").lower())
        if props is None:
            continue
        attributes = contact["attributes"]
        assert attributes["PLAN_NAME"] == PLAN_NAMES[props["plan"]]
        assert attributes["PLAN_PRICE"] == PLAN_PRICES[props["plan"]]
        if props["company_id"] in TIERS:
            assert attributes["ACCOUNT_TIER"] == TIERS[props["company_id"]]
        checked += 1
    assert checked > 10

    events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]
    featured = [e for e in events if e["event_name"] == "feature_used"]
    assert featured
    assert {e["event_properties"].get("PLAN_SEATS") for e in featured} == {5}

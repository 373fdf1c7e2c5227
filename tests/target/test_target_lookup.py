"""Lookup tables enrich contacts (typed attributes) and events, in this run and in later ones."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from mixpanel_brevo_mapping import Mapping
from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.lookups.ledger import LookupLedger
from target_brevo_tajo.lookups.tables import LookupTables
from target_brevo_tajo.report import LookupReport, render_report
from target_brevo_tajo.singer_input import SingerInputError
from target_brevo_tajo.target import TargetBrevoTajo
from tests.brevo_sandbox import target_config
from tests.conftest import MAPPING_FILE
from tests.singer_messages import EVENTS_SCHEMA, PROFILES_SCHEMA, event, profile

LOOKUP_SCHEMA = {
    "type": "SCHEMA",
    "stream": "lookup_tables",
    "key_properties": ["table_id", "key"],
    "schema": {
        "type": "object",
        "properties": {
            "table_id": {"type": "string"},
            "table_name": {"type": "string"},
            "key": {"type": "string"},
            "values": {"type": "object"},
        },
    },
}
ENRICHMENT = """
lookup_enrichment:
  - property: plan
    table: Plans
    attributes: {display_name: PLAN_NAME, price: PLAN_PRICE}
"""


def row(key: str, table: str = "Plans", table_id: str = "t-1", **values: object) -> dict:
    record = {"table_id": table_id, "table_name": table, "key": key, "values": values}
    return {"type": "RECORD", "stream": "lookup_tables", "record": record}


PLANS = [
    row("pro", display_name="Pro", price="49"),
    row("free", display_name="Free", price="0"),
]


def messages(
    lookups: list[dict] = (), profiles: list[dict] = (), events: list[dict] = ()
) -> io.StringIO:
    """The tap's order: lookup rows first, then profiles, then events, then STATE."""
    out: list[dict] = []
    streams = ((LOOKUP_SCHEMA, lookups), (PROFILES_SCHEMA, profiles), (EVENTS_SCHEMA, events))
    for schema, records in streams:
        if records:
            out += [schema, *records]
    out.append({"type": "STATE", "value": {"bookmarks": {}}})
    return io.StringIO("".join(json.dumps(m) + "\n" for m in out))


def user(distinct_id: str, plan: str) -> dict:
    return profile(distinct_id, **{"$email": f"{distinct_id}@example.com", "plan": plan})


pytestmark = pytest.mark.sandbox(profiles=5, events=10, days=1)


@pytest.fixture
def config(sandbox, tmp_path: Path) -> dict:
    return target_config(sandbox, tmp_path, MAPPING_FILE.read_text() + ENRICHMENT)


def run(config: dict, stream: io.StringIO) -> dict:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.listen(stream)
    return target.run.report.to_dict()


def contacts(sandbox: SandboxServer) -> dict[str, dict]:
    """Brevo contacts' attributes by EXT_ID."""
    with sandbox.state.lock:
        found = sandbox.state.brevo.contacts.values()
        return {c["attributes"]["EXT_ID"]: dict(c["attributes"]) for c in found}


def attribute_types(sandbox: SandboxServer) -> dict[str, str]:
    with sandbox.state.lock:
        return {a["name"]: a["type"] for a in sandbox.state.brevo.attributes}


def brevo_events(sandbox: SandboxServer) -> list[dict]:
    with sandbox.state.lock:
        return [dict(e) for e in sandbox.state.brevo.events]


def test_lookup_columns_become_typed_contact_attributes_and_unknown_keys_are_counted(
    sandbox, config
):
    profiles = [user("u1", "pro"), user("u2", "free"), user("u3", "enterprise")]

    report = run(config, messages(PLANS, profiles))

    types = attribute_types(sandbox)
    assert (types["PLAN_NAME"], types["PLAN_PRICE"]) == ("text", "float")
    brevo = contacts(sandbox)
    assert (brevo["u1"]["PLAN_NAME"], brevo["u1"]["PLAN_PRICE"]) == ("Pro", 49)
    assert (brevo["u2"]["PLAN_NAME"], brevo["u2"]["PLAN_PRICE"]) == ("Free", 0)
    assert "PLAN_NAME" not in brevo["u3"]  # an unknown key enriches nothing
    assert brevo["u3"]["PLAN_TYPE"] == "enterprise"  # property_mapping still applies
    lookups = report["lookups"]
    assert lookups["tables"] == {"Plans": {"table_id": "t-1", "rows": 2, "source": "this run"}}
    assert (lookups["profiles_enriched"], lookups["keys_not_found_by_table"]) == (2, {"Plans": 1})


def test_enriched_events_reach_brevo_with_the_lookup_columns(sandbox, config):
    events = [event("Purchase", "i-1", plan="pro"), event("Purchase", "i-2", plan="gold")]

    report = run(config, messages(PLANS, events=events))

    by_id = {e["event_properties"]["mp_insert_id"]: e for e in brevo_events(sandbox)}
    assert by_id["i-1"]["event_properties"] == {
        "mp_insert_id": "i-1",
        "plan": "pro",
        "PLAN_NAME": "Pro",
        "PLAN_PRICE": "49",
    }
    assert "PLAN_NAME" not in by_id["i-2"]["event_properties"]
    assert report["lookups"]["events_enriched"] == 1
    assert report["lookups"]["keys_not_found_by_table"] == {"Plans": 1}


def test_an_events_only_run_enriches_with_the_rows_the_ledger_kept(sandbox, config):
    run(config, messages(PLANS))

    report = run(config, messages(events=[event("Purchase", "i-1", plan="free")]))

    (sent,) = brevo_events(sandbox)
    assert sent["event_properties"]["PLAN_NAME"] == "Free"
    assert report["lookups"]["tables"]["Plans"] == {
        "table_id": "t-1",
        "rows": 2,
        "source": "ledger",
    }


def test_a_run_that_reads_a_table_replaces_its_kept_rows(sandbox, config):
    run(config, messages(PLANS))
    run(config, messages([row("pro", display_name="Pro", price="59")]))  # "free" was deleted

    events = [event("Purchase", "i-1", plan="free"), event("Purchase", "i-2", plan="pro")]
    report = run(config, messages(events=events))

    by_id = {e["event_properties"]["mp_insert_id"]: e for e in brevo_events(sandbox)}
    assert by_id["i-2"]["event_properties"]["PLAN_PRICE"] == "59"
    assert "PLAN_NAME" not in by_id["i-1"]["event_properties"]
    assert report["lookups"]["keys_not_found_by_table"] == {"Plans": 1}


def test_a_changed_row_updates_the_contacts_it_touches_at_their_next_sync(sandbox, config):
    first = run(config, messages(PLANS, [user("u1", "pro"), user("u2", "free")]))
    changed = [row("pro", display_name="Pro", price="59"), PLANS[1]]
    second = run(config, messages(changed, [user("u1", "pro"), user("u2", "free")]))
    third = run(config, messages(profiles=[user("u1", "pro"), user("u2", "free")]))

    assert first["contacts"]["created"] == 2
    assert (second["contacts"]["updated"], second["contacts"]["unchanged"]) == (1, 1)
    assert contacts(sandbox)["u1"]["PLAN_PRICE"] == 59
    # The same rows, read from the ledger this time: nothing changed, nothing is sent.
    assert (third["contacts"]["updated"], third["contacts"]["unchanged"]) == (0, 2)


def test_a_failed_run_keeps_the_rows_it_did_not_read(sandbox, config):
    run(config, messages(PLANS))
    config = {**config, "batch_size_rows": 1}  # each row is kept in the ledger as it arrives
    text = messages([row("pro", display_name="Pro", price="59")]).getvalue()
    broken = io.StringIO(text.replace('{"type": "STATE"', "{broken"))

    target = TargetBrevoTajo(config=config, parse_env_config=False)
    with pytest.raises(SingerInputError) as failure:
        target.listen(broken)
    target.finish(error=failure.value)

    ledger = Ledger(config["ledger_url"])
    kept = {r.key: r.values["price"] for r in LookupLedger(ledger).rows()}
    ledger.close()
    assert kept == {"pro": "59", "free": "0"}  # read rows are kept; none is removed


def test_a_table_with_no_rows_anywhere_is_reported_and_the_rest_syncs(sandbox, config):
    regions = [row("x", table="Regions", table_id="t-9", label="X")]

    report = run(config, messages(regions, [user("u1", "pro")]))

    assert contacts(sandbox)["u1"]["PLAN_TYPE"] == "pro"
    lookups = report["lookups"]
    assert lookups["tables_missing"] == ["Plans"]
    assert (lookups["rows_received"], lookups["rows_ignored"]) == (1, 1)
    assert lookups["tables"] == {}


def test_a_row_without_key_is_rejected_with_its_reason(sandbox, config):
    broken = row("", display_name="?")
    report = run(config, messages([*PLANS, broken], [user("u1", "pro")]))

    assert report["rejected_records"] == {"lookup_tables": 1}
    assert contacts(sandbox)["u1"]["PLAN_NAME"] == "Pro"


def test_the_table_is_named_by_id_as_well_as_by_name(sandbox, config, tmp_path):
    mapping = Path(config["mapping_file"])
    mapping.write_text(mapping.read_text().replace("table: Plans", 'table: "t-1"'))

    run(config, messages(PLANS, [user("u1", "free")]))

    assert contacts(sandbox)["u1"]["PLAN_NAME"] == "Free"


def test_lookup_rows_apply_to_every_profile_batch_drained_after_them(sandbox, config):
    config = {**config, "batch_size_rows": 2}
    profiles = [user(f"u{n}", "pro") for n in range(5)]

    report = run(config, messages(PLANS, profiles))

    assert {c["PLAN_NAME"] for c in contacts(sandbox).values()} == {"Pro"}
    assert report["lookups"]["profiles_enriched"] == 5


def test_a_numeric_property_matches_its_key_written_as_text():
    enrichment = {"property": "tier", "table": "Tiers", "attributes": {"label": "TIER_LABEL"}}
    mapping = Mapping.model_validate({"lookup_enrichment": [enrichment]})
    report = LookupReport()
    tables = LookupTables(mapping.lookup_enrichment, [], report)
    tables.add({"table_id": "t-2", "table_name": "Tiers", "key": "5", "values": {"label": "Gold"}})

    assert tables.enrich({"tier": 5}, "profiles") == {"TIER_LABEL": "Gold"}
    assert tables.enrich({"tier": Decimal("5.0")}, "events") == {"TIER_LABEL": "Gold"}
    assert tables.enrich({"tier": [5]}, "events") == {}  # a list is not a key
    assert (report.profiles_enriched, report.events_enriched) == (1, 1)


def test_the_report_has_a_lookup_section(sandbox, config):
    report = run(config, messages(PLANS, [user("u1", "pro"), user("u2", "gold")]))

    text = render_report(report)
    assert "lookup tables: Plans (2 rows, this run); enriched 1 profiles and 0 events" in text
    assert "keys not found in Plans: 1" in text

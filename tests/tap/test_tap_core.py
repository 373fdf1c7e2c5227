"""The SDK's standard tap tests, run against the local sandbox's Mixpanel."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from mixpanel_brevo_sandbox.demo_data import COMPANY_DATA_GROUP_ID, COMPANY_GROUP_KEY
from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.tap import TapMixpanelTajo
from tests.admin_http import http
from tests.conftest import MAPPING_FILE

# The suite's config is fixed when the test class is built, so the sandbox starts at import.
SANDBOX = SandboxServer(profiles=100, events=3000, days=3).start()
# The shipped mapping with groups on and a lookup table joined, so every stream has records.
GROUPS_MAPPING = Path(tempfile.mkdtemp()) / "mapping.yml"
GROUPS_MAPPING.write_text(
    MAPPING_FILE.read_text().replace("groups: false", "groups: true")
    + "lookup_enrichment:\n"
    + "  - {property: plan, table: Plans, attributes: {display_name: PLAN_NAME}}\n"
)

START = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
# A JQL stream reads what the sandbox answers its script: registered before the class is built.
JQL_SCRIPT = "function main() { return Events(params).groupByUser(mixpanel.reducer.count()); }"
http.post(
    f"{SANDBOX.url}/_sandbox/mixpanel/jql",
    json={
        "script": JQL_SCRIPT,
        "result": [
            {"distinct_id": f"user-{n}", "date": (START + dt.timedelta(days=1)).date().isoformat()}
            for n in range(3)
        ],
    },
).raise_for_status()

SAMPLE_CONFIG = {
    "base_url": f"{SANDBOX.url}/mixpanel",
    "project_id": "12345",
    "service_account_username": "sandbox-user",
    "service_account_secret": "sandbox-secret",
    "start_date": START.strftime("%Y-%m-%dT00:00:00Z"),
    "mapping_file": str(GROUPS_MAPPING),
    "group_keys": [{"group_key": COMPANY_GROUP_KEY, "data_group_id": COMPANY_DATA_GROUP_ID}],
    # The report streams read the sandbox's saved reports, funnels and these queries.
    "bookmark_ids": [4101, 4102, 4103],
    "funnel_ids": "all",
    "segmentation_queries": [{"event": "Purchase"}],
    "retention_queries": [{"born_event": "Sign Up", "event": "Purchase"}],
    "jql_queries": [
        {
            "name": "buyers",
            "script": JQL_SCRIPT,
            "params": {"from_date": "{{start_date}}", "to_date": "{{end_date}}"},
            "primary_keys": ["distinct_id"],
            # Declared: the suite checks every record field against the catalog's schema.
            "schema": {
                "properties": {
                    "distinct_id": {"type": "string"},
                    "date": {"type": "string", "format": "date"},
                }
            },
        }
    ],
}


def every_stream_selected() -> dict:
    """The discovered catalog with every stream selected, the report and JQL streams too.

    They are not selected by default (a run without a catalog must not spend the Query API
    budget on them), and the suite checks records against the catalog it was given.
    """
    catalog = TapMixpanelTajo(config=SAMPLE_CONFIG, validate_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
    return catalog


TestTapMixpanelTajo = get_tap_test_class(
    tap_class=TapMixpanelTajo,
    config=SAMPLE_CONFIG,
    catalog=every_stream_selected(),
    suite_config=SuiteConfig(max_records_limit=200),
)

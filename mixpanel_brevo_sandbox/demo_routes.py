"""`make demo`'s other pipelines: a JQL stream, another tap's rows, reports to a file target.

A JQL stream fills a Brevo list, a JSONL tap's rows reach Brevo contacts and events through the
mapping's routes, and the saved reports are written to CSV files (the tap serves warehouses too).

The sandbox cannot run JavaScript: before the JQL pipeline runs, the demo registers what the
script (mappings/jql/buyers.js, configured in meltano.yml) would answer, computed from the demo
project's events as Mixpanel would (identified users with 3+ purchases in the last 30 days).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

from mixpanel_brevo_sandbox.mixpanel_project import MixpanelProject, canonical_distinct_id
from mixpanel_brevo_sandbox.server import SandboxServer

JQL_EXTRACTOR = "tap-mixpanel-tajo--jql"  # the buyers JQL query
REPORTS_EXTRACTOR = "tap-mixpanel-tajo--reports"  # saved reports and funnels
CRM_EXTRACTORS = ("tap-jsonl--crm-accounts", "tap-jsonl--orders")  # another tap's streams
BREVO_LOADER = "target-brevo-tajo"
FILE_LOADER = "target-csv"
SANDBOX_MAPPING = Path("mappings") / "mixpanel-to-brevo.sandbox.yml"
BUYERS_STREAM = "jql_buyers"
BUYERS_LIST_NAME = "Buyers with 3+ purchases"

#: A demo step: its title, the name of its log and report files, the extractor, the loader.
Step = tuple[str, str, str, str]
#: Steps run one after the other.
Lane = tuple[Step, ...]
#: Lanes run at once: pipelines that do not depend on each other.
Stage = tuple[Lane, ...]
#: The Brevo pipelines one after the other (the orders name the CRM's contacts); the saved
#: reports, which write CSV files, next to them.
OTHER_PIPELINES: Stage = (
    (
        ("Run 3: JQL buyers -> Brevo list", "jql", JQL_EXTRACTOR, BREVO_LOADER),
        ("Run 3: CRM accounts (JSONL tap) -> contacts", "crm", CRM_EXTRACTORS[0], BREVO_LOADER),
        ("Run 3: shop orders (JSONL tap) -> events", "orders", CRM_EXTRACTORS[1], BREVO_LOADER),
    ),
    (("Run 3: saved reports and funnels -> CSV files", "reports", REPORTS_EXTRACTOR, FILE_LOADER),),
)


def jql_query(root: Path) -> dict[str, Any]:
    """The buyers query of meltano.yml's JQL extractor (its script file, params and keys)."""
    project = yaml.safe_load((root / "meltano.yml").read_text(encoding="utf-8"))
    plugin = next(p for p in project["plugins"]["extractors"] if p["name"] == JQL_EXTRACTOR)
    return next(q for q in plugin["config"]["jql_queries"] if f"jql_{q['name']}" == BUYERS_STREAM)


def buyers_list_id(root: Path) -> int:
    """The Brevo list the sandbox mapping routes the buyers stream to."""
    mapping = yaml.safe_load((root / SANDBOX_MAPPING).read_text(encoding="utf-8"))
    return int(mapping["routes"][BUYERS_STREAM]["list"])


def buyers(server: SandboxServer, days: int, min_purchases: int) -> list[dict[str, Any]]:
    """What buyers.js answers: identified users with ``min_purchases`` purchases in ``days``."""
    with server.state.lock:
        now = server.state.now
        events = server.state.mixpanel.visible_events(server.state.now_ms)
    first_day = (now - dt.timedelta(days=days)).date()
    device_users = MixpanelProject.device_users(events)
    counts: Counter[str] = Counter()
    for event in events:
        day = dt.datetime.fromtimestamp(event.time_seconds, dt.timezone.utc).date()
        if event.name == "Purchase" and first_day <= day <= now.date():
            counts[str(canonical_distinct_id(event.properties, device_users))] += 1
    return [
        {"distinct_id": user, "purchases": count}
        for user, count in sorted(counts.items())
        if count >= min_purchases and not user.startswith("$device:")
    ]


def register_buyers(server: SandboxServer, root: Path) -> list[dict[str, Any]]:
    """Register the buyers script's answer with the sandbox's JQL stand-in; returns its rows."""
    query = jql_query(root)
    params = query["params"]
    rows = buyers(server, int(params["days"]), int(params["min_purchases"]))
    script = (root / query["script_file"]).read_text(encoding="utf-8")
    response = httpx.post(
        f"{server.url}/_sandbox/mixpanel/jql", json={"script": script, "result": rows}, timeout=30
    )
    response.raise_for_status()
    return rows


def create_buyers_list(server: SandboxServer, list_id: int) -> None:
    """Create the buyers list in the sandbox's Brevo, as a user would before routing to it.

    The mapping names the list by id: the sandbox's new lists follow its seeded ones, so the
    first list created in a fresh sandbox gets the id the mapping names.
    """
    response = httpx.post(
        f"{server.url}/brevo/v3/contacts/lists",
        json={"name": BUYERS_LIST_NAME, "folderId": 1},
        headers={"api-key": "sandbox-brevo-key"},
        timeout=30,
    )
    response.raise_for_status()
    if (given := response.json()["id"]) != list_id:
        msg = f"the sandbox gave the buyers list id {given}, the mapping names {list_id}"
        raise RuntimeError(msg)


def list_members(server: SandboxServer, list_id: int) -> set[str]:
    """The ``EXT_ID`` of each member of a Brevo list in the sandbox."""
    base = f"{server.url}/_sandbox/brevo"
    lists = httpx.get(f"{base}/lists", timeout=60).json()["lists"]
    member_ids = set(next(lst for lst in lists if lst["id"] == list_id)["contactIds"])
    contacts = httpx.get(f"{base}/contacts", timeout=60).json()["contacts"]
    return {str(c["attributes"].get("EXT_ID")) for c in contacts if c["id"] in member_ids}


def print_buyers_list(server: SandboxServer, list_id: int, rows: list[dict[str, Any]]) -> bool:
    """Print the list against the JQL answer; True when its members are exactly the answer's."""
    members = list_members(server, list_id)
    expected = {row["distinct_id"] for row in rows}
    print(
        f"Brevo list {list_id} ({BUYERS_LIST_NAME!r}): {len(members)} members; the JQL answer "
        f"had {len(rows)} rows; members equal to the answer: {members == expected}"
    )
    return members == expected


def print_routed(server: SandboxServer, root: Path) -> None:
    """The CRM rows as contact attributes, and the orders as Brevo events."""
    base = f"{server.url}/_sandbox/brevo"
    contacts = httpx.get(f"{base}/contacts", timeout=60).json()["contacts"]
    managed = [c for c in contacts if "ACCOUNT_MANAGER" in c["attributes"]]
    events = httpx.get(f"{base}/events", timeout=60).json()["events"]
    orders = [
        e for e in events if str(e["event_properties"].get("mp_insert_id")).startswith("orders:")
    ]
    rows = (root / "mappings" / "demo_sources" / "orders.jsonl").read_text(encoding="utf-8")
    print(
        f"Routed: {len(managed)} contacts carry ACCOUNT_MANAGER and SEATS from crm_accounts, e.g. "
        + "; ".join(
            f"{c['email']}: {c['attributes']['ACCOUNT_MANAGER']}, {c['attributes'].get('SEATS')}"
            for c in managed[:2]
        )
        + f"; {len(orders)} order_completed events from orders ({len(rows.splitlines())} rows)"
    )


def print_report_files(folder: Path) -> None:
    """Each CSV the file target wrote: its rows and, for insights, the reports it holds."""
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        ids = sorted({r.get("bookmark_id") or r.get("funnel_id") or "" for r in rows})
        print(f"  {path.name}: {len(rows)} rows, reports {', '.join(ids)}")

"""End to end: `meltano run tap-mixpanel-tajo--groups target-brevo-tajo` against the sandbox.

500 Mixpanel group profiles become exactly 500 Brevo companies, each linked to the contacts of its
members; then only changes travel: a rerun writes nothing, a changed group profile is one update,
and a user who moves is unlinked from one company and linked to the other (both in one run, to
keep the test short: each `meltano run` costs seconds of start-up). Every companies call
is in Brevo's hourly bucket of other calls (100 on the general tier), which the report counts.
"""

from __future__ import annotations

import re
import uuid

import pytest

from mixpanel_brevo_sandbox.demo import GROUPS_EXTRACTOR
from mixpanel_brevo_sandbox.demo_data import COMPANY_DATA_GROUP_ID
from mixpanel_brevo_sandbox.server import SandboxServer
from tests.admin_http import http
from tests.e2e.meltano import meltano_run

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox(events=100, days=2)]

COMPANIES = 500


def company_id(n: int) -> str:
    return f"c-{n:03d}"


@pytest.fixture
def sandbox(sandbox: SandboxServer) -> SandboxServer:
    """The demo project with 500 companies, its 500 users spread over them one each."""
    now = http.get(f"{sandbox.url}/_sandbox/clock").json()["now"][:10]
    groups = [
        {"$distinct_id": company_id(n),
         "$properties": {"$name": f"Company {n}", "industry": "Retail",
                         "$last_seen": f"{now}T00:00:00"}}
        for n in range(11, COMPANIES + 1)
    ]  # fmt: skip
    body = {"data_group_id": COMPANY_DATA_GROUP_ID, "profiles": groups}
    http.post(f"{sandbox.url}/_sandbox/mixpanel/groups", json=body).raise_for_status()
    users = sorted(sandbox.state.mixpanel.profiles)
    moves = [
        {"$distinct_id": user, "$properties": {"company_id": company_id(i % COMPANIES + 1)}}
        for i, user in enumerate(users)
    ]
    http.post(f"{sandbox.url}/_sandbox/mixpanel/profiles", json={"profiles": moves})
    return sandbox


def companies_in_brevo(sandbox: SandboxServer) -> dict[str, dict]:
    """Brevo companies by Mixpanel group id, each with the EXT_IDs of its linked contacts."""
    base = f"{sandbox.url}/_sandbox/brevo"
    contacts = http.get(f"{base}/contacts", timeout=60).json()["contacts"]
    ext_ids = {c["id"]: c["attributes"].get("EXT_ID") for c in contacts}
    found = {}
    for company in http.get(f"{base}/companies", timeout=60).json()["companies"]:
        group = company["attributes"]["mixpanel_group"].removeprefix("company_id:")
        assert group not in found, f"two companies for group {group}"
        members = {ext_ids[i] for i in company["linkedContactsIds"]}
        found[group] = {**company["attributes"], "id": company["id"], "members": members}
    return found


def members_in_mixpanel(sandbox: SandboxServer) -> dict[str, set[str]]:
    with sandbox.state.lock:
        profiles = sandbox.state.mixpanel.profiles
        found: dict[str, set[str]] = {}
        for user, props in profiles.items():
            found.setdefault(props["company_id"], set()).add(user)
        return found


def company_writes(sandbox: SandboxServer) -> list[str]:
    """Companies and CRM calls that change something in Brevo, since the last look."""
    calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=60).json()["calls"]
    http.delete(f"{sandbox.url}/_sandbox/calls", timeout=60)
    return sorted(
        f"{c['method']} {re.sub(r'/[0-9a-f]{24}$', '/{id}', c['path'])}"
        for c in calls
        if c["api"] == "brevo"
        and c["method"] != "GET"
        and c["path"].startswith(("/companies", "/crm"))
    )


def test_groups_become_companies_with_members_and_only_changes_travel(sandbox, tmp_path):
    suffix = f"e2e-groups-{uuid.uuid4().hex[:8]}"

    def run(number: int) -> dict:
        report = meltano_run(sandbox, tmp_path, suffix, number, extractor=GROUPS_EXTRACTOR)
        assert report["companies"]["calls"] <= report["companies"]["hourly_budget"] == 100
        return report["companies"]

    first = run(1)

    companies = companies_in_brevo(sandbox)
    assert len(companies) == COMPANIES
    assert companies[company_id(1)]["name"] == "Acme Corp"
    assert companies[company_id(1)]["industry"] == "Manufacturing"
    assert companies[company_id(500)]["name"] == "Company 500"
    members = members_in_mixpanel(sandbox)
    assert {g: c["members"] for g, c in companies.items()} == {
        company_id(n): members.get(company_id(n), set()) for n in range(1, COMPANIES + 1)
    }
    assert (first["created"], first["links_added"]) == (COMPANIES, sum(map(len, members.values())))
    assert first["links_verified"] == first["links_added"]  # read back from Brevo, not assumed
    assert first["calls"] <= 20  # bulk imports and pages, not a call per company or contact
    company_writes(sandbox)

    second = run(2)

    assert company_writes(sandbox) == []
    assert second["created"] + second["updated"] + second["links_added"] == 0

    now = http.get(f"{sandbox.url}/_sandbox/clock").json()["now"][:19]
    renamed = {"$distinct_id": company_id(7), "$properties": {"$name": "Soylent Green",
                                                              "$last_seen": now}}  # fmt: skip
    body = {"data_group_id": COMPANY_DATA_GROUP_ID, "profiles": [renamed]}
    http.post(f"{sandbox.url}/_sandbox/mixpanel/groups", json=body).raise_for_status()

    mover = sorted(members[company_id(2)])[0]
    move = {"$distinct_id": mover, "$properties": {"company_id": company_id(3), "$last_seen": now}}
    http.post(f"{sandbox.url}/_sandbox/mixpanel/profiles", json={"profiles": [move]})

    third = run(3)  # one company renamed and one user moved: two changes, one run

    companies = companies_in_brevo(sandbox)
    assert (third["updated"], third["created"]) == (1, 0)
    assert companies[company_id(7)]["name"] == "Soylent Green"
    assert mover not in companies[company_id(2)]["members"]
    assert mover in companies[company_id(3)]["members"]
    assert (third["links_added"], third["links_removed"]) == (1, 1)
    assert company_writes(sandbox) == [
        "PATCH /companies/link-unlink/{id}",  # the move's removal
        "POST /companies/import",  # the rename
        "POST /companies/import",  # the move's addition
    ]
    assert first["calls"] + second["calls"] + third["calls"] <= 30  # of 100 an hour

"""Groups become Brevo companies with their members linked, by difference, within the budget."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import httpx
import pytest
import respx

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.brevo import BrevoClient
from target_brevo_tajo.companies.api import BrevoCompanies
from target_brevo_tajo.contacts.imports import ContactImports
from tests.admin_http import http
from tests.brevo_sandbox import run, target_config
from tests.conftest import MAPPING_FILE
from tests.singer_messages import PROFILES_SCHEMA
from tests.target.companies_messages import group, member, pipeline


#: Brevo documents no separator for several contact ids in one ``associated_contact`` cell: every
#: test runs against a Brevo splitting on each, and the links must end right either way.
@pytest.fixture(params=[",", ";"], ids=["comma-separated", "semicolon-separated"])
def sandbox(request):
    with SandboxServer(
        profiles=5, events=10, days=1, brevo_contact_separator=request.param
    ) as server:
        yield server


@pytest.fixture
def config(sandbox, tmp_path: Path) -> dict:
    return target_config(
        sandbox, tmp_path, MAPPING_FILE.read_text().replace("groups: false", "groups: true")
    )


def brevo_companies(sandbox: SandboxServer) -> dict[str, dict]:
    """Companies by name, with the EXT_IDs of their linked contacts."""
    with sandbox.state.lock:
        account = sandbox.state.brevo
        ext_ids = {cid: c["attributes"].get("EXT_ID") for cid, c in account.contacts.items()}
        return {
            c["attributes"]["name"]: {
                **c,
                "members": sorted(ext_ids[i] for i in c["linkedContactsIds"]),
            }
            for c in account.crm.companies.values()
        }


def company_writes(sandbox: SandboxServer) -> list[str]:
    """Brevo companies and CRM calls that change something, since the last look."""
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    http.delete(f"{sandbox.url}/_sandbox/calls")
    return [
        f"{c['method']} {c['path']}"
        for c in calls
        if c["api"] == "brevo"
        and c["method"] != "GET"
        and c["path"].startswith(("/companies", "/crm"))
    ]


def test_groups_become_one_company_each_with_members_linked_within_the_hourly_budget(
    sandbox, config
):
    groups = [group(f"c-{n}", f"Company {n}") for n in range(150)]
    users = [member(f"u-{n}", f"c-{n}") for n in range(150)]

    target = run(config, pipeline(groups, users))

    companies = brevo_companies(sandbox)
    assert len(companies) == 150
    assert all(companies[f"Company {n}"]["members"] == [f"u-{n}"] for n in range(150))
    report = target.run.report.companies
    assert (report.created, report.links_added) == (150, 150)
    assert report.calls <= 20  # of 100 an hour: bulk imports, not a call per company


def test_an_unchanged_rerun_makes_no_company_write(sandbox, config):
    messages = ([group("c-1", "Acme"), group("c-2", "Globex")], [member("u-1", "c-1")])
    run(config, pipeline(*messages))
    company_writes(sandbox)

    target = run(config, pipeline(*messages))

    assert company_writes(sandbox) == []
    assert target.run.report.companies.unchanged == 2


def test_an_unchanged_rerun_makes_no_call_of_the_hourly_budget(sandbox, config):
    groups = [group(f"c-{n}", f"Company {n}") for n in range(30)]
    messages = (groups, [member(f"u-{n}", f"c-{n % 30}") for n in range(90)])
    run(config, pipeline(*messages))
    http.delete(f"{sandbox.url}/_sandbox/calls")

    target = run(config, pipeline(*messages))

    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    assert [c["path"] for c in calls if c["api"] == "brevo" and c["bucket"] == "other"] == []
    assert target.run.report.companies.calls == 0


def test_each_imports_new_companies_are_found_on_the_pages_after_those_read_before(sandbox, config):
    groups = [group(f"c-{n}", f"Company {n}") for n in range(2500)]  # imports of 1000, 1000, 500

    target = run(config, pipeline(groups, []))

    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    listed = [c["query"] for c in calls if c["method"] == "GET" and c["path"] == "/companies"]
    assert [int(query["page"]) for query in listed] == [1, 2, 3]  # each page read once
    assert len({query["createdSince"] for query in listed}) == 1  # one listing for the run
    assert (target.run.report.companies.created, len(brevo_companies(sandbox))) == (2500, 2500)


def test_a_changed_group_profile_is_one_update_of_its_company(sandbox, config):
    run(config, pipeline([group("c-1", "Acme"), group("c-2", "Globex")], []))
    company_writes(sandbox)

    target = run(config, pipeline([group("c-1", "Acme Corp", refresh=None)], []))

    assert sorted(brevo_companies(sandbox)) == ["Acme Corp", "Globex"]
    assert company_writes(sandbox) == ["POST /companies/import"]
    assert (target.run.report.companies.updated, target.run.report.companies.created) == (1, 0)


def test_a_user_who_moves_is_unlinked_from_the_first_company_and_linked_to_the_second(
    sandbox, config
):
    acme, globex = group("c-1", "Acme", refresh=None), group("c-2", "Globex", refresh=None)
    run(config, pipeline([acme, globex], [member("u-1", "c-1"), member("u-2", "c-1")]))

    target = run(config, pipeline([], [member("u-1", "c-2")]))

    companies = brevo_companies(sandbox)
    assert companies["Acme"]["members"] == ["u-2"]
    assert companies["Globex"]["members"] == ["u-1"]
    assert (target.run.report.companies.links_added, target.run.report.companies.links_removed) == (
        1,
        1,
    )


def delete_in_brevo(sandbox: SandboxServer, name: str) -> None:
    company = brevo_companies(sandbox)[name]["id"]
    headers = {"api-key": "sandbox-brevo-key"}
    http.delete(f"{sandbox.url}/brevo/v3/companies/{company}", headers=headers)


def test_a_company_deleted_by_hand_is_created_again_once_a_full_refresh_is_read_to_the_end(
    sandbox, config
):
    run(config, pipeline([group("c-1", "Acme"), group("c-2", "Globex")], [member("u-1", "c-1")]))
    delete_in_brevo(sandbox, "Acme")

    refresh = [group("c-1", "Acme", "R2"), group("c-2", "Globex", "R2")]
    target = run(config, pipeline(refresh, [], complete_refresh="R2"))

    companies = brevo_companies(sandbox)
    assert sorted(companies) == ["Acme", "Globex"]
    assert companies["Acme"]["members"] == ["u-1"]
    assert target.run.report.companies.recreated == 1


def test_a_change_to_a_company_deleted_by_hand_creates_it_again_instead_of_failing_every_run(
    sandbox, config
):
    run(config, pipeline([group("c-1", "Acme"), group("c-2", "Globex")], [member("u-1", "c-1")]))
    delete_in_brevo(sandbox, "Acme")
    company_writes(sandbox)

    changed = [group("c-2", "Globex Inc", refresh=None), group("c-1", "Acme Corp", refresh=None)]
    target = run(config, pipeline(changed, []))

    companies = brevo_companies(sandbox)
    assert sorted(companies) == ["Acme Corp", "Globex Inc"]
    assert companies["Acme Corp"]["members"] == ["u-1"]
    report = target.run.report.companies
    assert (report.created, report.updated, report.recreated) == (1, 1, 1)
    assert company_writes(sandbox) == ["POST /companies/import"] * 3  # refused, again, links


def test_a_full_refresh_not_read_to_the_end_lists_no_company_and_recreates_none(sandbox, config):
    run(config, pipeline([group("c-1", "Acme"), group("c-2", "Globex")], []))
    delete_in_brevo(sandbox, "Acme")
    company_writes(sandbox)

    target = run(config, pipeline([group("c-1", "Acme", "R2")], []))  # no checkpoint: cut short

    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    assert not any(c["method"] == "GET" and c["path"] == "/companies" for c in calls)
    assert sorted(brevo_companies(sandbox)) == ["Globex"]
    assert target.run.report.companies.recreated == 0


def contact_lookups(sandbox: SandboxServer) -> list[str]:
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    paths = [c["path"] for c in calls if c["method"] == "GET"]
    return [p for p in paths if p.startswith("/contacts") and p != "/contacts/attributes"]


def test_members_are_found_in_pages_of_a_thousand_not_one_call_each(sandbox, config):
    groups = [group(f"c-{n}", f"Company {n}") for n in range(3)]
    users = [member(f"u-{n}", f"c-{n % 3}") for n in range(2500)]
    contacts = io.StringIO("".join(json.dumps(m) + "\n" for m in [PROFILES_SCHEMA, *users]))
    run(config, contacts)  # the contacts exist in Brevo; the ledger knows no id yet
    http.delete(f"{sandbox.url}/_sandbox/calls")

    target = run(config, pipeline(groups, users))

    assert contact_lookups(sandbox) == ["/contacts"] * 3  # 2,500 contacts, 1,000 a page
    assert target.run.report.companies.links_added == 2500
    assert [len(brevo_companies(sandbox)[f"Company {n}"]["members"]) for n in range(3)] == [
        834,
        833,
        833,
    ]


def test_a_few_members_in_a_large_account_are_looked_up_one_by_one(sandbox, config):
    users = [member(f"u-{n}", "c-1") for n in range(2500)]
    contacts = io.StringIO("".join(json.dumps(m) + "\n" for m in [PROFILES_SCHEMA, *users]))
    run(config, contacts)
    http.delete(f"{sandbox.url}/_sandbox/calls")

    run(config, pipeline([group("c-1", "Acme")], [member("u-2400", "c-1")]))

    # One page of 1,000 misses u-2400; two pages are left, so one look-up is cheaper.
    assert contact_lookups(sandbox) == ["/contacts", "/contacts/u-2400"]
    assert brevo_companies(sandbox)["Acme"]["members"] == ["u-2400"]


def test_the_first_run_links_members_whose_profiles_drain_before_their_group_records(
    sandbox, config
):
    # No group_mapping (the README's default): the group key is known only from group records.
    # 150 profiles fill a batch of 100 and drain while the 60 group records still wait in theirs.
    groups = [group(f"c-{n}", f"Company {n}") for n in range(60)]
    users = [member(f"u-{n}", f"c-{n % 60}") for n in range(150)]

    target = run({**config, "batch_size_rows": 100}, pipeline(groups, users))

    companies = brevo_companies(sandbox)
    assert sum(len(c["members"]) for c in companies.values()) == 150
    assert companies["Company 7"]["members"] == ["u-127", "u-67", "u-7"]
    assert target.run.report.companies.links_added == 150


def company_calls(sandbox: SandboxServer, method: str, path: str) -> int:
    """Calls of this method whose path matches ``path`` (a regular expression)."""
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    return sum(1 for c in calls if c["method"] == method and re.fullmatch(path, c["path"]))


def test_links_go_in_cells_split_as_brevo_splits_them_learned_from_one_company(sandbox, config):
    groups = [group(f"c-{n}", f"Company {n}") for n in range(100)]
    # 97 companies of one member each, and 3 companies of 10 members: one id per cell or several.
    users = [member(f"u-{n}", f"c-{n}") for n in range(97)]
    users += [member(f"v-{n}", f"c-{97 + n % 3}") for n in range(30)]
    separator = http.get(f"{sandbox.url}/_sandbox/brevo/associated-contact-separator").json()

    target = run(config, pipeline(groups, users))

    companies = brevo_companies(sandbox)
    assert all(companies[f"Company {n}"]["members"] == [f"u-{n}"] for n in range(97))
    assert companies["Company 98"]["members"] == sorted(f"v-{n}" for n in range(1, 30, 3))
    report = target.run.report.companies
    assert (report.links_added, report.links_verified, report.links_repaired) == (127, 127, 0)
    # ";" is tried first; a Brevo splitting on "," gets the 3 cells of several ids again.
    tried = 1 if separator["separator"] == ";" else 2
    assert company_calls(sandbox, "PATCH", "/companies/link-unlink/.*") == 0
    assert company_calls(sandbox, "GET", "/companies/[0-9a-f]{24}") == tried
    assert report.imports == 1 + tried  # the companies, then their links (and the 3 again)
    assert report.calls <= 20  # of 100 an hour: the read-back is one page, not one per company


def test_links_brevo_holds_otherwise_are_repaired_only_for_their_companies(sandbox, config):
    separator = {"separator": "\t"}  # a Brevo splitting cells on neither ";" nor ","
    http.post(f"{sandbox.url}/_sandbox/brevo/associated-contact-separator", json=separator)
    groups = [group(f"c-{n}", f"Company {n}") for n in range(100)]
    users = [member(f"u-{n}", f"c-{n}") for n in range(97)]
    users += [member(f"v-{n}", f"c-{97 + n % 3}") for n in range(30)]

    target = run(config, pipeline(groups, users))

    companies = brevo_companies(sandbox)
    assert all(companies[f"Company {n}"]["members"] == [f"u-{n}"] for n in range(97))
    assert companies["Company 98"]["members"] == sorted(f"v-{n}" for n in range(1, 30, 3))
    report = target.run.report.companies
    assert (report.links_added, report.links_verified, report.links_repaired) == (127, 127, 30)
    assert company_calls(sandbox, "PATCH", "/companies/link-unlink/.*") == 3  # where needed
    assert "verified 127 (repaired 30)" in target.run.report.render()
    assert report.calls <= 25  # of 100 an hour: the read-back is one page, not one per company


def test_a_rerun_with_nothing_moved_reads_no_company_back(sandbox, config):
    messages = ([group("c-1", "Acme")], [member("u-1", "c-1"), member("u-2", "c-1")])
    run(config, pipeline(*messages))
    http.delete(f"{sandbox.url}/_sandbox/calls")

    target = run(config, pipeline(*messages))

    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()["calls"]
    assert not any(c["method"] == "GET" and c["path"] == "/companies" for c in calls)
    assert target.run.report.companies.links_verified == 0


@respx.mock(base_url="https://api.brevo.com/v3")
def test_a_brevo_that_pages_companies_by_fewer_than_asked_is_still_read_to_the_end(respx_mock):
    # The spec sets no largest GET /companies page: 1,000 are asked, this Brevo gives 100.
    listed = [{"id": f"{n:024x}", "attributes": {}, "linkedContactsIds": [n]} for n in range(250)]

    def page_of_100(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json={"items": listed[(page - 1) * 100 : page * 100]})

    route = respx_mock.get("/companies").mock(side_effect=page_of_100)
    client = BrevoClient("https://api.brevo.com/v3", "key", sleep=lambda _seconds: None)
    companies = BrevoCompanies(client, ContactImports(client, poll_seconds=0, timeout_seconds=1))

    found = companies.linked_contacts({listed[0]["id"], listed[249]["id"]})

    assert found == {listed[0]["id"]: {0}, listed[249]["id"]: {249}}
    assert route.call_count == 3
    assert [len(page) for page in companies.pages()] == [100, 100, 50]  # then no fourth call
    assert route.call_count == 6


def test_links_brevo_refuses_to_repair_stay_out_of_the_ledger_and_are_sent_again_next_run(
    sandbox, config
):
    separator = {"separator": "\t"}  # a Brevo that links none of the target's "1;2;3" cells
    http.post(f"{sandbox.url}/_sandbox/brevo/associated-contact-separator", json=separator)
    fault = {"api": "brevo", "method": "PATCH", "path": "/companies/link-unlink/",
             "kind": "status", "status": 400}  # fmt: skip
    http.post(f"{sandbox.url}/_sandbox/faults", json=fault).raise_for_status()
    messages = ([group("c-1", "Acme")], [member(f"u-{n}", "c-1") for n in range(3)])

    first = run(config, pipeline(*messages)).run.report.companies
    second = run(config, pipeline(*messages)).run.report.companies

    assert (first.links_verified, first.links_unverified) == (0, 3)
    assert (second.links_added, second.links_repaired, second.links_verified) == (3, 3, 3)
    assert brevo_companies(sandbox)["Acme"]["members"] == ["u-0", "u-1", "u-2"]

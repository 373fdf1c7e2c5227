"""Cohorts into Brevo lists: mirror or additive, only membership changes travel."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import pytest

from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.target import TargetBrevoTajo
from tests.singer_messages import cohort, cohorts_input, member

BREVO = "https://api.brevo.com/v3"
# An account with every attribute the shipped mapping fills.
ATTRIBUTES = [
    {"name": name, "category": "normal", "type": "text"}
    for name in [
        "EXT_ID",
        "FIRSTNAME",
        "LASTNAME",
        "SMS",
        "CITY",
        "REGION",
        "COUNTRY",
        "PLAN_TYPE",
        "COMPANY",
        "SIGNUP_DATE",
        "LTV",
    ]
]
pytestmark = pytest.mark.respx(base_url=BREVO, assert_all_called=False)


class FakeLists:
    """Brevo's list endpoints over an in-memory membership, recording every write."""

    def __init__(self, respx_mock, members: dict[int, set[str]] | None = None) -> None:
        self.members = members or {}
        self.writes: list[tuple[str, int, list[str]]] = []
        self.reads = 0
        self.next_list = 100
        respx_mock.post(url__regex=r"/contacts/lists/\d+/contacts/add").mock(side_effect=self.add)
        respx_mock.post(url__regex=r"/contacts/lists/\d+/contacts/remove").mock(
            side_effect=self.remove
        )
        respx_mock.get(url__regex=r"/contacts/lists/\d+/contacts").mock(side_effect=self.read)
        respx_mock.get("/contacts/lists").respond(200, json={"lists": [], "count": 0})
        respx_mock.get("/contacts/folders").respond(200, json={"folders": [], "count": 0})
        respx_mock.post("/contacts/folders").respond(201, json={"id": 9})
        respx_mock.post("/contacts/lists").mock(side_effect=self.create)
        respx_mock.get("/contacts/attributes").respond(200, json={"attributes": ATTRIBUTES})
        respx_mock.post("/contacts/import").mock(side_effect=self.imported)
        respx_mock.get(url__regex=r"/processes/\d+").respond(200, json={"status": "completed"})

    @staticmethod
    def _list(request: httpx.Request) -> int:
        return int(request.url.path.split("/")[4])

    def add(self, request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["extIds"]
        assert len(ids) <= 150
        self.writes.append(("add", self._list(request), ids))
        self.members.setdefault(self._list(request), set()).update(ids)
        return httpx.Response(201, json={"contacts": {"success": ids, "failure": []}})

    def remove(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        ids = body.get("extIds") or body.get("emails")
        assert len(ids) <= 150
        self.writes.append(("remove", self._list(request), ids))
        self.members.setdefault(self._list(request), set()).difference_update(ids)
        return httpx.Response(201, json={"contacts": {"success": ids, "failure": []}})

    def read(self, request: httpx.Request) -> httpx.Response:
        self.reads += 1
        offset = int(request.url.params.get("offset", 0))
        ids = sorted(self.members.get(self._list(request), set()))[offset : offset + 500]
        contacts = [{"email": None, "attributes": {"EXT_ID": i}} for i in ids]
        return httpx.Response(200, json={"contacts": contacts, "count": len(ids)})

    def create(self, request: httpx.Request) -> httpx.Response:
        self.next_list += 1
        self.writes.append(("create list", self.next_list, [json.loads(request.content)["name"]]))
        return httpx.Response(201, json={"id": self.next_list})

    def imported(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        ids = [row["attributes"]["EXT_ID"] for row in body["jsonBody"]]
        self.writes.append(("import", body["listIds"][-1], ids))
        for list_id in body["listIds"]:
            self.members.setdefault(list_id, set()).update(ids)
        return httpx.Response(202, json={"processId": 1})

    def list_writes(self) -> list[tuple[str, int, list[str]]]:
        return [w for w in self.writes if w[0] in ("add", "remove", "import")]


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "import_poll_seconds": 0}


def known_contacts(config: dict, *ids: str) -> None:
    ContactLedger(Ledger(config["ledger_url"])).record_contacts(
        SyncedContact(distinct_id=i) for i in ids
    )


def run(config: dict, *records: dict, complete: dict[int, str] | None = None) -> dict:
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    target.run.client._sleep = lambda _seconds: None
    target.listen(cohorts_input(*records, complete=complete))
    return {c["cohortId"]: c for c in target.run.report.to_dict()["cohorts"]}


ENGAGED = cohort(1, "Engaged Users (Last 7 Days)", "engaged_users")  # lists.engaged_users: 16


def test_members_who_are_contacts_are_added_by_ext_id_in_calls_of_at_most_150(respx_mock, config):
    ids = [f"u{i:03d}" for i in range(200)]
    known_contacts(config, *ids)
    lists = FakeLists(respx_mock)

    report = run(config, ENGAGED, *[member(1, i) for i in ids], complete={1: "S1"})

    adds = [w for w in lists.list_writes() if w[0] == "add"]
    assert [len(w[2]) for w in adds] == [150, 50]
    assert lists.members[16] == set(ids)
    assert report[1]["cohortName"] == "Engaged Users (Last 7 Days)"
    assert report[1]["membersCount"] == 200
    assert report[1]["syncedToBrevo"] == 200
    assert report[1]["listId"] == 16
    assert report[1]["added"] == 200


def test_members_not_yet_contacts_are_created_in_the_list_by_one_import(respx_mock, config):
    known_contacts(config, "u1")
    lists = FakeLists(respx_mock)

    report = run(config, ENGAGED, member(1, "u1"), member(1, "new-1"), complete={1: "S1"})

    assert ("import", 16, ["new-1"]) in lists.list_writes()
    assert lists.members[16] == {"u1", "new-1"}
    assert lists.members[15] == {"new-1"}  # the import also puts them in lists.all_users
    assert report[1]["createdContacts"] == 1


def test_mirror_removes_members_who_left_and_a_rerun_without_change_writes_nothing(
    respx_mock, config
):
    known_contacts(config, "a", "b", "c")
    lists = FakeLists(respx_mock)
    run(config, ENGAGED, member(1, "a"), member(1, "b"), member(1, "c"), complete={1: "S1"})
    lists.writes.clear()

    report = run(config, ENGAGED, member(1, "a", "S2"), member(1, "b", "S2"), complete={1: "S2"})

    assert lists.list_writes() == [("remove", 16, ["c"])]
    assert report[1]["removed"] == 1
    lists.writes.clear()

    run(config, ENGAGED, member(1, "a", "S3"), member(1, "b", "S3"), complete={1: "S3"})
    assert lists.list_writes() == []


def records_held(value: object, depth: int = 4) -> int:
    """How many records (dicts with a ``distinct_id``) ``value`` holds, a few levels down."""
    if isinstance(value, dict):
        inner = sum(records_held(v, depth - 1) for v in value.values()) if depth else 0
        return ("distinct_id" in value) + inner
    if isinstance(value, (list, tuple, set)):
        return sum(records_held(v, depth - 1) for v in value) if depth else 0
    return 0


class Watched:
    """The target's input, noting the most member records its list writer held between lines."""

    def __init__(self, text: io.StringIO, target: TargetBrevoTajo) -> None:
        self.lines = text.getvalue().splitlines(keepends=True)
        self.target = target
        self.peak = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            held = records_held(vars(self.target.run.writers.lists))
            self.peak = max(self.peak, held)
            yield line


def test_members_arriving_before_their_cohort_record_are_rejected_by_name_not_held(
    respx_mock, config, tmp_path
):
    ids = [f"u{i:03d}" for i in range(200)]
    known_contacts(config, *ids)
    lists = FakeLists(respx_mock)
    rejects = tmp_path / "rejects.jsonl"

    # The tap sends each cohort's record before its members: members that come first are not
    # kept in memory until it comes; each is rejected, naming the cohort.
    config = {**config, "batch_size_rows": 50, "rejects_file": str(rejects)}
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    watched = Watched(
        cohorts_input(*[member(1, i) for i in ids], ENGAGED, complete={1: "S1"}), target
    )
    target.listen(watched)

    lines = rejects.read_text().splitlines()
    assert len(lines) == 200
    assert all(
        "cohort 1 was not described by the cohorts stream before its members" in line
        for line in lines
    )
    assert lists.list_writes() == []  # and no member counts as gone: nothing is removed
    report = target.run.report.to_dict()
    (synced,) = report["cohorts"]
    assert (synced["added"], synced["snapshotComplete"]) == (0, False)
    assert watched.peak == 0


def test_the_list_writer_holds_no_member_record_between_batches(respx_mock, config):
    ids = [f"u{i:03d}" for i in range(120)]
    known_contacts(config, *ids)
    lists = FakeLists(respx_mock)

    target = TargetBrevoTajo(config={**config, "batch_size_rows": 50}, parse_env_config=False)
    watched = Watched(
        cohorts_input(ENGAGED, *[member(1, i) for i in ids], complete={1: "S1"}), target
    )
    target.listen(watched)

    assert lists.members[16] == set(ids)
    assert watched.peak == 0


def test_members_of_a_cohort_never_described_are_rejected(respx_mock, config, tmp_path):
    FakeLists(respx_mock)
    rejects = tmp_path / "rejects.jsonl"

    run({**config, "rejects_file": str(rejects)}, member(9, "a"), complete={9: "S1"})

    (line,) = rejects.read_text().splitlines()
    assert "cohort 9 was not described by the cohorts stream" in line


def test_an_unconfirmed_snapshot_never_removes_anyone(respx_mock, config):
    known_contacts(config, "a", "b")
    lists = FakeLists(respx_mock)
    run(config, ENGAGED, member(1, "a"), member(1, "b"), complete={1: "S1"})
    lists.writes.clear()

    report = run(config, ENGAGED, member(1, "a", "S2"), complete={1: "S1"})  # S2 never finished

    assert lists.list_writes() == []
    assert report[1]["snapshotComplete"] is False


def test_additive_mode_never_removes(respx_mock, config, mapping_file, tmp_path):
    additive = tmp_path / "additive.yml"
    additive.write_text(
        mapping_file.read_text() + "cohort_sync_modes:\n  engaged_users: additive\n"
    )
    config = {**config, "mapping_file": str(additive)}
    known_contacts(config, "a", "b")
    lists = FakeLists(respx_mock)
    run(config, ENGAGED, member(1, "a"), member(1, "b"), complete={1: "S1"})
    lists.writes.clear()

    report = run(config, ENGAGED, member(1, "a", "S2"), complete={1: "S2"})

    assert lists.list_writes() == []
    assert lists.members[16] == {"a", "b"}
    assert report[1]["syncMode"] == "additive"


def test_a_cohort_without_a_list_gets_one_named_after_it_in_the_cohort_folder(respx_mock, config):
    known_contacts(config, "a")
    lists = FakeLists(respx_mock)

    report = run(config, cohort(3, "Power Users"), member(3, "a"), complete={3: "S1"})

    assert ("create list", 101, ["Power Users"]) in lists.writes
    assert report[3]["listId"] == 101
    assert lists.members[101] == {"a"}


def test_reconciliation_repairs_changes_made_by_hand_in_brevo(respx_mock, config):
    known_contacts(config, "a", "b")
    lists = FakeLists(respx_mock)
    run(config, ENGAGED, member(1, "a"), member(1, "b"), complete={1: "S1"})
    lists.members[16] = {"a", "hand-added"}  # someone edited the list in Brevo
    lists.writes.clear()

    reconciled = run(
        {**config, "list_reconcile_days": 0},
        ENGAGED,
        member(1, "a", "S2"),
        member(1, "b", "S2"),
        complete={1: "S2"},
    )

    assert lists.members[16] == {"a", "b"}
    assert reconciled[1]["reconciled"] is True
    assert reconciled[1]["repaired"] == 2


def test_lists_are_read_back_only_when_reconciliation_is_due(respx_mock, config):
    known_contacts(config, "a")
    lists = FakeLists(respx_mock)
    run(config, ENGAGED, member(1, "a"), complete={1: "S1"})  # first sync: reconciled
    reads = lists.reads

    run(config, ENGAGED, member(1, "a", "S2"), complete={1: "S2"})

    assert lists.reads == reads


def test_a_list_this_run_created_is_not_read_back_until_its_reconciliation_is_due(
    respx_mock, config
):
    known_contacts(config, "a", "b")
    lists = FakeLists(respx_mock)

    created = run(config, cohort(3, "Power Users"), member(3, "a"), member(3, "b"),
                  complete={3: "S1"})  # fmt: skip

    # Empty when Brevo answered its creation, then only changes Brevo confirmed: known exactly.
    assert lists.reads == 0
    assert lists.members[101] == {"a", "b"}
    assert (created[3]["syncedToBrevo"], created[3]["reconciled"]) == (2, False)
    lists.members[101].add("hand-added")  # someone edits the list in Brevo

    later = run({**config, "list_reconcile_days": 0}, cohort(3, "Power Users"),
                member(3, "a", "S2"), member(3, "b", "S2"), complete={3: "S2"})  # fmt: skip

    assert lists.reads > 0
    assert later[3]["reconciled"] is True
    assert lists.members[101] == {"a", "b"}

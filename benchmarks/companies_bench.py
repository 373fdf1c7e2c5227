"""Calls of Brevo's hourly budget that the target spends on companies: a first run, then a rerun.

The users are contacts already (a run of their profiles alone goes first). Then the target reads
Mixpanel group profiles and the user profiles that name them (``company_id``) from a file, and
syncs them into the sandbox's Brevo: the companies in imports, the created ones
found by listing, the links in imports of ``associated_contact`` cells, then read back. Every call
of Brevo's "other" bucket (companies, CRM attributes, ``/processes``) is counted per endpoint from
the sandbox's call log. The sandbox's rate limits are off (its ``unlimited`` tier), so the run
does not wait an hour: the calls are held against the general tier's budget (100 an hour) by
arithmetic. Its ``associated_contact`` separator is its default (``;``); Brevo documents none.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
from ratios import MAPPING_FILE

from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo.streams.engage import ProfilesStream
from tap_mixpanel_tajo.streams.groups import GroupsStream
from target_brevo_tajo.brevo.rate_budget import TIERS
from target_brevo_tajo.companies.api import COMPANIES_PAGE
from target_brevo_tajo.companies.imports import IMPORT_CHUNK
from target_brevo_tajo.target import TargetBrevoTajo

#: The general tier's hourly budget of "other" calls, which companies spend.
BUDGET = TIERS["general"]["other"][0]
GROUP_KEY = "company_id"
_encoder = msgspec.json.Encoder()


@dataclass
class CompaniesRun:
    """One run of the target: its "other" calls by endpoint, its report, and the seconds."""

    calls: Counter[str]
    report: dict[str, Any]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class CompaniesBench:
    """A first run and an unchanged rerun, and whether Brevo ends holding exactly the input."""

    groups: int
    links: int
    users: CompaniesRun  # the profiles alone before: the users become contacts
    first: CompaniesRun
    rerun: CompaniesRun
    exact: bool
    attribute_calls: int  # CRM attribute calls of the first run: the account's set-up

    def fewest(self) -> int:
        """The fewest "other" calls the documented maxima allow for the first run.

        The companies in imports of 1,000, each awaited by one poll, the created ones found in
        listing pages of 1,000 (the largest page any v3 listing documents); the links likewise
        (an import of 1,000 companies' cells and its poll), and read back in pages of 1,000;
        plus the CRM attribute calls the account's set-up takes (counted, as ours).
        """
        imports = math.ceil(self.groups / IMPORT_CHUNK)
        pages = math.ceil(self.groups / COMPANIES_PAGE)
        return self.attribute_calls + 2 * (2 * imports + pages)


def write_input(path: Path, groups: int, links: int, *, with_groups: bool = True) -> None:
    """Group profiles, then the user profiles naming them: ``links`` users spread evenly."""
    with path.open("wb") as out:
        for stream in (GroupsStream, ProfilesStream):
            message = {"type": "SCHEMA", "stream": stream.name, "schema": stream.schema,
                       "key_properties": list(stream.primary_keys or ())}  # fmt: skip
            out.write(_encoder.encode(message) + b"\n")
        for index in range(groups if with_groups else 0):
            record = {
                "group_key": GROUP_KEY,
                "group_id": f"c{index:06d}",
                "properties": {"$name": f"Company {index}"},
                "full_refresh_id": None,
            }
            out.write(_encoder.encode({"type": "RECORD", "stream": "groups", "record": record}))
            out.write(b"\n")
        for index in range(links):
            user = f"u{index:07d}"
            properties = {"$email": f"{user}@example.com", GROUP_KEY: f"c{index % groups:06d}"}
            record = {"distinct_id": user, "last_seen": None, "properties": properties,
                      "full_refresh_id": None}  # fmt: skip
            out.write(_encoder.encode({"type": "RECORD", "stream": "profiles", "record": record}))
            out.write(b"\n")
        out.write(_encoder.encode({"type": "STATE", "value": {}}) + b"\n")


def other_calls(sandbox: SandboxServer) -> Counter[str]:
    """The Brevo calls of the hourly "other" bucket since the last look, by endpoint."""
    calls = httpx.get(f"{sandbox.url}/_sandbox/calls", timeout=120).json()["calls"]
    httpx.delete(f"{sandbox.url}/_sandbox/calls")
    counted: Counter[str] = Counter()
    for call in calls:
        if call["api"] == "brevo" and call["bucket"] == "other":
            path = re.sub(r"/([0-9a-f]{24}|\d+)$", "/{id}", call["path"])
            counted[f"{call['method']} {path}"] += 1
    return counted


def run_target(config: dict[str, Any], input_file: Path, sandbox: SandboxServer) -> CompaniesRun:
    """The target in this process, reading ``input_file``; its "other" calls and report."""
    other_calls(sandbox)  # forget the calls before this run
    start = time.perf_counter()
    target = TargetBrevoTajo(config=config, parse_env_config=False)
    with input_file.open() as messages:
        target.listen(messages)
    seconds = time.perf_counter() - start
    report = target.run.report.companies.to_dict()
    return CompaniesRun(other_calls(sandbox), report, seconds)


def held_exactly(sandbox: SandboxServer, groups: int, links: int) -> bool:
    """Whether Brevo holds one company per group, each linked to exactly its users."""
    with sandbox.state.lock:
        account = sandbox.state.brevo
        ext_ids = {cid: c["attributes"].get("EXT_ID") for cid, c in account.contacts.items()}
        held = {}
        for company in account.crm.companies.values():
            name = company["attributes"].get("name")
            if name in held:
                return False  # a group made twice
            held[name] = sorted(str(ext_ids.get(i)) for i in company["linkedContactsIds"])
    expected = {f"Company {g}": [] for g in range(groups)}
    for index in range(links):
        expected[f"Company {index % groups}"].append(f"u{index:07d}")
    return held == expected


def bench(groups: int, links: int) -> CompaniesBench:
    """A first run of ``groups`` companies and ``links`` member links, then an unchanged rerun."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-companies-") as name,
        SandboxServer(profiles=0, events=0, days=1, brevo_rate_tier="unlimited") as sandbox,
    ):
        tmp = Path(name)
        mapping = tmp / "mapping.yml"
        mapping.write_text(MAPPING_FILE.read_text().replace("groups: false", "groups: true"))
        config = {
            "api_key": "sandbox-brevo-key",
            "base_url": f"{sandbox.url}/brevo/v3",
            "mapping_file": str(mapping),
            "ledger_url": f"sqlite:///{tmp / 'ledger.sqlite'}",
            "create_missing_attributes": True,
            "import_poll_seconds": 0,
        }
        write_input(tmp / "users.jsonl", groups, links, with_groups=False)
        users = run_target(config, tmp / "users.jsonl", sandbox)  # the users are contacts first
        write_input(tmp / "input.jsonl", groups, links)
        first = run_target(config, tmp / "input.jsonl", sandbox)
        rerun = run_target(config, tmp / "input.jsonl", sandbox)
        counted = (first.report[key] for key in ("created", "links_added", "links_verified"))
        exact = held_exactly(sandbox, groups, links) and tuple(counted) == (groups, links, links)
    attribute_calls = sum(n for call, n in first.calls.items() if "/crm/attributes" in call)
    return CompaniesBench(groups, links, users, first, rerun, exact, attribute_calls)

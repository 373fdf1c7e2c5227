"""A cohort mirrored into a new Brevo list against Brevo's bound, through the sandbox.

The bound is the time the fewest calls Brevo's documented maxima allow would take at its rate
limits: one ``POST /contacts/lists/{id}/contacts/add`` per 150 members, at the contacts
bucket's budget (10 calls a second on the general tier). The target runs against the sandbox's
Brevo, which enforces that budget and answers every call ``latency`` seconds after processing it.

Two routes into the list are measured, each on the same cohort:

- ``list calls``: the members are contacts the ledger knows (their profiles synced before), so
  they join by membership calls of 150;
- ``import``: the ledger knows none of them, so they join through ``POST /contacts/import``
  with ``listIds`` (the contacts path), each import awaited by polling ``GET /processes/{id}``.

Exact: the list in Brevo, ``membersCount`` and ``syncedToBrevo`` all equal the cohort.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cohort_rss import seed_contacts, write_input
from ratios import BIN, answer_late, sandbox_process, target_config

from target_brevo_tajo.lists.api import LIST_CALL_MAX  # Brevo's maximum of ids per call

SEED_IMPORT_ROWS = 50_000  # sandbox contacts per seeding import (well under 10 MB)
ROUTES = ("list calls", "import")


@dataclass
class ListRun:
    """One mirror into a new list through the sandbox."""

    route: str
    members: int
    seconds: float
    calls: Counter[str]  # calls Brevo answered, by endpoint
    rate_limited: int
    in_list: int  # members of the new list in Brevo that belong to the cohort
    extra: int  # members of the new list in Brevo that do not
    cohort: dict[str, Any]
    budget_per_second: int
    cpu_seconds: float  # the target's own CPU time (user + system)

    @property
    def bound_seconds(self) -> float:
        """The fewest membership calls at the contacts budget."""
        return math.ceil(self.members / LIST_CALL_MAX) / self.budget_per_second

    @property
    def share_of_bound(self) -> float:
        """The bound's seconds over this run's (1.0 = as fast as the bound allows)."""
        return self.bound_seconds / self.seconds

    @property
    def exact(self) -> bool:
        """The list, ``membersCount`` and ``syncedToBrevo`` all equal the cohort."""
        return (
            self.in_list == self.members
            and self.extra == 0
            and self.cohort["membersCount"] == self.cohort["syncedToBrevo"] == self.members
        )

    @property
    def total_calls(self) -> int:
        """Every Brevo call of the run."""
        return sum(self.calls.values())


def _seed_brevo(url: str, api_key: str, members: int) -> None:
    """The members as Brevo contacts (EXT_ID only), imported while the budget is lifted."""
    admin = f"{url}/_sandbox/brevo/rate-tier"
    httpx.post(admin, json={"tier": "unlimited"}, timeout=30).raise_for_status()
    for start in range(0, members, SEED_IMPORT_ROWS):
        rows = [
            {"attributes": {"EXT_ID": f"m{i:07d}"}}
            for i in range(start, min(start + SEED_IMPORT_ROWS, members))
        ]
        httpx.post(
            f"{url}/brevo/v3/contacts/import",
            headers={"api-key": api_key},
            json={"jsonBody": rows, "listIds": [15]},
            timeout=300,
        ).raise_for_status()
    httpx.post(admin, json={"tier": "general"}, timeout=30).raise_for_status()
    httpx.delete(f"{url}/_sandbox/calls", timeout=30).raise_for_status()


def _endpoint(call: dict[str, Any]) -> str:
    path = "/".join("{id}" if part.isdigit() else part for part in call["path"].split("/"))
    return f"{call['method']} {path}"


def mirror_into_new_list(members: int, latency: float, route: str) -> ListRun:
    """``target-brevo-tajo`` mirroring a cohort of ``members`` into a new list of the sandbox."""
    from mixpanel_brevo_sandbox import brevo_api  # noqa: PLC0415 - only this figure needs it

    with (
        tempfile.TemporaryDirectory(prefix="bench-lists-") as name,
        sandbox_process("--events", "100", "--profiles", "100") as url,
    ):
        tmp = Path(name)
        _seed_brevo(url, brevo_api.API_KEY, members)
        if route == "list calls":
            seed_contacts(f"sqlite:///{tmp / 'ledger.sqlite'}", members)
        write_input(tmp / "input.jsonl", members)
        answer_late(url, latency, path="/")
        config = target_config(
            tmp,
            f"{url}/brevo/v3",
            brevo_api.API_KEY,
            cohort_sync_mode="mirror",
            create_missing_attributes=True,
        )
        cpu_before = _children_cpu()
        start = time.perf_counter()
        with (tmp / "input.jsonl").open("rb") as stdin, (tmp / "target.log").open("wb") as log:
            done = subprocess.run(
                [BIN / "target-brevo-tajo", "--config", config],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=log,
                check=False,
            )
        seconds = time.perf_counter() - start
        cpu_seconds = _children_cpu() - cpu_before
        if done.returncode:
            tail = (tmp / "target.log").read_text(errors="replace").splitlines()[-3:]
            raise RuntimeError(f"target exit {done.returncode}: {tail}")
        (cohort,) = json.loads((tmp / "report.json").read_text())["cohorts"]
        calls = httpx.get(f"{url}/_sandbox/calls", timeout=120).json()["calls"]
        lists = httpx.get(f"{url}/_sandbox/brevo/lists", timeout=120).json()["lists"]
        contacts = httpx.get(f"{url}/_sandbox/brevo/contacts", timeout=300).json()["contacts"]
        tier = httpx.get(f"{url}/_sandbox/brevo/rate-tier", timeout=30).json()["tier"]
    ext_ids = {c["id"]: (c.get("attributes") or {}).get("EXT_ID") for c in contacts}
    (new_list,) = [lst for lst in lists if lst["id"] == cohort["listId"]]
    listed = {ext_ids.get(i) for i in new_list["contactIds"]}
    cohort_ids = {f"m{i:07d}" for i in range(members)}
    return ListRun(
        route=route,
        members=members,
        seconds=seconds,
        calls=Counter(_endpoint(call) for call in calls if call["api"] == "brevo"),
        rate_limited=sum(1 for call in calls if call.get("status") == 429),
        in_list=len(listed & cohort_ids),
        extra=len(listed - cohort_ids),
        cohort=cohort,
        budget_per_second=_per_second(tier),
        cpu_seconds=cpu_seconds,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _per_second(tier: str) -> int:
    """The contacts bucket's calls a second on the sandbox's tier (its own table)."""
    from mixpanel_brevo_sandbox.brevo_limits import TIERS  # noqa: PLC0415

    return TIERS[tier]["contacts"].limit


if __name__ == "__main__":  # the figure alone: python list_bound.py [members] [route...]
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for name in sys.argv[2:] or ["list calls"]:
        run = mirror_into_new_list(size, 0.15, name)
        print(
            f"{name}: {run.seconds:.1f} s, bound {run.bound_seconds:.1f} s "
            f"({run.share_of_bound:.0%}), cpu {run.cpu_seconds:.1f} s, "
            f"{run.total_calls} calls {dict(run.calls)}, "
            f"429s {run.rate_limited}, exact {run.exact} ({run.in_list}, {run.extra}, "
            f"{run.cohort})"
        )

"""Brevo's budgets are per account: runs sharing one pace together through the ledger.

The proof is the sandbox's: two target processes of one Brevo account, started together, each
with its own events and one shared ledger, stay within Brevo's 10 calls a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.brevo.client import BrevoClient
from target_brevo_tajo.brevo.rate_budget import ARRIVAL_MARGIN_SECONDS, RateBudget
from target_brevo_tajo.brevo.shared_budget import SharedRateBudget, account_key, share_budgets
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.ledger.rate_slots import RateSlotLedger
from target_brevo_tajo.ledger.schema import rate_buckets, rate_slots
from target_brevo_tajo.report import unbalanced
from tests.admin_http import http
from tests.singer_messages import event, singer_input
from tests.target.postgres import new_database

ROOT = Path(__file__).resolve().parents[2]
SECRET = "xkeysib-shared-secret"
EVENTS_PER_RUN = 240
EVENTS_PER_CALL = 4  # 60 calls a run: 12 s for two runs at 10 calls a second
# The ledger's slots are on the wall clock: another test's load between two calls of a test here
# would move them (tests/conftest.py, ``runs_alone``).
pytestmark = pytest.mark.runs_alone


def take(store: RateSlotLedger, count: int) -> list[float]:
    return [store.take("events", 10, 1.0, ARRIVAL_MARGIN_SECONDS, 0.0).start for _ in range(count)]


def test_two_workers_of_one_account_take_slots_of_one_budget(ledger_url):
    first = RateSlotLedger(Ledger(ledger_url), account_key(SECRET))
    second = RateSlotLedger(Ledger(ledger_url), account_key(SECRET))

    slots = sorted(take(first, 15) + take(second, 15))

    # Any 11 slots in a row span more than a second: at most 10 in any window of Brevo's.
    assert (
        min(b - a for a, b in zip(slots, slots[10:], strict=False))
        >= 1.0 + ARRIVAL_MARGIN_SECONDS - 1e-6
    )


def test_another_account_has_a_budget_of_its_own(ledger_url):
    ledger = Ledger(ledger_url)
    take(RateSlotLedger(ledger, account_key(SECRET)), 10)

    (start,) = take(RateSlotLedger(ledger, account_key("another-key")), 1)

    assert start < max(take(RateSlotLedger(ledger, account_key(SECRET)), 1))


def test_what_one_worker_learns_from_brevo_paces_the_others(ledger_url):
    first = RateSlotLedger(Ledger(ledger_url), account_key(SECRET))
    second = RateSlotLedger(Ledger(ledger_url), account_key(SECRET))

    first.learn("events", 5, 1.0, blocked_for=3.0)
    taken = second.take("events", 10, 1.0, ARRIVAL_MARGIN_SECONDS, 0.0)

    assert (taken.limit, taken.window_seconds) == (5, 1.0)
    assert taken.start - taken.now == pytest.approx(3.0, abs=0.1)


def test_the_ledger_keeps_a_hash_of_the_account_and_only_the_slots_of_the_window(ledger_url):
    ledger = Ledger(ledger_url)
    store = RateSlotLedger(ledger, account_key(SECRET))
    for _ in range(60):
        store.take("events", 1000, 0.01, 0.0, 0.0)

    with ledger.engine.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(rate_slots)).scalar_one()
        accounts = set(conn.execute(sa.select(rate_buckets.c.account)).scalars())
    assert kept < 60
    assert accounts == {account_key(SECRET)}
    assert SECRET not in str(accounts)


def test_a_worker_shares_a_429s_reset_with_the_others(ledger_url):
    def too_many(_request: httpx.Request) -> httpx.Response:
        headers = {"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0"}
        return httpx.Response(429, headers={**headers, "x-sib-ratelimit-reset": "1"})

    workers = []
    for _ in range(2):
        client = BrevoClient(
            "https://api.brevo.com/v3", SECRET, transport=httpx.MockTransport(too_many)
        )
        share_budgets(client.budgets, RateSlotLedger(Ledger(ledger_url), account_key(SECRET)))
        workers.append(client.budgets.buckets["events"])
    request = httpx.Request("POST", "https://api.brevo.com/v3/events/batch")
    first, second = workers

    first.reserve(0.0)
    assert first.observe(too_many(request), 0.1, sent_at=0.0)

    assert second.reserve(0.1) >= 1.0  # the other worker waits for the reset too


def test_a_call_that_left_late_counts_from_when_it_left_for_every_worker(ledger_url):
    def worker() -> SharedRateBudget:
        store = RateSlotLedger(Ledger(ledger_url), account_key(SECRET))
        return SharedRateBudget("events", 2, 1.0, store=store)

    first, second = worker(), worker()
    slot = 0.0 + first.reserve(0.0)
    first.reserve(0.0)
    first.departed(slot, 0.5)  # held up half a second after its slot came

    second.reserve(0.0)  # a window after the second call
    # Two calls a window: the fourth keeps a window from the late call, not from its slot.
    assert second.reserve(0.0) >= 0.5 + 1.0 + ARRIVAL_MARGIN_SECONDS - 0.05


def test_a_window_this_workers_own_calls_filled_costs_no_wait_for_brevos_reset(ledger_url):
    budget = SharedRateBudget(
        "contacts", 10, 1.0, store=RateSlotLedger(Ledger(ledger_url), account_key(SECRET))
    )

    def slot() -> float:
        now = time.monotonic()
        return now + budget.reserve(now)

    # The window's ten calls, and three more already waiting for the next window.
    slots = [slot() for _ in range(13)]
    spent = httpx.Response(
        201,
        headers={
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": "1",
        },
    )

    # The tenth call's answer says the window is spent: by this worker's own ten calls.
    assert not budget.observe(spent, now=slots[9] + 0.15, sent_at=slots[9] + 0.01)


def test_a_lone_run_moves_a_late_calls_slot_too():
    budget = RateBudget("events", 2, 1.0)
    budget.reserve(0.0)
    budget.reserve(0.0)
    budget.departed(0.0, 0.5)

    budget.reserve(0.0)
    assert budget.reserve(0.0) == pytest.approx(0.5 + 1.0 + ARRIVAL_MARGIN_SECONDS)


# -- the proof: two runs, one account, the sandbox's call log ---------------------------------


def events_input(tmp_path: Path, prefix: str) -> Path:
    records = [
        event("Purchase", f"{prefix}-{i}", f"user-{i % 20}", user_id=f"user-{i % 20}")
        for i in range(EVENTS_PER_RUN)
    ]
    path = tmp_path / f"input-{prefix}.jsonl"
    path.write_text(singer_input(*records).getvalue())
    return path


def run_two_at_once(
    sandbox: SandboxServer, mapping_file: Path, tmp_path: Path, ledger_url: str, **settings
) -> list[dict]:
    """Two target processes of one account started together; their reports."""
    workers, reports = [], []
    for prefix in ("a", "b"):
        config = {
            "api_key": "sandbox-brevo-key",
            "base_url": f"{sandbox.url}/brevo/v3",
            "mapping_file": str(mapping_file),
            "ledger_url": ledger_url,
            "events_batch_size": EVENTS_PER_CALL,
            "report_file": str(tmp_path / f"report-{prefix}.json"),
            **settings,
        }
        config_file = tmp_path / f"config-{prefix}.json"
        config_file.write_text(json.dumps(config))
        command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(config_file)]
        command += ["--input", str(events_input(tmp_path, prefix))]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        workers.append(
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        )
        reports.append(tmp_path / f"report-{prefix}.json")
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr.decode()[-2000:]
    return [json.loads(path.read_text()) for path in reports]


def busiest_second(calls: list[dict], bucket: str) -> int:
    """The most calls of ``bucket`` the sandbox admitted in any one-second window."""
    times = sorted(c["at"] for c in calls if c["bucket"] == bucket and c["status"] != 429)
    return max(
        (sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)), default=0
    )


def check_two_runs_stay_within_the_budget(
    mapping_file: Path, tmp_path: Path, ledger_url: str
) -> None:
    with SandboxServer(profiles=10, events=10, days=1, brevo_rate_tier="general") as sandbox:
        reports = run_two_at_once(sandbox, mapping_file, tmp_path, ledger_url)
        calls = http.get(f"{sandbox.url}/_sandbox/calls", timeout=30).json()["calls"]
        events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]

    brevo = [c for c in calls if c["api"] == "brevo"]
    rejected = Counter(c["bucket"] for c in brevo if c["status"] == 429)
    assert busiest_second(brevo, "events") <= 10
    assert busiest_second(brevo, "contacts") <= 10
    assert sum(rejected.values()) <= 3, rejected
    held = Counter(e["event_properties"]["mp_insert_id"] for e in events)
    assert held == Counter(f"{p}-{i}" for p in "ab" for i in range(EVENTS_PER_RUN))
    for report in reports:
        assert report["events"]["sent"] == EVENTS_PER_RUN
        assert unbalanced(report) == {}
    sent = sum(r["rate_budgets"]["events"]["calls"] for r in reports)
    assert sent == 2 * EVENTS_PER_RUN // EVENTS_PER_CALL


@pytest.mark.slow
def test_two_runs_of_one_account_on_a_sqlite_ledger_stay_within_10_calls_a_second(
    mapping_file, tmp_path
):
    check_two_runs_stay_within_the_budget(
        mapping_file, tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    )


@pytest.mark.slow
def test_two_runs_of_one_account_on_a_postgres_ledger_stay_within_10_calls_a_second(
    mapping_file, tmp_path, postgres
):
    check_two_runs_stay_within_the_budget(mapping_file, tmp_path, new_database(postgres))

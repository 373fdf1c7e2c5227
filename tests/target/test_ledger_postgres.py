"""Several workers, one ledger, on a real PostgreSQL (pgserver: PostgreSQL binaries in a wheel).

A shared Postgres ledger is what docs/operations.md advises when several workers write to one Brevo
account; these tests start their own server, so they run wherever ``make test`` runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mixpanel_brevo_sandbox.server import SandboxServer
from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.events.ledger import ClaimLost, EventLedger, LedgerEvent, event_key
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.ledger.schema import metadata
from target_brevo_tajo.lists import ledger as lists_ledger
from tests.admin_http import http
from tests.singer_messages import event, singer_input
from tests.target.list_ledger_checks import exercise_set_differences
from tests.target.postgres import new_database

ROOT = Path(__file__).resolve().parents[2]
WHEN = dt.datetime(2026, 11, 20, 10, tzinfo=dt.timezone.utc)


def entry(insert_id: str) -> LedgerEvent:
    return LedgerEvent(event_key("Purchase", insert_id, WHEN), insert_id, "Purchase", WHEN, b"{}")


def test_a_postgres_ledger_is_migrated_to_exactly_the_tables_the_ledger_queries(postgres):
    ledger = Ledger(new_database(postgres))
    Ledger(ledger.url).close()  # opening again is a no-op

    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_ledgers_in_schemas_of_their_own_on_one_database_are_made_and_kept_apart(postgres):
    """One server for many tenants: each ledger_url names its schema; the first run makes it."""
    database = sa.make_url(new_database(postgres))
    urls = {
        tenant: database.update_query_dict({"options": f"-csearch_path=ledger_{tenant}"})
        for tenant in ("acme", "globex")
    }
    with ThreadPoolExecutor(4) as pool:  # two workers of each tenant start together
        ledgers = list(pool.map(Ledger, [str(u) for u in [*urls.values(), *urls.values()]]))
    EventLedger(ledgers[0]).open_call("call-1", [entry("a")], lease_seconds=60)  # acme claims a

    engine = sa.create_engine(database)
    with engine.connect() as conn:
        schemas = set(sa.inspect(conn).get_schema_names())
        assert {"ledger_acme", "ledger_globex"} <= schemas
        assert "event_calls" in sa.inspect(conn).get_table_names(schema="ledger_acme")
        assert sa.inspect(conn).get_table_names(schema="public") == []
    assert EventLedger(ledgers[2]).open_call("call-2", [entry("a")], lease_seconds=60) == []
    assert len(EventLedger(ledgers[1]).open_call("call-3", [entry("a")], lease_seconds=60)) == 1
    for ledger in ledgers:
        ledger.close()
    engine.dispose()


def test_two_workers_never_claim_the_same_event(postgres):
    url = new_database(postgres)
    first, second = Ledger(url), Ledger(url)

    mine = EventLedger(first).open_call("call-1", [entry("a"), entry("b")], lease_seconds=60)
    theirs = EventLedger(second).open_call("call-2", [entry("b"), entry("c")], lease_seconds=60)

    assert [e.insert_id for e in mine] == ["a", "b"]
    assert [e.insert_id for e in theirs] == ["c"]


def test_an_event_already_sent_is_not_claimed_again(postgres):
    url = new_database(postgres)
    first, second = Ledger(url), Ledger(url)
    EventLedger(first).open_call("call-1", [entry("a")], lease_seconds=60)
    EventLedger(first).settle_call("call-1", accepted=[entry("a")])

    assert EventLedger(second).open_call("call-2", [entry("a")], lease_seconds=60) == []


def test_an_expired_claim_is_taken_over_by_exactly_one_worker_and_its_owner_loses_it(postgres):
    url = new_database(postgres)
    killed = Ledger(url)
    EventLedger(killed).open_call("call-1", [entry("a")], lease_seconds=0)
    workers = [Ledger(url) for _ in range(4)]
    taken: list[list[str]] = []

    def take(ledger: Ledger) -> None:
        taken.append([call.call_id for call in EventLedger(ledger).take_over_expired_calls(60)])

    threads = [threading.Thread(target=take, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(taken) == [[], [], [], ["call-1"]]
    with pytest.raises(ClaimLost):
        EventLedger(killed).settle_call("call-1", accepted=[entry("a")])


def test_identity_links_learned_by_two_workers_at_once_do_not_collide(postgres):
    url = new_database(postgres)
    workers = [Ledger(url) for _ in range(4)]
    links = {f"$device:d{i}": f"user-{i}" for i in range(200)}
    errors: list[BaseException] = []

    def learn(ledger: Ledger) -> None:
        try:
            ledger.learn_aliases(links)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=learn, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert workers[0].canonical_ids(links) == links


class OverlappingWorker(threading.Thread):
    """A worker with its own ledger whose input overlaps the others', in its own order.

    As the target does for each batch: it learns the batch's identity links, records its
    contacts, then claims its events call by call and settles each call as accepted.
    """

    def __init__(self, url: str, seed: int) -> None:
        super().__init__()
        self.url, self.rng = url, random.Random(seed)
        self.claimed: list[str] = []
        self.offered: set[str] = set()
        self.failure: BaseException | None = None

    def run(self) -> None:
        ledger = Ledger(self.url)
        try:
            for _ in range(4):
                ids = self.rng.sample(range(600), 400)
                ledger.learn_aliases({f"$device:d{i}": f"user-{i}" for i in ids})
                ContactLedger(ledger).record_contacts(
                    [SyncedContact(f"user-{i}", f"u{i}@x.io") for i in ids]
                )
                events = [entry(f"r-{i}") for i in ids]
                self.offered.update(e.key for e in events)
                for start in range(0, len(events), 100):
                    call_id = uuid.uuid4().hex
                    mine = EventLedger(ledger).open_call(call_id, events[start : start + 100], 60)
                    self.claimed += [e.key for e in mine]
                    if mine:
                        EventLedger(ledger).settle_call(call_id, accepted=mine)
        except Exception as exc:
            self.failure = exc
        finally:
            ledger.close()


@pytest.mark.slow
def test_three_workers_on_overlapping_input_all_finish_and_claim_each_event_once_in_ten_rounds(
    postgres,
):
    failures: list[str] = []
    doubled = lost = 0
    for round_number in range(10):
        url = new_database(postgres)
        Ledger(url).close()
        workers = [OverlappingWorker(url, seed=round_number * 3 + w) for w in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        failures += [f"round {round_number}: {w.failure!r}" for w in workers if w.failure]
        claims = Counter(key for worker in workers for key in worker.claimed)
        doubled += sum(n - 1 for n in claims.values())
        offered = set().union(*(worker.offered for worker in workers))
        reader = Ledger(url)
        lost += len(offered - EventLedger(reader).sent_event_keys(offered))
        reader.close()

    assert failures == []
    assert (doubled, lost) == (0, 0)


@pytest.mark.slow
def test_two_workers_on_the_same_input_send_every_event_once_over_twenty_rounds(
    postgres, mapping_file, tmp_path
):
    records = [
        event(
            "Purchase", f"r-{i}", f"user-{i % 40}", device_id=f"d{i % 40}", user_id=f"user-{i % 40}"
        )
        for i in range(450)
    ]
    input_file = tmp_path / "input.jsonl"
    input_file.write_text(singer_input(*records).getvalue())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    duplicates = 0
    # The race is the point here, not pacing: the sandbox's Brevo lifts its rate limits.
    with SandboxServer(profiles=10, events=10, days=1, brevo_rate_tier="unlimited") as sandbox:
        for round_number in range(20):
            http.post(f"{sandbox.url}/_sandbox/reset", timeout=30).raise_for_status()
            config_file = tmp_path / f"config-{round_number}.json"
            config_file.write_text(
                json.dumps(
                    {
                        "api_key": "sandbox-brevo-key",
                        "base_url": f"{sandbox.url}/brevo/v3",
                        "mapping_file": str(mapping_file),
                        "ledger_url": new_database(postgres),
                        "events_settle_seconds": 0.2,
                    }
                )
            )
            command = [sys.executable, "-m", "target_brevo_tajo", "--config", str(config_file)]
            command += ["--input", str(input_file)]
            workers = [
                subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
                for _ in range(2)
            ]
            for worker in workers:
                _, stderr = worker.communicate(timeout=300)
                assert worker.returncode == 0, stderr.decode()[-2000:]
            events = http.get(f"{sandbox.url}/_sandbox/brevo/events", timeout=30).json()["events"]
            held = Counter(e["event_properties"]["mp_insert_id"] for e in events)
            assert set(held) == {f"r-{i}" for i in range(450)}, f"round {round_number}"
            duplicates += sum(n - 1 for n in held.values())

    assert duplicates == 0


def test_a_dry_run_works_on_a_copy_of_a_postgres_ledger_and_leaves_it_as_it_was(postgres):
    url = new_database(postgres)
    Ledger(url).learn_aliases({"$device:d1": "user-1"})

    dry = Ledger(url, read_only=True)
    dry.learn_aliases({"$device:d2": "user-2"})
    EventLedger(dry).record_sent_events([entry("a")])

    assert dry.canonical_ids(["$device:d1", "$device:d2"]) == {
        "$device:d1": "user-1",
        "$device:d2": "user-2",
    }
    assert EventLedger(dry).sent_event_keys([entry("a").key]) == {entry("a").key}
    dry.close()
    real = Ledger(url)
    assert real.canonical_ids(["$device:d2"]) == {}
    assert EventLedger(real).sent_event_keys([entry("a").key]) == set()


def test_a_cohorts_set_differences_come_in_pages_and_stay_exact_on_postgres(postgres, monkeypatch):
    monkeypatch.setattr(lists_ledger, "PAGE", 2)

    exercise_set_differences(new_database(postgres))

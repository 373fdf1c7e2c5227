"""Any number of workers may start together on a new ledger: one migrates, the others wait."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from target_brevo_tajo.ledger import Ledger, LedgerError
from target_brevo_tajo.ledger.lock import database_file

WORKERS = 3


def start_worker(url: str, at: float) -> str:
    """Open the ledger at ``url`` at the instant ``at``, as a target starts: '' or its error."""
    time.sleep(max(0.0, at - time.time()))
    try:
        Ledger(url).close()
    except LedgerError as exc:
        return str(exc)
    return ""


def test_fifty_starts_of_three_workers_on_a_new_sqlite_ledger_all_succeed(tmp_path):
    failures: list[str] = []
    # Processes, as workers are: each imports the target once, then starts on a new ledger
    # at the same instant as the others.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(WORKERS, mp_context=context) as workers:
        list(workers.map(start_worker, ["sqlite://"] * WORKERS, [0.0] * WORKERS))
        for round_number in range(50):
            url = f"sqlite:///{tmp_path / f'ledger-{round_number}.sqlite'}"
            at = time.time() + 0.05
            failures += [e for e in workers.map(start_worker, [url] * 3, [at] * 3) if e]

    assert failures == []
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger-49.sqlite'}")
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_the_migration_lock_of_a_sqlite_ledger_is_a_file_beside_it(tmp_path):
    path = tmp_path / "ledger.sqlite"

    Ledger(f"sqlite:///{path}").close()

    assert sorted(p.name for p in tmp_path.iterdir() if "lock" in p.name) == [
        "ledger.sqlite-migration.lock"
    ]


def test_only_a_sqlite_ledger_in_a_file_takes_a_file_lock():
    assert database_file(sa.make_url("sqlite:////data/ledger.sqlite")) == Path(
        "/data/ledger.sqlite"
    )
    assert database_file(sa.make_url("sqlite:///file:/data/l.sqlite?mode=ro&uri=true")) == Path(
        "/data/l.sqlite"
    )
    assert database_file(sa.make_url("sqlite://")) is None
    assert database_file(sa.make_url("sqlite:///:memory:")) is None
    assert database_file(sa.make_url("postgresql+psycopg://u@host/ledger")) is None

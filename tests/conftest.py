"""Shared fixtures."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mixpanel_brevo_sandbox.server import SandboxServer
from tap_mixpanel_tajo import client as tap_client
from tap_mixpanel_tajo import query_budget
from target_brevo_tajo.report import SyncReport
from tests.report_checks import report_problems

ROOT = Path(__file__).resolve().parents[1]
MAPPING_FILE = ROOT / "mappings" / "mixpanel-to-brevo.yml"
SHARED_SPECS = ROOT.parent / "shared" / "specs"
E2E = ROOT / "tests" / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e/ is marked ``e2e``: ``make unit`` (``-m "not e2e"``) skips it."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, operation)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@contextmanager
def _turn(item: pytest.Item) -> Iterator[None]:
    """Under pytest-xdist, a ``runs_alone`` test runs while no other worker runs a test.

    Such a test counts the calls the sandbox saw in each second of wall time: another worker's
    load would bunch the arrivals it measures. Other tests share the lock; a ``runs_alone`` test
    takes it whole. The turnstile keeps tests from starting while it waits, so it gets its turn.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: nothing runs at once anyway
        yield
        return
    folder = Path(item.config.option.basetemp).parent  # the run's, beside each worker's own
    turnstile, shared = (folder / f"{name}.lock" for name in ("turnstile", "tests"))
    if item.get_closest_marker("runs_alone"):
        with _flock(turnstile, fcntl.LOCK_EX), _flock(shared, fcntl.LOCK_EX):
            yield
        return
    with _flock(turnstile, fcntl.LOCK_EX):
        pass
    with _flock(shared, fcntl.LOCK_SH):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test's set-up, call and tear-down in its turn (see ``_turn``)."""
    with _turn(item):
        return (yield)


def sandbox_settings(node: pytest.Item | pytest.Collector) -> dict:
    """The ``SandboxServer`` arguments of the ``sandbox`` marker nearest ``node`` (none: demo)."""
    marker = node.get_closest_marker("sandbox")
    return marker.kwargs if marker else {}


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox of the test's own, sized by ``pytest.mark.sandbox(...)``: for tests that write."""
    with SandboxServer(**sandbox_settings(request.node)) as server:
        yield server


@pytest.fixture(scope="module")
def shared_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """One sandbox for the whole module, sized by the module's ``pytest.mark.sandbox(...)``.

    Starting a server builds its data: modules of tests that only read it share one.
    """
    with SandboxServer(**sandbox_settings(request.node)) as server:
        yield server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server of the tests' own (pgserver), as the URL of its admin database.

    One server per pytest process (it takes seconds to start): the ledger tests and the Dagster
    e2e tests each take databases of their own on it. Its folder is outside pytest's, which
    another pytest session may make private (mode 700) under the server's feet.
    """
    pgserver = pytest.importorskip("pgserver", reason="pgserver is part of the test extra")
    # pgserver logs from an atexit hook, after pytest has closed its log streams.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(tempfile.mkdtemp(prefix="tests-pg-"), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def mapping_file() -> Path:
    """The seed-format mapping file shipped in mappings/."""
    return MAPPING_FILE


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch) -> list[float]:
    """The tap's backoffs are recorded, never slept: tests stay fast and can assert the waits."""
    sleeps: list[float] = []
    monkeypatch.setattr(tap_client, "_default_sleep", sleeps.append)
    monkeypatch.setattr(query_budget, "_default_sleep", sleeps.append)
    return sleeps


@pytest.fixture(autouse=True)
def reports_add_up(monkeypatch):
    """Every report a test renders or writes adds up, and its text shows every non-zero count.

    Problems are collected and fail the test at its end: code under test that catches errors
    cannot hide them.
    """
    problems: list[str] = []
    render, write = SyncReport.render, SyncReport.write

    def checked_render(self: SyncReport) -> str:
        text = render(self)
        problems.extend(report_problems(self.to_dict(), text))
        return text

    def checked_write(self: SyncReport, latest: Path, keep: int | None = None) -> Path:
        problems.extend(report_problems(self.to_dict(), render(self)))
        return write(self, latest, keep)

    monkeypatch.setattr(SyncReport, "render", checked_render)
    monkeypatch.setattr(SyncReport, "write", checked_write)
    yield problems
    if problems:
        pytest.fail("reports that do not add up:\n" + "\n".join(dict.fromkeys(problems)))

"""The ledger's schema comes from Alembic migrations; first-release ledgers upgrade in place."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.events.ledger import EventLedger, LedgerEvent, event_key
from target_brevo_tajo.ledger import Ledger, LedgerError
from target_brevo_tajo.ledger.migrate import BASELINE, HEAD, alembic_config
from target_brevo_tajo.ledger.schema import metadata
from target_brevo_tajo.lists.ledger import ListLedger

# What the first release's `metadata.create_all` wrote to a SQLite ledger, frozen: its
# `sqlite_master.sql`, in creation order.
FIRST_RELEASE_DDL = [
    "CREATE TABLE sent_events (\n\tevent_key VARCHAR(32) NOT NULL, \n\tinsert_id VARCHAR(255) "
    "NOT NULL, \n\tevent_name VARCHAR(255) NOT NULL, \n\tevent_time DATETIME NOT NULL, \n\t"
    "sent_at DATETIME NOT NULL, \n\tPRIMARY KEY (event_key)\n)",
    "CREATE INDEX ix_sent_events_event_time ON sent_events (event_time)",
    "CREATE TABLE contacts (\n\tdistinct_id VARCHAR(255) NOT NULL, \n\temail VARCHAR(255), \n\t"
    "sms VARCHAR(32), \n\tattributes_hash VARCHAR(64), \n\tlast_full_refresh VARCHAR(40), \n\t"
    "updated_at DATETIME NOT NULL, \n\tPRIMARY KEY (distinct_id)\n)",
    "CREATE INDEX ix_contacts_sms ON contacts (sms)",
    "CREATE INDEX ix_contacts_email ON contacts (email)",
    "CREATE TABLE identities (\n\talias_id VARCHAR(255) NOT NULL, \n\tcanonical_id VARCHAR(255) "
    "NOT NULL, \n\tseen_at DATETIME NOT NULL, \n\tPRIMARY KEY (alias_id)\n)",
    "CREATE INDEX ix_identities_canonical_id ON identities (canonical_id)",
    "CREATE TABLE list_members (\n\tlist_id BIGINT NOT NULL, \n\tdistinct_id VARCHAR(255) "
    "NOT NULL, \n\tadded_at DATETIME NOT NULL, \n\tPRIMARY KEY (list_id, distinct_id)\n)",
    "CREATE TABLE cohort_lists (\n\tcohort_id BIGINT NOT NULL, \n\tlist_id BIGINT NOT NULL, \n\t"
    "cohort_name VARCHAR(255), \n\treconciled_at DATETIME, \n\tPRIMARY KEY (cohort_id)\n)",
]

# The first release keyed an event by its name and $insert_id only (frozen here).
FIRST_RELEASE_KEY = hashlib.blake2b(b"Purchase\x1fr-1", digest_size=16).hexdigest()
R1_TIME = dt.datetime(2025, 3, 1, 10, tzinfo=dt.timezone.utc)

# Rows as the first release stored them (SQLAlchemy writes SQLite datetimes as text, zone dropped).
FIRST_RELEASE_ROWS = [
    f"INSERT INTO sent_events VALUES ('{FIRST_RELEASE_KEY}', 'r-1', 'Purchase', "
    "'2025-03-01 10:00:00.000000', '2025-03-01 10:05:00.000000')",
    "INSERT INTO contacts VALUES ('user-1', 'ada@example.com', '+33612345678', 'h1', 'refresh-7', "
    "'2025-03-01 10:05:00.000000')",
    "INSERT INTO identities VALUES ('$device:d1', 'user-1', '2025-03-01 10:05:00.000000')",
    "INSERT INTO list_members VALUES (12, 'user-1', '2025-03-01 10:05:00.000000')",
    "INSERT INTO cohort_lists VALUES (501, 12, 'Buyers', '2025-03-02 08:00:00.000000')",
]


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def versions(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def ledger_ddl(path: Path) -> list[str]:
    """The ledger's own tables and indexes as SQLite stores them, Alembic's table aside."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name != 'alembic_version'"
        )
        return sorted(row[0] for row in rows)


def sqlite_file(path: Path, statements: list[str]) -> str:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    return f"sqlite:///{path}"


def first_release_ledger(path: Path) -> str:
    """A ledger as the first release left it: its tables, some rows, no version table."""
    return sqlite_file(path, [*FIRST_RELEASE_DDL, *FIRST_RELEASE_ROWS])


def test_the_baseline_revision_builds_exactly_the_first_release_schema(tmp_path):
    path = tmp_path / "ledger.sqlite"

    with sa.create_engine(f"sqlite:///{path}").begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)

    assert ledger_ddl(path) == sorted(FIRST_RELEASE_DDL)


def test_a_fresh_ledger_is_created_at_head_with_the_tables_the_ledger_queries(tmp_path):
    path = tmp_path / "ledger.sqlite"

    ledger = Ledger(f"sqlite:///{path}")

    assert versions(path) == [head()]
    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_ledger_written_by_the_first_release_upgrades_in_place(tmp_path):
    path = tmp_path / "ledger.sqlite"
    url = first_release_ledger(path)

    ledger = Ledger(url)  # the baseline's CREATE TABLEs would fail here had it not been stamped

    assert versions(path) == [head()]
    # Rekeyed by name, $insert_id and time: the upgraded ledger still knows what it sent.
    assert EventLedger(ledger).sent_event_keys(
        [event_key("Purchase", "r-1", R1_TIME), "other"]
    ) == {event_key("Purchase", "r-1", R1_TIME)}
    assert ContactLedger(ledger).contacts_by_id(["user-1"])["user-1"] == SyncedContact(
        distinct_id="user-1",
        email="ada@example.com",
        sms="+33612345678",
        attributes_hash="h1",
        last_full_refresh="refresh-7",
        updated_at=dt.datetime(2025, 3, 1, 10, 5),
    )
    assert ledger.canonical_ids(["$device:d1"]) == {"$device:d1": "user-1"}
    assert ListLedger(ledger).list_members(12) == {"user-1"}
    assert ListLedger(ledger).cohort_list(501) == (
        12,
        dt.datetime(2025, 3, 2, 8, tzinfo=dt.timezone.utc),
    )
    fresh = tmp_path / "fresh.sqlite"
    Ledger(f"sqlite:///{fresh}").close()
    assert ledger_ddl(path) == ledger_ddl(fresh)


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        pytest.param(
            [s for s in FIRST_RELEASE_DDL if "cohort_lists" not in s],
            "no table cohort_lists",
            id="a table missing",
        ),
        pytest.param(
            ["CREATE TABLE contacts (distinct_id VARCHAR(255) PRIMARY KEY, email VARCHAR(255))"],
            "no column attributes_hash, last_full_refresh, sms, updated_at in contacts",
            id="another application's table",
        ),
    ],
)
def test_some_ledger_tables_without_a_version_table_are_refused_not_stamped(
    tmp_path, statements, problem
):
    url = sqlite_file(tmp_path / "ledger.sqlite", statements)

    with pytest.raises(LedgerError, match=problem):
        Ledger(url)

    assert "alembic_version" not in sa.inspect(sa.create_engine(url)).get_table_names()


def test_opening_a_ledger_twice_is_idempotent_and_quiet(tmp_path, caplog):
    path = tmp_path / "ledger.sqlite"
    ContactLedger(Ledger(f"sqlite:///{path}")).record_contacts(
        [SyncedContact(distinct_id="user-1")]
    )

    with caplog.at_level(logging.INFO, logger="alembic"):
        caplog.clear()  # only the second open: an earlier test may leave alembic's logger at INFO
        ledger = Ledger(f"sqlite:///{path}")

    assert versions(path) == [head()]
    assert list(ContactLedger(ledger).contacts_by_id(["user-1"])) == ["user-1"]
    assert [r for r in caplog.records if r.name.startswith("alembic")] == []


def test_a_dry_run_ledger_sees_its_own_rows_and_never_creates_the_ledger_at_its_url(tmp_path):
    path = tmp_path / "ledger.sqlite"

    ledger = Ledger(f"sqlite:///{path}", read_only=True)
    EventLedger(ledger).record_sent_events([LedgerEvent("k1", "r-1", "Purchase", R1_TIME, b"{}")])
    ContactLedger(ledger).record_contacts([SyncedContact(distinct_id="user-1")])

    assert EventLedger(ledger).sent_event_keys(["k1"]) == {"k1"}
    assert list(ContactLedger(ledger).contacts_by_id(["user-1"])) == ["user-1"]
    ledger.close()
    assert not path.exists()


def test_a_dry_run_migrates_a_copy_of_an_old_ledger_never_the_ledger_itself(tmp_path):
    path = tmp_path / "ledger.sqlite"
    url = first_release_ledger(path)
    before = path.read_bytes()

    ledger = Ledger(url, read_only=True)

    assert ledger.canonical_ids(["$device:d1"]) == {"$device:d1": "user-1"}
    ledger.close()
    assert path.read_bytes() == before
    assert ledger_ddl(path) == sorted(FIRST_RELEASE_DDL)


def test_the_head_the_ledger_checks_at_start_is_alembics_newest_revision():
    assert head() == HEAD


def test_a_ledger_already_at_head_opens_without_importing_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger(url)
    opening = (
        "import sys\n"
        "from target_brevo_tajo.ledger import Ledger\n"
        f"Ledger({url!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", opening], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


def test_a_sqlite_ledger_commits_through_a_write_ahead_log_synced_at_each_commit(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")

    with ledger.engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()

    assert journal == "wal"
    assert synchronous == 2  # FULL: a commit survives a power loss, not only a kill


def test_an_in_memory_ledger_is_migrated_on_its_shared_connection():
    lists = ListLedger(Ledger("sqlite://"))

    lists.add_list_members(12, ["user-1"])

    assert lists.list_members(12) == {"user-1"}


def test_migrating_leaves_the_application_logging_alone(tmp_path):
    app_logger = logging.getLogger("target-brevo-tajo-test")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}").close()

    assert not app_logger.disabled
    assert (root.handlers, root.level) == (handlers, level)


def test_downgrading_to_base_leaves_no_ledger_tables(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(f"sqlite:///{path}")

    with ledger.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")

    assert sa.inspect(ledger.engine).get_table_names() == ["alembic_version"]
    assert versions(path) == []


def test_a_dry_run_on_a_file_that_is_no_ledger_is_one_line_that_says_so(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"these are not the pages of a SQLite database" * 100)

    with pytest.raises(LedgerError, match="this file is not a sync ledger") as refused:
        Ledger(f"sqlite:///{path}", read_only=True)

    assert "\n" not in str(refused.value)

"""Bring a ledger database to the current schema with Alembic whenever a ledger is opened.

The migration environment ships inside this package (``migrations/``), so no ``alembic.ini`` is
needed: the configuration is built here and the ledger's own connection is handed to ``env.py``.

Ledgers written before migrations existed hold the first release's tables and no version table.
They are recognised by those tables and stamped at the baseline revision, which creates exactly
those tables, so upgrading them keeps every row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from target_brevo_tajo.ledger.lock import migration_lock

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = "target_brevo_tajo.ledger:migrations"
BASELINE = "0001"
# The newest revision in ``migrations/versions``. A ledger already there starts without
# importing Alembic (10 MB of the target's memory, 0.1 s of its start); a test pins this to
# Alembic's own head, so a new migration fails the tests until it is named here.
HEAD = "0009"
MIGRATION_LOCK = 0x7A70_B5E0  # any constant shared by every worker of this ledger

# Alembic's own table: one row per head, holding its revision.
_version_table = sa.table("alembic_version", sa.column("version_num"))

# The tables and columns the first release created with ``metadata.create_all``; never edit.
_BASELINE_TABLES: dict[str, frozenset[str]] = {
    "sent_events": frozenset({"event_key", "insert_id", "event_name", "event_time", "sent_at"}),
    "contacts": frozenset(
        {"distinct_id", "email", "sms", "attributes_hash", "last_full_refresh", "updated_at"}
    ),
    "identities": frozenset({"alias_id", "canonical_id", "seen_at"}),
    "list_members": frozenset({"list_id", "distinct_id", "added_at"}),
    "cohort_lists": frozenset({"cohort_id", "list_id", "cohort_name", "reconciled_at"}),
}


class LedgerSchemaError(RuntimeError):
    """The database holds some of the ledger's tables, but not as any release wrote them."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration, built in code; ``env.py`` migrates ``connection``.

    Without a connection it serves only to write a new revision (see ``migrations/env.py``).
    """
    from alembic.config import Config  # noqa: PLC0415 - only a migration needs Alembic

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: sa.Engine) -> None:
    """Migrate to the newest revision in one connection, adopting an unversioned ledger first.

    Everything commits together where the database has transactional DDL (Postgres). A ledger
    already at the newest revision is left without running Alembic, which keeps the common
    start fast and its log quiet. Workers starting together on a new ledger migrate it one at
    a time: the first migrates, the others then find it at head.
    """
    with engine.connect() as conn:
        if _at_head(conn):
            return
    with migration_lock(engine.url), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Postgres DDL is transactional; the lock ends with the transaction.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            _create_search_path_schema(conn)
        if _at_head(conn):
            return  # another worker migrated it while this one waited
        from alembic import command  # noqa: PLC0415 - only a migration needs Alembic

        config = alembic_config(conn)
        tables = set(sa.inspect(conn).get_table_names())
        if _version_table.name not in tables and tables & _BASELINE_TABLES.keys():
            _check_baseline(conn, tables)
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


def _create_search_path_schema(conn: sa.Connection) -> None:
    """Make the first schema of the search_path when none of it exists yet.

    A server shared by many tenants keeps each one's ledger in a schema of its own, named in
    ``ledger_url`` (``?options=-csearch_path%3D<schema>``): a new tenant's first run makes it.
    """
    if conn.execute(sa.text("SELECT current_schema()")).scalar() is not None:
        return
    search_path = str(conn.execute(sa.text("SHOW search_path")).scalar())
    first = search_path.split(",", maxsplit=1)[0].strip().strip('"')
    if first and first != "$user":
        schema = conn.dialect.identifier_preparer.quote_identifier(first)
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))


def _at_head(conn: sa.Connection) -> bool:
    if _version_table.name not in sa.inspect(conn).get_table_names():
        return False
    return conn.execute(sa.select(_version_table.c.version_num)).scalars().all() == [HEAD]


def _check_baseline(conn: sa.Connection, tables: set[str]) -> None:
    """Refuse to stamp a database that has only some of the first release's tables or columns."""
    inspector = sa.inspect(conn)
    problems: list[str] = []
    for table, columns in _BASELINE_TABLES.items():
        if table not in tables:
            problems.append(f"no table {table}")
        elif lacking := columns - {column["name"] for column in inspector.get_columns(table)}:
            problems.append(f"no column {', '.join(sorted(lacking))} in {table}")
    if problems:
        url = conn.engine.url.render_as_string(hide_password=True)
        msg = (
            f"{url} has sync ledger tables without a version table, but {'; '.join(problems)}: "
            "not a ledger any release wrote; point ledger_url at another database"
        )
        raise LedgerSchemaError(msg)

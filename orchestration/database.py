"""Meltano's system database in the shared PostgreSQL: its schema made, and migrated, once.

Meltano migrates its system database when a command first finds it behind; four tenants
starting together on a new server would migrate it four times at once. The first run takes a
PostgreSQL advisory lock, makes the schema and lets one Meltano command migrate it; the others
wait on the lock and then find it ready. (Each tenant's ledger makes its own schema: the target
does it, under its migration lock.)
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from orchestration.runs import MELTANO_SCHEMA, with_schema

MELTANO_SCHEMA_LOCK = 0x6D65_6C74  # any constant shared by every worker of this server


def prepare_meltano_database(database_url: str, migrate: Callable[[], object]) -> None:
    """Make Meltano's schema when missing and run ``migrate`` (a Meltano command) if it is new."""
    engine = sa.create_engine(with_schema(database_url, MELTANO_SCHEMA))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MELTANO_SCHEMA_LOCK})
            try:
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{MELTANO_SCHEMA}"'))
                conn.commit()
                tables = sa.inspect(conn).get_table_names(schema=MELTANO_SCHEMA)
                if "alembic_version" not in tables:
                    migrate()
            finally:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MELTANO_SCHEMA_LOCK}
                )
                conn.commit()
    finally:
        engine.dispose()

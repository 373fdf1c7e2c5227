"""Ledgers on the PostgreSQL server of the ``postgres`` fixture (tests/target/conftest.py)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa


def new_database(postgres: str) -> str:
    """A fresh, empty database on the server: tests sharing the server keep their ledgers apart."""
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    url = sa.make_url(postgres)
    return url.set(database=name).render_as_string(hide_password=False)

"""Baseline: the tables of the first release, which created them without migrations.

Revision ID: 0001
Revises:

Ledgers written before migrations existed are stamped at this revision, so it must create
exactly the tables that release's ``metadata.create_all`` did, and never change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the five tables and their indexes."""
    op.create_table(
        "sent_events",
        sa.Column("event_key", sa.String(32), primary_key=True),
        sa.Column("insert_id", sa.String(255), nullable=False),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sent_events_event_time", "sent_events", ["event_time"])
    op.create_table(
        "contacts",
        sa.Column("distinct_id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(255)),
        sa.Column("sms", sa.String(32)),
        sa.Column("attributes_hash", sa.String(64)),
        sa.Column("last_full_refresh", sa.String(40)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_email", "contacts", ["email"])
    op.create_index("ix_contacts_sms", "contacts", ["sms"])
    op.create_table(
        "identities",
        sa.Column("alias_id", sa.String(255), primary_key=True),
        sa.Column("canonical_id", sa.String(255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identities_canonical_id", "identities", ["canonical_id"])
    op.create_table(
        "list_members",
        sa.Column("list_id", sa.BigInteger, primary_key=True),
        sa.Column("distinct_id", sa.String(255), primary_key=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cohort_lists",
        sa.Column("cohort_id", sa.BigInteger, primary_key=True),
        sa.Column("list_id", sa.BigInteger, nullable=False),
        sa.Column("cohort_name", sa.String(255)),
        sa.Column("reconciled_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    """Drop the five tables (their indexes go with them)."""
    for table in ("cohort_lists", "list_members", "identities", "contacts", "sent_events"):
        op.drop_table(table)

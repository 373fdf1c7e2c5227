"""Cohort runs on disk: a run's cohort members and the lists it read back, in the ledger.

Revision ID: 0008
Revises: 0007

A run held every member of each cohort (and every member of a list read back) in memory, so a
1,000,000-member cohort cost the target a million strings. The members now go to these tables in
batches, and removals and repairs are set differences the database computes page by page. Brevo
ids are looked up page by page while a list is read back: they get an index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The cohort run members and list read-back tables; an index on Brevo contact ids."""
    op.create_table(
        "cohort_run_members",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("cohort_id", sa.BigInteger, primary_key=True),
        sa.Column("distinct_id", sa.String(255), primary_key=True),
    )
    op.create_table(
        "list_readback",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("list_id", sa.BigInteger, primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("distinct_id", sa.String(255)),
        sa.Column("brevo_id", sa.BigInteger),
    )
    op.create_index("list_readback_members", "list_readback", ["run_id", "list_id", "distinct_id"])
    op.create_index("ix_contact_brevo_ids_brevo_id", "contact_brevo_ids", ["brevo_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_contact_brevo_ids_brevo_id", "contact_brevo_ids")
    op.drop_table("list_readback")
    op.drop_table("cohort_run_members")

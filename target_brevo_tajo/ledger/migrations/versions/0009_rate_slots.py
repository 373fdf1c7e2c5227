"""Brevo's rate budgets shared by the workers of one account: its buckets and their call slots.

Revision ID: 0009
Revises: 0008

Brevo counts calls per account: two workers each pacing to 10 calls a second send 20. Every call
slot a worker takes is now a row of ``rate_slots``, taken under a lock on its bucket's row in
``rate_buckets``, which also keeps what Brevo's headers taught (limit, window, a wait for a reset).
Accounts are a hash of the credential, never the credential itself. Slots older than their
bucket's window are deleted as new ones are taken, so the table stays small.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The rate buckets of each account and the call slots taken in them."""
    op.create_table(
        "rate_buckets",
        sa.Column("account", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.String(16), primary_key=True),
        sa.Column("slots_taken", sa.BigInteger, nullable=False),
        sa.Column("call_limit", sa.Integer),
        sa.Column("window_seconds", sa.Float),
        sa.Column("blocked_until", sa.Float),
    )
    op.create_table(
        "rate_slots",
        sa.Column("slot_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("bucket", sa.String(16), nullable=False),
        sa.Column("slot_at", sa.Float, nullable=False),
    )
    op.create_index("ix_rate_slots_bucket_time", "rate_slots", ["account", "bucket", "slot_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_rate_slots_bucket_time", "rate_slots")
    op.drop_table("rate_slots")
    op.drop_table("rate_buckets")

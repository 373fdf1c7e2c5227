"""Claims: several workers share one ledger.

Revision ID: 0003
Revises: 0002

A call in doubt becomes a claim with an owner and a lease: the worker that opened it settles it;
another worker takes it over only once the lease has expired. An event may be claimed by one call
at a time (a unique key on ``events_in_doubt.event_key``), so two workers reading the same input
never both send it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Owner and lease on calls; one claim per event."""
    with op.batch_alter_table("event_calls") as batch:
        batch.add_column(sa.Column("owner", sa.String(100)))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
    op.create_index("ux_events_in_doubt_event_key", "events_in_doubt", ["event_key"], unique=True)


def downgrade() -> None:
    """Drop the claim columns and the one-claim-per-event key."""
    op.drop_index("ux_events_in_doubt_event_key", table_name="events_in_doubt")
    with op.batch_alter_table("event_calls") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("owner")

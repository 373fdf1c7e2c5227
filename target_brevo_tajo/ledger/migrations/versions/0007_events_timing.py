"""Events timing: what the target measured of Brevo's events queue, for every later run.

Revision ID: 0007
Revises: 0006

Settling a call in doubt looks its events up in ``GET /events``; Brevo documents no delay before
an accepted event shows there. The target samples it and keeps the longest delay observed, so
that no run settles a call before a margin above it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The events timing table."""
    op.create_table(
        "events_timing",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the events timing table."""
    op.drop_table("events_timing")

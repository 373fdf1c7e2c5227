"""Lookup rows: the last rows of each Mixpanel lookup table the target read.

Revision ID: 0005
Revises: 0004

Lookup tables enrich profiles and events. A run whose input carries none of their rows (an
hourly events-only run, a table whose download was refused) joins the rows kept here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The lookup rows table."""
    op.create_table(
        "lookup_rows",
        sa.Column("table_id", sa.String(255), primary_key=True),
        sa.Column("row_key", sa.Text, primary_key=True),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("row_values", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the lookup rows table."""
    op.drop_table("lookup_rows")

"""Contacts left out: profiles whose values Brevo could not take yet, to send them again.

Revision ID: 0006
Revises: 0005

Between full refreshes the tap reads only the profiles that changed, so a contact sent without a
value (an attribute the account lacked, a value its type refused, an SMS another contact held)
would wait a week for its profile. The ledger keeps that profile and each run sends it again once
the account takes the value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The contacts left out table."""
    op.create_table(
        "contacts_left_out",
        sa.Column("distinct_id", sa.String(255), primary_key=True),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("left_out", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the contacts left out table."""
    op.drop_table("contacts_left_out")

"""Companies: Mixpanel groups mapped to Brevo companies, their links, and contacts' Brevo ids.

Revision ID: 0004
Revises: 0003

Brevo companies have no external id, so the ledger keeps each group's Brevo company id and a
hash of what was sent (an unchanged rerun sends nothing), the contacts Brevo links to each
company (links change by difference), which group each user's profile names, and the numeric
Brevo id of each contact (link calls need it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The four company tables."""
    op.create_table(
        "companies",
        sa.Column("group_key", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("sent_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "company_links",
        sa.Column("group_key", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("distinct_id", sa.String(255), primary_key=True),
    )
    op.create_table(
        "group_members",
        sa.Column("distinct_id", sa.String(255), primary_key=True),
        sa.Column("group_key", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(255), nullable=False),
    )
    op.create_table(
        "contact_brevo_ids",
        sa.Column("distinct_id", sa.String(255), primary_key=True),
        sa.Column("brevo_id", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop the company tables."""
    for table in ("contact_brevo_ids", "group_members", "company_links", "companies"):
        op.drop_table(table)

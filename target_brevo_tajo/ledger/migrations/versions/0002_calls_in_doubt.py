"""Calls in doubt, and the event's time in its ledger key.

Revision ID: 0002
Revises: 0001

Before each ``POST /events/batch`` the target now records the call and its events, so a call
whose answer never came (a kill, a timeout, a 5xx after Brevo queued it) can be settled by
looking its events up in Brevo instead of being resent blindly.

The event key now covers Mixpanel's ``time`` as well as the name and ``$insert_id``: two events
of different users may share an ``$insert_id``. Existing keys are recomputed from the stored
columns with a frozen copy of the key function, so a ledger upgraded in place still knows every
event it sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_sent_events = sa.table(
    "sent_events",
    sa.column("event_key", sa.String),
    sa.column("insert_id", sa.String),
    sa.column("event_name", sa.String),
    sa.column("event_time", sa.DateTime(timezone=True)),
)
_BATCH = 1000


def _key_0002(event_name: str, insert_id: str, event_time: dt.datetime) -> str:
    """The event key as of this revision; never edit (later revisions rekey with their own)."""
    moment = (
        event_time.replace(tzinfo=dt.timezone.utc)
        if event_time.tzinfo is None
        else event_time.astimezone(dt.timezone.utc)
    )
    text = f"{event_name}\x1f{insert_id}\x1f{moment.isoformat(timespec='microseconds')}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _key_0001(event_name: str, insert_id: str) -> str:
    return hashlib.blake2b(f"{event_name}\x1f{insert_id}".encode(), digest_size=16).hexdigest()


def upgrade() -> None:
    """Rekey the sent events; add the tables of calls in doubt."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            _sent_events.c.event_key,
            _sent_events.c.insert_id,
            _sent_events.c.event_name,
            _sent_events.c.event_time,
        )
    ).all()
    for start in range(0, len(rows), _BATCH):
        for old_key, insert_id, name, time in rows[start : start + _BATCH]:
            conn.execute(
                sa.update(_sent_events)
                .where(_sent_events.c.event_key == old_key)
                .values(event_key=_key_0002(name, insert_id, time))
            )
    op.create_table(
        "event_calls",
        sa.Column("call_id", sa.String(32), primary_key=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "events_in_doubt",
        sa.Column("call_id", sa.String(32), primary_key=True),
        sa.Column("event_key", sa.String(32), primary_key=True),
        sa.Column("insert_id", sa.String(255), nullable=False),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the tables of calls in doubt; key the sent events by name and insert id again."""
    op.drop_table("events_in_doubt")
    op.drop_table("event_calls")
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_sent_events.c.event_key, _sent_events.c.insert_id, _sent_events.c.event_name)
    ).all()
    for key, insert_id, name in rows:
        conn.execute(
            sa.update(_sent_events)
            .where(_sent_events.c.event_key == key)
            .values(event_key=_key_0001(name, insert_id))
        )

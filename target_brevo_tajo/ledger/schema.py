"""The ledger's tables as its queries see them.

Migrations, not this module, create and change them in a database: a change here goes with a
new revision in ``migrations/versions``, and a test checks that the migrations at head build
exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

sent_events = sa.Table(
    "sent_events",
    metadata,
    sa.Column("event_key", sa.String(32), primary_key=True),
    sa.Column("insert_id", sa.String(255), nullable=False),
    sa.Column("event_name", sa.String(255), nullable=False),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)

# A POST /events/batch call recorded before it is sent, until Brevo's answer settles it.
event_calls = sa.Table(
    "event_calls",
    metadata,
    sa.Column("call_id", sa.String(32), primary_key=True),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    # The worker settling the call, until its lease ends; then another worker may take it over.
    sa.Column("owner", sa.String(100)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
)

# The events of a call in doubt, with the payload as sent, so that the missing ones can be resent.
events_in_doubt = sa.Table(
    "events_in_doubt",
    metadata,
    sa.Column("call_id", sa.String(32), primary_key=True),
    sa.Column("event_key", sa.String(32), primary_key=True),
    sa.Column("insert_id", sa.String(255), nullable=False),
    sa.Column("event_name", sa.String(255), nullable=False),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Index("ux_events_in_doubt_event_key", "event_key", unique=True),  # one claim per event
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("distinct_id", sa.String(255), primary_key=True),
    sa.Column("email", sa.String(255), index=True),
    sa.Column("sms", sa.String(32), index=True),
    sa.Column("attributes_hash", sa.String(64)),
    # The full refresh (the tap's refresh id) in which Mixpanel last listed this profile.
    sa.Column("last_full_refresh", sa.String(40)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Contacts sent with values left out that the account may accept later (an attribute it lacked,
# a value its type refused, an SMS another contact held): the profile as received, to send again.
contacts_left_out = sa.Table(
    "contacts_left_out",
    metadata,
    sa.Column("distinct_id", sa.String(255), primary_key=True),
    sa.Column("properties", sa.Text, nullable=False),  # the profile's properties, as JSON
    sa.Column("left_out", sa.Text, nullable=False),  # the attributes left out, comma-separated
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Identity merges: an alias distinct id ("$device:<id>", an $anon_id, an alias) -> canonical id.
identities = sa.Table(
    "identities",
    metadata,
    sa.Column("alias_id", sa.String(255), primary_key=True),
    sa.Column("canonical_id", sa.String(255), nullable=False, index=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

list_members = sa.Table(
    "list_members",
    metadata,
    sa.Column("list_id", sa.BigInteger, primary_key=True),
    sa.Column("distinct_id", sa.String(255), primary_key=True),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)

cohort_lists = sa.Table(
    "cohort_lists",
    metadata,
    sa.Column("cohort_id", sa.BigInteger, primary_key=True),
    sa.Column("list_id", sa.BigInteger, nullable=False),
    sa.Column("cohort_name", sa.String(255)),
    sa.Column("reconciled_at", sa.DateTime(timezone=True)),
)

# The members of each cohort one run received, so that its removals and reconciliation are
# set differences in the database, not sets in the target's memory. ``run_id`` starts with the
# run's UTC start time: rows a killed run left behind are dropped once they are a week old.
cohort_run_members = sa.Table(
    "cohort_run_members",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("cohort_id", sa.BigInteger, primary_key=True),
    sa.Column("distinct_id", sa.String(255), primary_key=True),
)

# A list as one run read it back from Brevo, by position in the listing: identified members
# (distinct id, and Brevo id when listed) and strangers (a Brevo id only).
list_readback = sa.Table(
    "list_readback",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("list_id", sa.BigInteger, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("distinct_id", sa.String(255)),
    sa.Column("brevo_id", sa.BigInteger),
    sa.Index("list_readback_members", "run_id", "list_id", "distinct_id"),
)

# A Mixpanel group's Brevo company, and the hash of what was last sent for it.
companies = sa.Table(
    "companies",
    metadata,
    sa.Column("group_key", sa.String(255), primary_key=True),
    sa.Column("group_id", sa.String(255), primary_key=True),
    sa.Column("company_id", sa.String(64), nullable=False),
    sa.Column("sent_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# The contacts Brevo links to each group's company, as last sent.
company_links = sa.Table(
    "company_links",
    metadata,
    sa.Column("group_key", sa.String(255), primary_key=True),
    sa.Column("group_id", sa.String(255), primary_key=True),
    sa.Column("distinct_id", sa.String(255), primary_key=True),
)

# The group each user's latest profile names (its member property), per group key.
group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("distinct_id", sa.String(255), primary_key=True),
    sa.Column("group_key", sa.String(255), primary_key=True),
    sa.Column("group_id", sa.String(255), nullable=False),
)

# A contact's numeric Brevo id, which link calls need.
contact_brevo_ids = sa.Table(
    "contact_brevo_ids",
    metadata,
    sa.Column("distinct_id", sa.String(255), primary_key=True),
    sa.Column("brevo_id", sa.BigInteger, nullable=False, index=True),
)

# The last rows of each Mixpanel lookup table, so a run without them (events only) still enriches.
lookup_rows = sa.Table(
    "lookup_rows",
    metadata,
    sa.Column("table_id", sa.String(255), primary_key=True),
    sa.Column("row_key", sa.Text, primary_key=True),
    sa.Column("table_name", sa.String(255), nullable=False),
    sa.Column("row_values", sa.Text, nullable=False),  # the row's columns, as JSON
    sa.Column("run_id", sa.String(32), nullable=False),  # the run that last read the row
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# What the target measured of Brevo's events queue: the longest delay before an accepted event
# showed in GET /events ("visibility_delay"), which settling a call in doubt waits beyond.
events_timing = sa.Table(
    "events_timing",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
)

# Brevo's rate buckets of each account (a hash of its credential), shared by every worker of it:
# the row each call slot is taken under (locked), and what Brevo's headers taught of the bucket.
rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("account", sa.String(32), primary_key=True),
    sa.Column("bucket", sa.String(16), primary_key=True),
    sa.Column("slots_taken", sa.BigInteger, nullable=False),
    sa.Column("call_limit", sa.Integer),  # None until a header teaches it: the tier's
    sa.Column("window_seconds", sa.Float),
    sa.Column("blocked_until", sa.Float),  # a 429's reset, on the ledger's clock (epoch seconds)
)

# The call slots taken in each bucket (epoch seconds on the ledger's clock), within its window.
rate_slots = sa.Table(
    "rate_slots",
    metadata,
    sa.Column("slot_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("account", sa.String(32), nullable=False),
    sa.Column("bucket", sa.String(16), nullable=False),
    sa.Column("slot_at", sa.Float, nullable=False),
    sa.Index("ix_rate_slots_bucket_time", "account", "bucket", "slot_at"),
)

"""Alembic's environment for the sync ledger: migrates the connection the ledger hands over.

Runs only through ``target_brevo_tajo.ledger.migrate``, which passes its open connection in
``config.attributes["connection"]`` and commits it. Logging is left to the application, so no
``fileConfig`` here. A new revision: ``command.revision(alembic_config(), "what", rev_id=...)``
with the next number, written as explicit ``op`` operations (``op.batch_alter_table`` to alter
a table, which SQLite needs), with ``schema.py`` changed to match.
"""

from __future__ import annotations

from alembic import context

from target_brevo_tajo.ledger.schema import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()

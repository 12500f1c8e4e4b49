"""Alembic environment: migrations run on the connection handed over by riskml.store.migrate."""

from __future__ import annotations

from alembic import context

from riskml.store.schema import METADATA

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through riskml.store.migrate
    raise RuntimeError("run the store migrations through riskml.store.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

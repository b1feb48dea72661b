"""Alembic environment: runs on the connection the hub hands over (see ``uavops.hub.db.migrate``)."""

from __future__ import annotations

from alembic import context

from uavops.hub.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline use is not supported
    raise RuntimeError("run migrations through uavops.hub.db.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

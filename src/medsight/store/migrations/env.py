"""Alembic environment: migrate the connection :mod:`medsight.store.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from medsight.store.models import Base


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite alters a table by copying it; Alembic's batch mode does that.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations through medsight.store.migrate.upgrade")
_run(connection)

"""Alembic environment: runs migrations on the connection `Database.upgrade` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.store.tables import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `campaign-bot db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

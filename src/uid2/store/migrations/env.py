"""Alembic environment: runs on the connection :func:`uid2.store.database.upgrade_schema` hands in.

There is no alembic.ini and no logging setup here: the caller owns configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from uid2.store.schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through uid2.store.database.upgrade_schema")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()

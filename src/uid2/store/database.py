"""Engines and schema migrations.

SQLite is the embedded default; PostgreSQL (psycopg 3) is for several nodes. Writers are
serialised per database so that read-modify-write use cases (id allocation, rotation) cannot
interleave: SQLite transactions start with ``BEGIN IMMEDIATE`` (one writer at a time, others
wait up to the busy timeout) and PostgreSQL transactions take a transaction-level advisory lock
in :class:`uid2.store.uow.SqlAlchemyUnitOfWork`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from uid2.store.errors import StoreError, StoreErrorCode

SQLITE_BUSY_TIMEOUT_S = 30
# libpq: give up connecting after 10 s, and notice a dead peer within about a minute.
POSTGRES_TIMEOUTS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
MIGRATION_LOCK_ID = 0x55494434  # serialises concurrent `uid2 init` runs on PostgreSQL
FIRST_REVISION = "0001"


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and immediate transactions."""
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError):
        # The URL may hold a password: name the problem, not the value.
        raise StoreError(StoreErrorCode.BAD_URL, "the database URL is not valid") from None
    # Statement parameters hold raw UID2s, password hashes and sealed secrets: keep them out of
    # SQL echo and out of error messages (a driver error's text would quote them otherwise).
    if parsed.get_backend_name() == "postgresql":
        # A network that drops packets (rather than refusing) must not hang an operator's poll
        # or a portal request for the OS's minutes-long TCP timeouts; the URL's own query wins.
        args = {k: v for k, v in POSTGRES_TIMEOUTS.items() if k not in parsed.query}
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=args)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite's own is unreliable).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


READ_ONLY_FLAG = "uid2_read_only"  # set on Connection.info by a read-only unit of work


def _begin_immediate(connection: Any) -> None:
    # Readers (operators polling for changes) must not queue behind writers.
    read_only = connection.info.pop(READ_ONLY_FLAG, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "uid2.store:migrations")
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the migrations package has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except exc.OperationalError as error:
        raise StoreError(StoreErrorCode.UNAVAILABLE, "cannot open the database") from error


def require_current_schema(engine: Engine) -> None:
    """Fail unless the schema is at the newest revision (``uid2 init`` makes it so)."""
    revision = current_revision(engine)
    if revision is None:
        raise StoreError(StoreErrorCode.NOT_INITIALIZED, "the database is not initialised")
    if revision != head_revision():
        raise StoreError(StoreErrorCode.SCHEMA_OUTDATED, "the database schema is outdated")


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in place, in one transaction."""
    config = _alembic_config()
    with engine.begin() as connection:
        if is_postgresql(engine):
            lock = text("SELECT pg_advisory_xact_lock(:lock_id)")
            connection.execute(lock, {"lock_id": MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

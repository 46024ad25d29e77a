"""Schema migrations: the first revision upgrades in place, and head matches ``schema.py``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from uid2.store import (
    StoreError,
    StoreErrorCode,
    current_revision,
    head_revision,
    make_engine,
    require_current_schema,
    upgrade_schema,
)
from uid2.store.database import FIRST_REVISION
from uid2.store.schema import metadata, sites, store_versions


def test_migrated_schema_matches_the_declared_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert diff == []
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_from_the_first_revision_keeps_existing_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine, FIRST_REVISION)
        assert "cstg_keypairs" not in inspect(engine).get_table_names()
        with engine.begin() as connection:
            connection.execute(insert(sites).values(site_id=3, name="a", enabled=True, created_s=1))
        upgrade_schema(engine)
        assert current_revision(engine) == head_revision()
        assert {"cstg_keypairs", "optouts", "audit_log"} <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert connection.execute(select(sites.c.name)).scalar_one() == "a"
    finally:
        engine.dispose()


def test_upgrading_twice_is_a_no_op(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)
        upgrade_schema(engine)
        with engine.connect() as connection:
            assert connection.execute(select(store_versions)).all() == []
    finally:
        engine.dispose()


def test_an_uninitialised_or_old_schema_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        codes = []
        for revision in (None, FIRST_REVISION):
            if revision is not None:
                upgrade_schema(engine, revision)
            try:
                require_current_schema(engine)
            except StoreError as error:
                codes.append(error.code)
        assert codes == [StoreErrorCode.NOT_INITIALIZED, StoreErrorCode.SCHEMA_OUTDATED]
    finally:
        engine.dispose()

"""Fixtures for the control-plane integration tests.

``db_url`` runs each test on a SQLite file and, when ``UID2_TEST_POSTGRES_URL`` is set, on
PostgreSQL in a fresh schema (created before and dropped after the test).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from uid2.admin import Context, InitializeStore, initialize_store, system_entropy
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import generate_kek

POSTGRES_URL = os.environ.get("UID2_TEST_POSTGRES_URL")
NO_POSTGRES = "UID2_TEST_POSTGRES_URL is not set, so there is no PostgreSQL server to test on"
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
TEST_BUCKETS = 64


def postgres_url_with_schema(base_url: str, schema: str) -> str:
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "uid2.db")
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"uid2_test_{uuid.uuid4().hex[:12]}"
    server = create_engine(POSTGRES_URL)
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_url_with_schema(POSTGRES_URL, schema)
    finally:
        with server.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        server.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(generate_kek())


@pytest.fixture
def new_uow(engine: Engine, box: SecretBox) -> Callable[[], SqlAlchemyUnitOfWork]:
    return lambda: SqlAlchemyUnitOfWork(engine, box)


def context_at(now_ms: int = T0_MS) -> Context:
    return Context(now_ms=now_ms, actor="test", entropy=system_entropy())


@pytest.fixture
def ctx() -> Context:
    return context_at()


@pytest.fixture
def ctx_at() -> Callable[[int], Context]:
    """A factory of contexts at a given time (epoch ms)."""
    return context_at


@pytest.fixture
def initialized(new_uow: Callable[[], SqlAlchemyUnitOfWork], ctx: Context) -> None:
    initialize_store(InitializeStore(bucket_count=TEST_BUCKETS), new_uow(), ctx)

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_world import World, build_world
from sqlalchemy import Engine

from uid2.store import SecretBox, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import generate_kek


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(sqlite_url(tmp_path / "portal.db"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def world(sqlite_engine: Engine) -> World:
    return build_world(sqlite_engine, SecretBox(generate_kek()))

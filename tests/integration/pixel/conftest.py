"""Fixtures for the pixel receiver's integration tests.

``db_url`` (tests/integration/conftest.py) gives each test a SQLite file and, when
``UID2_TEST_POSTGRES_URL`` is set, a fresh PostgreSQL schema: the receiver's event store runs
on both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pixel_receiver_world import (
    KeyServer,
    OptOutLookup,
    TestClient,
    receiver_body,
    running,
    settings_for,
)

from uid2 import SharingClient
from uid2.pixel.app import PixelApp, create_app
from uid2.pixel.store import EventStore, open_engine


@pytest.fixture
def keys() -> KeyServer:
    """The operator's key endpoint, as the receiver (a DSP the advertiser granted) sees it."""
    return KeyServer(body=receiver_body(granted=True))


@pytest.fixture
def lookup() -> OptOutLookup:
    return OptOutLookup()


@pytest.fixture
def receiver_client(keys: KeyServer) -> Iterator[SharingClient]:
    client = keys.receiver_client()
    yield client
    client.close()


@pytest.fixture
def app(db_url: str, receiver_client: SharingClient, lookup: OptOutLookup) -> Iterator[PixelApp]:
    app = create_app(settings_for(db_url), client=receiver_client, optout_lookup=lookup)
    yield app
    app._engine.dispose()  # the app owns its engine; close its pool before the schema goes


@pytest.fixture
def http(app: PixelApp) -> Iterator[TestClient]:
    """A TestClient over the running receiver (writer, key refresh and lifespan started)."""
    with running(app) as client:
        yield client


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """The receiver's event store, opened separately, as `uid2 pixel ...` opens it."""
    engine = open_engine(db_url)
    yield EventStore(engine)
    engine.dispose()

from __future__ import annotations

from collections.abc import Iterator

import pytest
from operator_world import RecordingSink, TestClient, World, build_app, make_world


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def client(world: World, sink: RecordingSink) -> Iterator[TestClient]:
    app, _ = build_app(world, optout_sink=sink)
    with TestClient(app) as client:
        yield client

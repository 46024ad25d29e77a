"""The group-commit writer on its own, and the receiver's settings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from uid2.pixel.events import PixelEvent, PixelKind
from uid2.pixel.settings import PixelSettings, SettingsError
from uid2.pixel.store import EventStore, ensure_schema, open_engine
from uid2.pixel.writer import GroupCommitWriter
from uid2.store import sqlite_url


def event(n: int) -> PixelEvent:
    return PixelEvent(n, PixelKind.TRACKING, "w", "NO_TOKEN", None, None, None, None,
                      f'{{"n":"{n}"}}', None)  # fmt: skip


class GatedStore(EventStore):
    """Writes wait for ``gate``; ``fail`` makes them raise; batches are recorded."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail = False
        self.batches: list[int] = []

    def write(self, events: Sequence[PixelEvent]) -> None:
        self.entered.set()
        assert self.gate.wait(10)
        self.batches.append(len(events))
        if self.fail:
            raise OSError("disk gone")
        super().write(events)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_engine(sqlite_url(tmp_path / "writer.db"))
    ensure_schema(engine)
    return engine


def test_queued_events_go_in_one_batch_and_stop_stores_them(engine: Engine) -> None:
    store = GatedStore(engine)
    dropped: list[tuple[str, int]] = []
    writer = GroupCommitWriter(store, on_dropped=lambda r, n: dropped.append((r, n)))

    async def scenario() -> list[bool]:
        writer.start()
        first = writer.submit(event(0))
        await asyncio.to_thread(store.entered.wait, 5)  # the writer is in the database
        rest = [writer.submit(event(n)) for n in range(1, 6)]
        stopping = asyncio.ensure_future(asyncio.to_thread(writer.stop))
        await asyncio.sleep(0.05)  # stop() queues its marker behind the five
        store.gate.set()
        futures = [f for f in [first, *rest] if f is not None]
        assert len(futures) == 6
        results = await asyncio.wait_for(asyncio.gather(*futures), 5)
        await stopping
        return list(results)

    assert asyncio.run(scenario()) == [True] * 6
    assert store.batches == [1, 5]  # one commit for everything queued meanwhile
    assert dropped == []
    assert [s.event.received_ms for s in EventStore(engine).events()] == list(range(6))
    engine.dispose()


def test_a_failed_batch_settles_its_requests_with_false(engine: Engine) -> None:
    store = GatedStore(engine)
    store.fail = True
    store.gate.set()
    dropped: list[tuple[str, int]] = []
    writer = GroupCommitWriter(store, on_dropped=lambda r, n: dropped.append((r, n)))

    async def scenario() -> bool:
        writer.start()
        future = writer.submit(event(1))
        assert future is not None
        return await asyncio.wait_for(future, 5)

    assert asyncio.run(scenario()) is False
    writer.stop()
    assert dropped == [("db_error", 1)]
    assert list(EventStore(engine).events(limit=10)) == []
    engine.dispose()


def test_settings_from_the_environment() -> None:
    base = {
        "UID2_PIXEL_OPERATOR_URL": "http://127.0.0.1:8080",
        "UID2_PIXEL_API_KEY": "key",
        "UID2_PIXEL_SECRET": "secret",
        "UID2_PIXEL_DATABASE_URL": "sqlite:///x.db",
    }
    settings = PixelSettings.from_env(base)
    assert (settings.commit_wait_seconds, settings.optout_sweep_seconds) == (2.0, 5.0)
    assert settings.key_refresh_min_seconds == 1.0
    assert "secret" not in repr(settings) and "key'" not in repr(settings)
    tuned = PixelSettings.from_env({**base, "UID2_PIXEL_OPTOUT_SWEEP_SECONDS": " 0.5 "})
    assert tuned.optout_sweep_seconds == 0.5
    for broken, message in [
        ({**base, "UID2_PIXEL_API_KEY": " "}, "UID2_PIXEL_API_KEY is required"),
        ({**base, "UID2_PIXEL_COMMIT_WAIT_SECONDS": "soon"}, "must be a number"),
        ({**base, "UID2_PIXEL_OPTOUT_SWEEP_SECONDS": "-1"}, "must not be negative"),
    ]:
        with pytest.raises(SettingsError, match=message):
            PixelSettings.from_env(broken)

"""When storing fails the pixel is answered all the same and the loss is counted; a slow
operator or a reader of the event store does not hold up other pixels."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlencode

import pytest
from pixel_receiver_world import (
    OTHER_KEY,
    OTHER_RAW_UID,
    OTHER_SITE,
    RAW_UID,
    KeyServer,
    TestClient,
    assert_gif,
    build_receiver,
    encrypt,
    free_port,
    metric,
    receiver_body,
    running,
    sender_client,
)
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, event, exc

from uid2.core.tokens.result import DecryptResult
from uid2.pixel.app import PixelApp
from uid2.pixel.events import PixelEvent, PixelKind
from uid2.pixel.metrics import PixelMetrics
from uid2.pixel.store import EventStore, ensure_schema, open_engine
from uid2.pixel.writer import GroupCommitWriter
from uid2.store import sqlite_url


@pytest.fixture
def keys() -> KeyServer:
    return KeyServer(body=receiver_body(granted=True))


def receiver_on(engine: Engine, keys: KeyServer, store: EventStore | None = None,
                **writer: int) -> PixelApp:  # fmt: skip
    """A PixelApp over ``engine`` (or over ``store``), with the receiver's real decryption."""
    client = keys.receiver_client()
    assert client.refresh().success

    def decrypt(token: str) -> DecryptResult:
        return client.decrypt_token_into_raw_uid(token).result

    metrics = PixelMetrics(CollectorRegistry())
    sink = GroupCommitWriter(store or EventStore(engine), on_dropped=metrics.drop, **writer)
    return PixelApp(decrypt, sink, metrics, engine, commit_wait_seconds=0.3)


def fire(http: TestClient, n: int, token: str | None) -> None:
    fields = {"ev": "visit", "n": str(n), **({"uid2_token": token} if token else {})}
    assert_gif(http.get(f"/px/tracking?{urlencode(fields)}"))


def full_sqlite(path: Path) -> Engine:
    """An event store whose SQLite file may not grow by a page, and has no room left."""
    engine = open_engine(sqlite_url(path))
    ensure_schema(engine)
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # raised to the current size

    store = EventStore(engine)
    for size in (1500, 200, 0):  # fill the free space of the last pages, down to a byte
        for i in range(10_000):
            try:
                store.write([_event(i, "x" * size)])
            except exc.OperationalError as error:
                assert "full" in str(error)
                break
        else:
            raise AssertionError("the database never filled up")
    return engine


def _event(n: int, params: str = "{}") -> PixelEvent:
    return PixelEvent(n, PixelKind.TRACKING, "fill", "NO_TOKEN", None, None, None, None,
                      f'{{"p":"{params}"}}', None)  # fmt: skip


def test_a_full_database_drops_events_but_every_pixel_is_answered(
    tmp_path: Path, keys: KeyServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = full_sqlite(tmp_path / "full.db")
    before = len(list(EventStore(engine).events()))
    token = encrypt(RAW_UID)
    caplog.set_level(logging.DEBUG, logger="uid2")
    with running(receiver_on(engine, keys)) as http:
        for n in range(6):
            fire(http, n, token if n % 2 else None)
        post = http.post("/px/creative", content=urlencode({"uid2_token": token, "ev": "imp"}))
        assert post.status_code == 204
        assert metric(http, "uid2_pixel_dropped_events_total", reason="db_error") == 7
        assert metric(http, "uid2_pixel_dropped_events_total", reason="queue_full") == 0
        assert metric(http, "uid2_pixel_events_total", kind="tracking", status="SUCCESS") == 3
        assert metric(http, "uid2_pixel_unconfirmed_events_total") == 0  # failed, not slow
        assert http.get("/healthz").status_code == 200  # it can still be read
    assert len(list(EventStore(engine).events())) == before
    warnings = [
        r for r in caplog.records if r.name == "uid2.pixel" and r.levelno >= logging.WARNING
    ]
    assert warnings and all("OperationalError" in r.getMessage() for r in warnings)
    for record in caplog.records:  # the driver's message can quote row values: not logged
        assert token not in record.getMessage() and RAW_UID not in record.getMessage()
    engine.dispose()


def test_an_unreachable_postgresql_drops_events_and_fails_the_health_check(
    keys: KeyServer,
) -> None:
    closed = free_port()  # nothing listens there
    engine = open_engine(
        f"postgresql+psycopg://pixel:pw@127.0.0.1:{closed}/pixel?connect_timeout=2"
    )
    token = encrypt(RAW_UID)
    with running(receiver_on(engine, keys)) as http:
        started = time.monotonic()
        for n in range(4):
            fire(http, n, token)
        assert time.monotonic() - started < 5
        assert metric(http, "uid2_pixel_dropped_events_total", reason="db_error") == 4
        health = http.get("/healthz")
        assert (health.status_code, health.text) == (503, "database unreachable")
    engine.dispose()


class BlockedStore(EventStore):
    """A store whose writes wait until the test releases them."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, events: Sequence[PixelEvent]) -> None:
        self.entered.set()
        assert self.release.wait(10)
        super().write(events)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(sqlite_url(tmp_path / "pixel.db"))
    ensure_schema(engine)
    yield engine
    engine.dispose()


def test_a_full_queue_drops_the_event_and_answers_at_once(
    sqlite_engine: Engine, keys: KeyServer
) -> None:
    store = BlockedStore(sqlite_engine)
    with running(receiver_on(sqlite_engine, keys, store, max_queue=1)) as http:
        fire(http, 1, None)  # taken by the writer, which blocks in the database
        assert store.entered.wait(5)
        fire(http, 2, None)  # waits in the queue (answered after commit_wait_seconds)
        started = time.monotonic()
        fire(http, 3, None)  # no room: dropped, answered without waiting
        assert time.monotonic() - started < 0.25
        assert metric(http, "uid2_pixel_dropped_events_total", reason="queue_full") == 1
        assert metric(http, "uid2_pixel_unconfirmed_events_total") == 2
        store.release.set()
    # the writer stores what was queued before it stops
    assert [r.event.params for r in EventStore(sqlite_engine).events()] == [
        '{"n":"1"}',
        '{"n":"2"}',
    ]


def test_a_slow_key_refresh_does_not_hold_up_other_pixels(tmp_path: Path, keys: KeyServer) -> None:
    """A token under a key the receiver lacks makes its SharingClient refresh keys over HTTP
    in the calling thread; other pixels must be answered meanwhile."""
    other = encrypt(OTHER_RAW_UID, sender_client(OTHER_SITE, OTHER_KEY))
    token = encrypt(RAW_UID)
    app = build_receiver(sqlite_url(tmp_path / "pixel.db"), keys)
    try:
        with running(app) as http:
            deadline = time.monotonic() + 5
            while keys.calls < 2 and time.monotonic() < deadline:  # startup + background
                time.sleep(0.005)
            keys.delay_s = 1.5
            slow = threading.Thread(target=fire, args=(http, 1, other))
            slow.start()
            assert keys.delayed.wait(5)  # the on-demand refresh is under way
            started = time.monotonic()
            fire(http, 2, token)
            fire(http, 3, None)
            assert http.get("/healthz").status_code == 200
            assert time.monotonic() - started < 0.75
            slow.join(10)
        statuses = [r.event.status for r in EventStore(app._engine).events()]
        assert sorted(statuses) == ["NOT_AUTHORIZED_FOR_KEY", "NO_TOKEN", "SUCCESS"]
    finally:
        app._engine.dispose()


def test_a_reader_neither_waits_for_the_writer_nor_holds_it_up(
    tmp_path: Path, keys: KeyServer
) -> None:
    path = tmp_path / "pixel.db"
    app = build_receiver(sqlite_url(path), keys)
    reader = EventStore(open_engine(sqlite_url(path)))
    try:
        with running(app) as http:
            fire(http, 1, None)
            # another process (a second worker, `uid2 pixel ...`) holds the write lock
            other = sqlite3.connect(path, isolation_level=None, timeout=0.1)
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO pixel_meta VALUES ('lock', 'held')")
            done: list[object] = []

            def read() -> None:
                done.extend([reader.stats(), reader.segment("visit")])
                done.append(http.get("/healthz").status_code)

            check = threading.Thread(target=read)
            check.start()
            check.join(3)
            finished_while_locked = not check.is_alive()
            other.execute("ROLLBACK")
            other.close()
            check.join(10)
            assert finished_while_locked, "reads waited for the write lock"
            assert done == [[(None, "NO_TOKEN", 1)], [], 200]

            # a reader part-way through a listing does not hold up the writer
            listing = reader.events()
            assert next(listing).event.params == '{"n":"1"}'
            started = time.monotonic()
            fire(http, 2, None)
            assert time.monotonic() - started < 1
            assert metric(http, "uid2_pixel_unconfirmed_events_total") == 0
            listing.close()
    finally:
        app._engine.dispose()
        reader.engine.dispose()

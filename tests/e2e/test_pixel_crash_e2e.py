"""`uid2 serve pixel` killed with SIGKILL under load loses no acknowledged event.

test_pixel_receiver_e2e.py kills one SQLite worker after half of a fixed run of pixels. This
goes further: two workers (two writers, each with its own group commit) on SQLite and on
PostgreSQL, GETs and POST beacons from eight client threads, the whole process group killed
while requests are in flight, then the receiver restarted on the same database.

The contract (pixel/writer.py, pixel/app.py): a pixel is answered once its event's batch has
committed, or after ``UID2_PIXEL_COMMIT_WAIT_SECONDS`` if the commit has not been confirmed
by then (counted in ``uid2_pixel_unconfirmed_events_total``), or at once if the event was
dropped (``uid2_pixel_dropped_events_total``: queue full, database error). So an answer that
came sooner than the commit wait, for an event that was not dropped, means a committed
event. Every acknowledged event here is checked; none may be missing.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from operator_server import eventually, free_port, serve
from postgres_schema import fresh_schema

from uid2 import SharingClient
from uid2.admin import (
    ChangeSharing,
    Context,
    CreateApiKey,
    CreatedApiKey,
    CreateParticipant,
    InitializeStore,
    ParticipantType,
    Role,
    change_sharing,
    create_api_key,
    create_participant,
    initialize_store,
    system_entropy,
)
from uid2.operator.app import create_app
from uid2.operator.settings import Settings
from uid2.operator.store_source import StoreSnapshotSource
from uid2.pixel.app import GIF
from uid2.pixel.store import EventStore, StoredEvent, open_engine, reading
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import generate_kek

pytestmark = [pytest.mark.interop]

UID2 = str(Path(sys.executable).parent / "uid2")
POSTGRES_URL = os.environ.get("UID2_TEST_POSTGRES_URL")
NO_POSTGRES = "UID2_TEST_POSTGRES_URL is not set, so there is no PostgreSQL server to test on"
COMMIT_WAIT_S = 2.0
WORKERS = 2
CLIENTS = 8
KILL_AFTER = 500  # acknowledged pixels before the kill
MAX_PIXELS = 20_000  # per client thread, whatever happens
EVENT = "crash"


@dataclass(frozen=True)
class Sender:
    """The receiver's credentials and a token the advertiser made for it."""

    operator_url: str
    key: str
    secret: str
    token: str


@dataclass
class Tally:
    """Pixel ids sent, and those acknowledged with how long the answer took."""

    sent: set[str] = field(default_factory=set)
    acknowledged: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)
    in_flight_at_kill: int = 0


def _ctx() -> Context:
    return Context(now_ms=time.time_ns() // 1_000_000, actor="test", entropy=system_entropy())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The receiver's event store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "events.db")
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    with fresh_schema(POSTGRES_URL, "uid2_pixel_crash") as url:
        yield url


@pytest.fixture
def sender(tmp_path: Path) -> Iterator[Sender]:
    """A control plane where an advertiser shares with a DSP, and its operator (in-process)."""
    engine = make_engine(sqlite_url(tmp_path / "uid2.db"))
    upgrade_schema(engine)
    box = SecretBox(generate_kek())

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine, box)

    initialize_store(InitializeStore(bucket_count=64), uow(), _ctx())
    made: dict[str, CreatedApiKey] = {}
    for name, kind in (("Shop", ParticipantType.ADVERTISER), ("Bidder", ParticipantType.DSP)):
        site = create_participant(CreateParticipant(name, frozenset({kind})), uow(), _ctx())
        made[name] = create_api_key(CreateApiKey(site.site_id, frozenset({Role.SHARER})), uow(),
                                    _ctx())  # fmt: skip
    grant = ChangeSharing(made["Shop"].site_id, True, to_site_id=made["Bidder"].site_id)
    change_sharing(grant, uow(), _ctx())
    app = create_app(Settings(poll_interval_seconds=0.1), StoreSnapshotSource(engine, box))
    with serve(app) as url:
        shop, bidder = made["Shop"], made["Bidder"]
        with SharingClient(url, shop.key, shop.secret) as client:
            assert client.refresh().success
            token = client.encrypt_raw_uid_into_token(base64.b64encode(os.urandom(32)).decode())
        assert token.encrypted_data is not None
        yield Sender(url, bidder.key, bidder.secret, token.encrypted_data)
    engine.dispose()


@dataclass(frozen=True)
class Receiver:
    url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL to every process of the receiver at once: no shutdown, no flush."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def receiver(sender: Sender, db_url: str, log: Path, workers: int) -> Iterator[Receiver]:
    """`uid2 serve pixel` in its own process group; stopped at the end if the test has not
    killed it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UID2_PIXEL_")}
    env |= {"UID2_HOME": str(log.parent), "UID2_PIXEL_COMMIT_WAIT_SECONDS": str(COMMIT_WAIT_S)}
    command = [
        UID2, "serve", "pixel", "--operator", sender.operator_url, "--api-key", sender.key,
        "--secret", sender.secret, "--db", db_url, "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Receiver(f"http://127.0.0.1:{port}", process)
    try:
        eventually(lambda: _healthy(running, log), timeout=30, every=0.1)
        yield running
    finally:
        if process.poll() is None:
            running.stop()


def _healthy(running: Receiver, log: Path) -> bool:
    if running.process.poll() is not None:
        raise AssertionError(log.read_text())
    try:
        return httpx.get(running.url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def fire(client: httpx.Client, url: str, token: str, pixel_id: str, beacon: bool) -> bool:
    """One tracking pixel (a GET, or a POST beacon); True if its whole answer came."""
    query = {"uid2_token": token, "ev": EVENT, "id": pixel_id, "cb": uuid.uuid4().hex}
    if beacon:
        answer = client.post(url + "/px/tracking", params={"cb": query.pop("cb")},
                             content=json.dumps(query), timeout=10)  # fmt: skip
        return answer.status_code == 204
    answer = client.get(url + "/px/tracking", params=query, timeout=10)
    return answer.status_code == 200 and answer.content == GIF


def client_loop(url: str, token: str, n: int, stop: threading.Event, tally: Tally) -> None:
    with httpx.Client() as client:
        for i in range(MAX_PIXELS):
            if stop.is_set():
                return
            pixel_id = f"{n}-{i}"
            with tally.lock:
                tally.sent.add(pixel_id)
            started = time.monotonic()
            try:
                answered = fire(client, url, token, pixel_id, beacon=i % 3 == 2)
            except httpx.HTTPError:  # the receiver is gone: this pixel was not acknowledged
                answered = False
            if answered:
                with tally.lock:
                    tally.acknowledged[pixel_id] = time.monotonic() - started
                    if len(tally.acknowledged) >= KILL_AFTER:
                        tally.enough.set()


def load_then_kill(running: Receiver, token: str) -> Tally:
    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=client_loop, args=(running.url, token, n, stop, tally))
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        assert tally.enough.wait(30), "the receiver answered too few pixels"
        with tally.lock:  # no answer is recorded meanwhile: what is unanswered is in flight
            tally.in_flight_at_kill = len(tally.sent) - len(tally.acknowledged)
            stop.set()
            running.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return tally


def stored_events(db_url: str) -> list[StoredEvent]:
    engine = open_engine(db_url)
    try:
        return list(EventStore(engine).events())
    finally:
        engine.dispose()


def pixel_ids(events: list[StoredEvent]) -> list[str]:
    return [str(json.loads(e.event.params)["id"]) for e in events]


def integrity_problems(db_url: str) -> list[str]:
    """SQLite's own check of the file (PostgreSQL recovers by its WAL: nothing to ask)."""
    engine = open_engine(db_url)
    try:
        if engine.dialect.name != "sqlite":
            return []
        with reading(engine) as connection:
            rows = connection.exec_driver_sql("PRAGMA integrity_check").scalars().all()
        return [] if rows == ["ok"] else [str(r) for r in rows]
    finally:
        engine.dispose()


def test_sigkill_under_load_loses_no_acknowledged_pixel_and_the_receiver_restarts(
    sender: Sender, db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    with receiver(sender, db_url, log, WORKERS) as running:
        tally = load_then_kill(running, sender.token)
    before = stored_events(db_url)
    ids = pixel_ids(before)
    confirmed = {p for p, took in tally.acknowledged.items() if took < COMMIT_WAIT_S}
    assert len(confirmed) >= KILL_AFTER * 0.9  # the load was normal: answers came in time
    assert sorted(confirmed - set(ids)) == []  # no acknowledged pixel lost
    assert len(ids) == len(set(ids))  # none stored twice
    assert set(ids) <= tally.sent
    assert tally.in_flight_at_kill > 0  # killed mid-load
    assert {e.event.status for e in before} == {"SUCCESS"}
    assert {e.event.event for e in before} == {EVENT}

    assert integrity_problems(db_url) == []
    # one worker is enough to show the database serves again, and starts twice as fast
    with receiver(sender, db_url, log, 1) as again, httpx.Client() as client:
        after_restart = [f"after-{i}" for i in range(20)]
        for pixel_id in after_restart:
            assert fire(client, again.url, sender.token, pixel_id, beacon=pixel_id.endswith("7"))
        after = stored_events(db_url)
    assert after[: len(before)] == before  # the rows from before the kill, unchanged
    assert pixel_ids(after[len(before) :]) == after_restart  # answered means stored
    assert integrity_problems(db_url) == []

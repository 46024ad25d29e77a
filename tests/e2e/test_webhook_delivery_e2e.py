"""Opt-out webhooks end to end: `uid2 serve webhooks` against a loopback receiver that fails.

The store is the embedded SQLite one under a fresh UID2_HOME (`uid2 init`, participants and the
webhook through the CLI); opt-outs are recorded with the admin use case. The receiver answers
503 to its first calls, then takes two opt-outs but answers too late (the worker times out, so
they are sent again: at-least-once duplicates), is stopped and restarted on the same port while
opt-outs keep coming, and the worker is stopped with SIGTERM midway and started again. Every
opt-out must arrive with its raw UID2 and epoch, the duplicates must change nothing at the
(idempotent) receiver, and every delivery must end delivered.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from uid2.admin import Context, RecordOptOut, record_optout, system_entropy
from uid2.core.enums import IdentityType
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url
from uid2.store.location import StoreLocation
from uid2.store.records import DeliveryState

UID2 = str(Path(sys.executable).parent / "uid2")
FAIL_FIRST = 4  # calls answered 503
LOST_ACKS = 2  # then: calls taken, but answered after the worker's timeout
WORKER_TIMEOUT_S = 0.5
WAIT_S = 15.0


@dataclass
class Ledger:
    """The receiver's state, kept across its restarts: idempotent by raw UID2."""

    slow_s: float = 0.0  # delay every answer (used to catch the worker mid-batch)
    calls: int = 0
    refused: int = 0
    conflicts: int = 0  # the same raw UID2 with another epoch: must never happen
    received: dict[str, int] = field(default_factory=dict)  # raw UID2 (b64) -> epoch
    arrivals: Counter[str] = field(default_factory=Counter)
    bad_requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, query: dict[str, list[str]]) -> float:
        """Records one call; returns how long to wait before answering (-1: answer 503)."""
        with self.lock:
            self.calls += 1
            if self.calls <= FAIL_FIRST:
                self.refused += 1
                return -1.0
            (identity,), (epoch,) = query["user"], query["ts"]
            self.arrivals[identity] += 1
            if self.received.setdefault(identity, int(epoch)) != int(epoch):
                self.conflicts += 1
            if self.calls <= FAIL_FIRST + LOST_ACKS:
                return WORKER_TIMEOUT_S * 3  # the worker gives up first: the ack is lost
            return self.slow_s


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path != "/optout" or set(query) != {"user", "ts"}:
            self.server.ledger.bad_requests.append(parts.path)
            self._answer(400)
            return
        delay = self.server.ledger.take(query)
        if delay < 0:
            self._answer(503)
            return
        time.sleep(delay)
        self._answer(200)

    def _answer(self, status: int) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass  # the worker timed out and went away

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    def __init__(self, port: int, ledger: Ledger) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.ledger = ledger
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a late answer to a worker that gave up is expected here

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(what: str, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str) -> Any:
        done = subprocess.run(
            [UID2, *args, "--json"], env=self.env, capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.workers)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [UID2, "serve", "webhooks", "--poll-interval", "0.05",
                 "--timeout", str(WORKER_TIMEOUT_S), "--concurrency", "4",
                 "--backoff-base", "0.05", "--backoff-cap", "0.4"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.workers.append(process)
        return process

    def worker_logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.glob("worker-*.log")))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("UID2_DATABASE_URL", "UID2_KEK")}
    env["UID2_HOME"] = str(home)
    made = Stack(home, env, tmp_path)
    try:
        yield made
    finally:
        for process in made.workers:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


class Store:
    """The admin side, in this process, on the same SQLite file as the worker."""

    def __init__(self, home: Path) -> None:
        location = StoreLocation.from_environ({"UID2_HOME": str(home)})
        kek = location.kek()
        assert kek is not None
        self.engine = make_engine(sqlite_url(home / "uid2.db"))
        self.box = SecretBox(kek)
        self.expected: dict[str, int] = {}  # raw UID2 (b64) -> epoch, for every opt-out

    def uow(self, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box, read_only=read_only)

    def opt_out(self, emails: list[str]) -> set[str]:
        identities = set()
        for email in emails:
            ctx = Context(time.time_ns() // 1_000_000, "e2e", system_entropy())
            seq = record_optout(RecordOptOut(IdentityType.Email, email), self.uow(), ctx).seq
            with self.uow(read_only=True) as uow:
                (optout,) = [o for o in uow.optouts.list_since(seq - 1) if o.seq == seq]
            identity = base64.b64encode(optout.advertising_id).decode()
            self.expected[identity] = optout.created_s
            identities.add(identity)
        return identities

    def deliveries(self) -> Counter[tuple[DeliveryState, str | None]]:
        with self.uow(read_only=True) as uow:
            rows = uow.webhook_deliveries.list_all()
        return Counter((d.state, d.last_error) for d in rows)

    def attempts(self) -> list[int]:
        with self.uow(read_only=True) as uow:
            return [d.attempts for d in uow.webhook_deliveries.list_all()]


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


def test_every_optout_arrives_through_failures_and_restarts(stack: Stack) -> None:
    began = time.monotonic()
    stack.cli("init", "--buckets", "64")
    dsp = stack.cli("participant", "create", "Bidder", "--type", "dsp")["site_id"]
    port = _free_port()
    template = f"http://127.0.0.1:{port}/optout?user=${{ADVERTISING_ID}}&ts=${{OPTOUT_EPOCH}}"
    webhook = stack.cli("webhook", "add", "--site", str(dsp), "--url", template)
    store = Store(stack.home)
    ledger = Ledger()
    receiver = Receiver(port, ledger)
    try:
        # A: the receiver refuses its first calls, then loses two acks; the worker retries
        first = store.opt_out([f"a{n}@example.com" for n in range(8)])
        worker = stack.start_worker()
        _wait("the first opt-outs", lambda: first <= set(ledger.received))
        # B: the receiver goes away while opt-outs keep coming, and comes back on its port
        receiver.stop()
        second = store.opt_out([f"b{n}@example.com" for n in range(8)])
        _wait(
            "a refused connection",
            lambda: store.deliveries()[(DeliveryState.PENDING, "ConnectError")] > 0,
        )
        receiver = Receiver(port, ledger)
        _wait("the opt-outs made while it was down", lambda: second <= set(ledger.received))
        # C: the worker is stopped midway through a backlog (SIGTERM) and started again
        ledger.slow_s = 0.3
        third = store.opt_out([f"c{n}@example.com" for n in range(8)])
        _wait("the worker to be mid-backlog", lambda: bool(third & set(ledger.received)))
        assert _stop(worker) == 0
        arrived_before_restart = third & set(ledger.received)
        assert 0 < len(arrived_before_restart) < len(third)  # really stopped midway
        ledger.slow_s = 0.0
        fourth = store.opt_out([f"d{n}@example.com" for n in range(4)])  # while no worker runs
        worker = stack.start_worker()
        everything = first | second | third | fourth
        _wait("every opt-out", lambda: everything <= set(ledger.received))
        _wait(
            "every delivery recorded",
            lambda: set(store.deliveries()) == {(DeliveryState.DELIVERED, None)},
        )
        assert _stop(worker) == 0
    finally:
        receiver.stop()
        store.engine.dispose()

    # every opt-out arrived with its raw UID2 and its epoch in seconds; nothing else arrived
    assert ledger.received == store.expected and len(store.expected) == 28
    assert ledger.bad_requests == [] and ledger.conflicts == 0
    # duplicates: at-least-once delivery re-sent the opt-outs whose ack was lost; the receiver,
    # keyed by raw UID2, holds exactly one entry per opt-out all the same
    duplicates = sum(ledger.arrivals.values()) - len(ledger.arrivals)
    print(f"\n28 opt-outs, {ledger.calls} calls: {ledger.refused} refused (503), "
          f"{duplicates} duplicates (harmless)")  # fmt: skip
    assert duplicates >= LOST_ACKS and ledger.refused == FAIL_FIRST
    assert sum(1 for n in ledger.arrivals.values() if n > 1) >= LOST_ACKS
    # the store agrees: all delivered, several after retries; the CLI shows no backlog
    assert sum(1 for a in store.attempts() if a > 1) >= FAIL_FIRST + LOST_ACKS
    (listed,) = stack.cli("webhook", "list", "--site", str(dsp))
    assert listed["webhook_id"] == webhook["webhook_id"]
    assert (listed["delivered"], listed["pending"], listed["failed"]) == (28, 0, 0)
    # the worker logged retries and its stops, never an identity or the URL
    logs = stack.worker_logs()
    assert "retrying" in logs and logs.count("webhook worker stopped") == 2
    for identity in store.expected:
        assert identity not in logs and quote(identity, safe="") not in logs
    assert "/optout?" not in logs and f":{port}" not in logs
    assert time.monotonic() - began < 40

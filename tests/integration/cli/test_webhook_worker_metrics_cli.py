"""`uid2 serve webhooks --metrics-port`: a real worker process with its status server, over a
SQLite store shared with this test (the in-process tests of the metrics cover PostgreSQL), and a
loopback webhook receiver that is down at first. The scraped backlog rises while the receiver
is down and falls to zero once it is up; a second worker cannot take the same port (one line,
exit 1); SIGTERM stops the worker and its port with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from uid2.admin import (
    Context,
    CreateParticipant,
    InitializeStore,
    ParticipantType,
    RecordOptOut,
    create_participant,
    initialize_store,
    record_optout,
    system_entropy,
)
from uid2.admin.webhooks import CreateWebhook, create_webhook
from uid2.core.enums import IdentityType
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import encode_kek, generate_kek

UID2 = str(Path(sys.executable).parent / "uid2")
WAIT_S = 20.0
NewUow = Callable[[], SqlAlchemyUnitOfWork]
OPT_OUTS = 3


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass(frozen=True)
class Store:
    """The control plane on a SQLite file, opened here and by the worker process."""

    engine: Engine
    kek: bytes

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, SecretBox(self.kek))

    def worker_env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UID2_")}
        url = self.engine.url.render_as_string(hide_password=False)
        env.update(UID2_HOME=str(home), UID2_DATABASE_URL=url, UID2_KEK=encode_kek(self.kek))
        return env


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(sqlite_url(tmp_path / "uid2.db"))
    upgrade_schema(engine)
    made = Store(engine, generate_kek())
    ctx = Context(time.time_ns() // 1_000_000, "test", system_entropy())
    initialize_store(InitializeStore(bucket_count=16), made.uow(), ctx)
    yield made
    engine.dispose()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start_worker(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen[bytes]:
    command = [UID2, "serve", "webhooks", "--poll-interval", "0.05", "--timeout", "1",
               "--backoff-base", "0.05", "--backoff-cap", "0.2", *options]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def scrape(http: httpx.Client) -> dict[str, float]:
    return {
        s.name + "".join(f"{{{v}}}" for v in s.labels.values()): float(s.value)
        for family in text_string_to_metric_families(http.get("/metrics").text)
        for s in family.samples
    }


def _webhook_to(port: int, new_uow: NewUow) -> None:
    ctx = Context(time.time_ns() // 1_000_000, "test", system_entropy())
    cmd = CreateParticipant("Bidder", frozenset({ParticipantType.DSP}))
    site = create_participant(cmd, new_uow(), ctx).site_id
    template = f"http://127.0.0.1:{port}/optout?user=${{ADVERTISING_ID}}"
    create_webhook(CreateWebhook(site, template), new_uow(), ctx)


def _opt_out(new_uow: NewUow) -> None:
    for n in range(OPT_OUTS):
        ctx = Context(time.time_ns() // 1_000_000, "test", system_entropy())
        record_optout(RecordOptOut(IdentityType.Email, f"u{n}@example.com"), new_uow(), ctx)


def test_the_worker_serves_its_backlog_and_health_and_stops_with_its_port(
    store: Store, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    new_uow, worker_env = store.uow, store.worker_env(tmp_path / "home")
    receiver_port, metrics_port = free_port(), free_port()
    _webhook_to(receiver_port, new_uow)
    worker = start_worker(worker_env, tmp_path / "worker.log", "--metrics-port", str(metrics_port))
    processes.append(worker)
    with httpx.Client(base_url=f"http://127.0.0.1:{metrics_port}", timeout=5) as http:

        def answers(status: int) -> bool:
            try:
                return http.get("/healthz").status_code == status
            except httpx.TransportError:
                return False

        eventually("the status server", lambda: answers(200))
        assert http.get("/healthz").text == "OK"
        assert scrape(http)["uid2_webhook_backlog_deliveries"] == 0
        _opt_out(new_uow)
        eventually(
            "refused calls",
            lambda: scrape(http)["uid2_webhook_delivery_attempts_total{retrying}"] >= OPT_OUTS,
        )
        down = scrape(http)
        assert down["uid2_webhook_backlog_deliveries"] == OPT_OUTS
        assert down["uid2_webhook_oldest_pending_age_seconds"] > 0
        receiver = ThreadingHTTPServer(("127.0.0.1", receiver_port), _Ok)
        threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True).start()
        try:
            eventually("deliveries", lambda: scrape(http)["uid2_webhook_backlog_deliveries"] == 0)
        finally:
            receiver.shutdown()
            receiver.server_close()
        up = scrape(http)
        assert up["uid2_webhook_delivery_attempts_total{delivered}"] == OPT_OUTS
        assert up["uid2_webhook_oldest_pending_age_seconds"] == 0
        assert http.get("/healthz").text == "OK"

        second = subprocess.run(
            [UID2, "serve", "webhooks"],
            env={**worker_env, "UID2_WEBHOOK_METRICS_PORT": str(metrics_port)},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert f"cannot serve metrics on 127.0.0.1:{metrics_port}" in second.stderr.decode()

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
        assert not answers(200) and not answers(503)  # nothing listens any more
    logged = (tmp_path / "worker.log").read_text()
    assert f"metrics and health at http://127.0.0.1:{metrics_port}" in logged
    assert "webhook worker stopped" in logged

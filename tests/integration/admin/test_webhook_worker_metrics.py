"""The webhook worker's metrics and health check over a real store (SQLite, and PostgreSQL when
UID2_TEST_POSTGRES_URL is set): the backlog rises while a receiver is down and falls as it is
delivered, attempts are counted by outcome, and ``/healthz`` (served by the status server)
turns 503 with its reason when the store fails or the loop stops, and back to 200."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from uid2.admin import (
    Context,
    CreateParticipant,
    ParticipantType,
    RecordOptOut,
    create_participant,
    record_optout,
)
from uid2.admin.webhook_delivery import RetryPolicy
from uid2.admin.webhook_metrics import WorkerMonitor, read_backlog, stale_after_s
from uid2.admin.webhook_worker import WebhookWorker, WorkerSettings
from uid2.admin.webhooks import CreateWebhook, create_webhook
from uid2.cli.status_server import StatusServer
from uid2.core.enums import IdentityType
from uid2.store import (
    SecretBox,
    SqlAlchemyUnitOfWork,
    StoreError,
    StoreErrorCode,
    make_engine,
    sqlite_url,
)
from uid2.store.repos_webhooks import SqlAlchemyWebhookDeliveryRepository

T0_MS = 1_767_225_600_000  # the `ctx` fixture's time
TEMPLATE = "https://dsp.example.com/optout?user=${ADVERTISING_ID}&ts=${OPTOUT_EPOCH}"
WAIT_S = 10.0
NewUow = Callable[[], SqlAlchemyUnitOfWork]


class Receiver:
    """An httpx transport for a webhook receiver that is up (200) or down (refused)."""

    def __init__(self) -> None:
        self.up = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scrape(monitor: WorkerMonitor) -> dict[str, float]:
    """``{name{labels}: value}`` of one scrape, labels written ``k=v`` in order."""
    registry = CollectorRegistry()
    registry.register(monitor)
    return flatten(generate_latest(registry).decode())


def flatten(text: str) -> dict[str, float]:
    return {
        s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def eventually(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _webhook(new_uow: NewUow, ctx: Context) -> None:
    cmd = CreateParticipant("Bidder", frozenset({ParticipantType.DSP}))
    site = create_participant(cmd, new_uow(), ctx).site_id
    create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx)


def _opt_out(new_uow: NewUow, ctx: Context, count: int) -> None:
    for n in range(count):
        record_optout(RecordOptOut(IdentityType.Email, f"user{n}@example.com"), new_uow(), ctx)


@pytest.mark.usefixtures("initialized")
def test_the_backlog_rises_while_the_receiver_is_down_and_falls_as_it_is_delivered(
    engine: Engine, box: SecretBox, new_uow: NewUow, ctx: Context
) -> None:
    _webhook(new_uow, ctx)
    clock_ms, receiver = Clock(T0_MS), Receiver()
    retry = RetryPolicy(base_ms=1_000, cap_ms=8_000, max_attempts=10)
    worker = WebhookWorker(
        engine,
        box,
        WorkerSettings(timeout_s=1.0, concurrency=8, retry=retry),
        clock_ms=lambda: int(clock_ms()),
        transport=httpx.MockTransport(receiver),
    )
    monitor = WorkerMonitor(
        worker, partial(read_backlog, engine), stale_after_s=30, clock_ms=lambda: int(clock_ms())
    )
    try:
        empty = scrape(monitor)
        assert empty["uid2_webhook_backlog_deliveries"] == 0
        assert empty["uid2_webhook_oldest_pending_age_seconds"] == 0
        assert empty["uid2_webhook_store_up"] == 1
        _opt_out(new_uow, ctx, 3)
        clock_ms.now += 5_000
        waiting = scrape(monitor)
        assert waiting["uid2_webhook_backlog_deliveries"] == 3
        assert waiting["uid2_webhook_oldest_pending_age_seconds"] == 5.0

        assert len(worker.run_once()) == 3  # refused: each one is retried later
        down = scrape(monitor)
        assert down["uid2_webhook_backlog_deliveries"] == 3
        assert down["uid2_webhook_delivery_attempts_total{outcome=retrying}"] == 3
        assert down["uid2_webhook_delivery_attempts_total{outcome=delivered}"] == 0

        receiver.up = True
        clock_ms.now += 20_000  # past every retry time
        assert len(worker.run_once()) == 3
        delivered = scrape(monitor)
    finally:
        worker.close()
    assert delivered["uid2_webhook_backlog_deliveries"] == 0
    assert delivered["uid2_webhook_oldest_pending_age_seconds"] == 0
    assert delivered["uid2_webhook_delivery_attempts_total{outcome=delivered}"] == 3
    assert delivered["uid2_webhook_delivery_attempts_total{outcome=retrying}"] == 3
    assert delivered["uid2_webhook_delivery_attempts_total{outcome=failed}"] == 0


@pytest.mark.usefixtures("initialized")
def test_health_turns_503_with_its_reason_when_the_store_fails_or_the_loop_stops(
    engine: Engine, box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_down = threading.Event()
    real_has_due = SqlAlchemyWebhookDeliveryRepository.has_due

    def has_due(self: SqlAlchemyWebhookDeliveryRepository, now_ms: int) -> bool:
        if store_down.is_set():
            raise StoreError(StoreErrorCode.UNAVAILABLE, "the database is busy or unreachable")
        return real_has_due(self, now_ms)

    monkeypatch.setattr(SqlAlchemyWebhookDeliveryRepository, "has_due", has_due)
    monotonic = Clock(100.0)
    worker = WebhookWorker(engine, box, WorkerSettings(poll_interval_s=0.01), monotonic=monotonic)
    monitor = WorkerMonitor(
        worker, partial(read_backlog, engine), stale_after_s=30, monotonic=monotonic
    )
    registry = CollectorRegistry()
    registry.register(monitor)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,))
    with (
        StatusServer("127.0.0.1", 0, registry, monitor.problems) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as http,
    ):

        def health() -> tuple[int, str]:
            answer = http.get("/healthz")
            return answer.status_code, answer.text

        try:
            loop.start()
            eventually("a good pass", lambda: health() == (200, "OK"))
            store_down.set()
            eventually("the store failure", lambda: health()[0] == 503)
            broken = "database: cannot claim deliveries (the database is busy or unreachable)"
            assert health() == (503, broken)
            monotonic.now += 31
            stale = "no good loop pass for 31 s (limit 30 s)"
            assert health() == (503, f"{broken}\n{stale}")
            scraped = flatten(http.get("/metrics").text)
            assert scraped["uid2_webhook_loop_age_seconds"] == 31
            store_down.clear()
            eventually("the store to answer again", lambda: health() == (200, "OK"))
            assert flatten(http.get("/metrics").text)["uid2_webhook_loop_age_seconds"] == 0
        finally:
            stop.set()
            loop.join(10)
            worker.close()
        monotonic.now += 31  # the loop has stopped: nothing renews its last good pass
        assert health() == (503, stale)
        assert http.get("/other").status_code == 404
        port = server.port
    with pytest.raises(httpx.ConnectError):  # stopped with the context: the port is closed
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_a_scrape_answers_without_the_backlog_when_the_store_cannot_be_read(
    box: SecretBox, tmp_path: Path
) -> None:
    empty = make_engine(sqlite_url(tmp_path / "empty.db"))  # no tables
    worker = WebhookWorker(empty, box, WorkerSettings())
    try:
        with pytest.raises(StoreError) as refused:
            read_backlog(empty)
        assert refused.value.code is StoreErrorCode.UNAVAILABLE
        scraped = scrape(WorkerMonitor(worker, partial(read_backlog, empty), stale_after_s=30))
    finally:
        worker.close()
        empty.dispose()
    assert scraped["uid2_webhook_store_up"] == 0
    assert "uid2_webhook_backlog_deliveries" not in scraped
    assert scraped["uid2_webhook_delivery_attempts_total{outcome=delivered}"] == 0
    assert "uid2_webhook_loop_age_seconds" in scraped


def test_the_health_limit_is_ten_passes_and_never_under_thirty_seconds() -> None:
    assert stale_after_s(1.0) == 30.0
    assert stale_after_s(0.05) == 30.0
    assert stale_after_s(6.0) == 60.0

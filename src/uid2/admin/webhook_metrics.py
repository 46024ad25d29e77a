"""The webhook worker's Prometheus metrics and health check, read when they are asked for.

The worker keeps its attempt counts and loop status in memory; the backlog (pending deliveries
and the oldest one's age) is read from the store at each scrape, so it is the outbox's, shared
by every worker, not this worker's view. A scrape whose backlog read fails still answers, with
``uid2_webhook_store_up 0`` and without the two backlog gauges.

Healthy means: the loop ended a pass with the store answering less than ``stale_after_s`` ago,
and its last pass met no store failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from uid2.admin.webhook_worker import WebhookWorker, wall_clock_ms
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import Backlog, DeliveryState

# the state an attempt left its row in -> the outcome label
OUTCOME_LABELS = {
    DeliveryState.DELIVERED: "delivered",
    DeliveryState.PENDING: "retrying",
    DeliveryState.FAILED: "failed",
}
MIN_STALE_AFTER_S = 30.0
PASSES_BEFORE_STALE = 10


def read_backlog(engine: Engine) -> Backlog:
    """The outbox's backlog, in a read-only transaction (on SQLite a plain BEGIN, which never
    queues behind the worker's writes); StoreError(UNAVAILABLE) if the store cannot answer."""
    with SqlAlchemyUnitOfWork(engine, read_only=True) as uow:
        return uow.webhook_deliveries.backlog()


def stale_after_s(poll_interval_s: float) -> float:
    """How long without a good pass makes the worker unhealthy: a pass lasts about one poll
    interval, so ten missed passes, and never less than 30 s (a slow database is not dead)."""
    return max(MIN_STALE_AFTER_S, PASSES_BEFORE_STALE * poll_interval_s)


class WorkerMonitor(Collector):
    def __init__(
        self,
        worker: WebhookWorker,
        read_backlog: Callable[[], Backlog],
        *,
        stale_after_s: float,
        clock_ms: Callable[[], int] = wall_clock_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._worker = worker
        self._read_backlog = read_backlog
        self._stale_after_s = stale_after_s
        self._clock_ms = clock_ms
        self._monotonic = monotonic
        self._started = monotonic()  # before the first good pass, ages count from here

    def loop_age_s(self) -> float:
        last_good = self._worker.loop_status.last_good_pass
        return self._monotonic() - (self._started if last_good is None else last_good)

    def problems(self) -> list[str]:
        """Why the worker is unhealthy; empty when it is healthy."""
        found = []
        store_problem = self._worker.loop_status.store_problem
        if store_problem is not None:
            found.append(f"database: {store_problem}")
        age = self.loop_age_s()
        if age > self._stale_after_s:
            found.append(f"no good loop pass for {age:.0f} s (limit {self._stale_after_s:g} s)")
        return found

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        attempts = CounterMetricFamily(
            "uid2_webhook_delivery_attempts",
            "Webhook calls finished by this worker, by outcome (delivered, retrying, failed)",
            labels=["outcome"],
        )
        for state, count in self._worker.outcome_counts().items():
            attempts.add_metric([OUTCOME_LABELS[state]], count)
        yield attempts
        yield GaugeMetricFamily(
            "uid2_webhook_loop_age_seconds",
            "Seconds since the worker's loop last ended a pass with the store answering",
            value=self.loop_age_s(),
        )
        yield from self._backlog()

    def _backlog(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = self._read_backlog()
        except Exception:  # any failure to read means "store down"; the scrape still answers
            yield _store_up(False)
            return
        yield _store_up(True)
        yield GaugeMetricFamily(
            "uid2_webhook_backlog_deliveries",
            "Deliveries pending in the outbox (every webhook, every worker)",
            value=backlog.pending,
        )
        oldest_ms = backlog.oldest_created_ms
        age_s = 0.0 if oldest_ms is None else max(0.0, (self._clock_ms() - oldest_ms) / 1000)
        yield GaugeMetricFamily(
            "uid2_webhook_oldest_pending_age_seconds",
            "Age of the oldest pending delivery (0 when none is pending)",
            value=age_s,
        )


def _store_up(up: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "uid2_webhook_store_up", "1 when this scrape could read the backlog", value=int(up)
    )

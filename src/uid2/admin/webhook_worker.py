"""The opt-out webhook worker: claims due deliveries, calls the webhooks, records the outcomes.

The main thread does every database write (short transactions: one claim, one batch of
outcomes); a thread pool does the HTTP calls, one delivery per thread, so a slow receiver
holds one slot, not the others. A claimed row is leased (``next_attempt_ms`` moves past the
longest a call can take); if the worker dies before recording the outcome, the lease runs out
and the row is sent again: delivery is at-least-once, receivers must be idempotent (they are
keyed by the raw UID2). A clean stop (``stop`` set) claims nothing more, waits for the calls in
flight and records them.

The worker keeps what its metrics and health check read (:mod:`.webhook_metrics`): attempts
by outcome, and when a pass of the loop last ended with the store answering.

Logs name the webhook id, the opt-out's sequence number, the status or the error's class name:
never the URL (it holds the raw UID2, and may hold the receiver's credentials). httpx logs each
request's URL at INFO, so its loggers are raised to WARNING.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine

from uid2.admin.webhook_delivery import Attempt, RetryPolicy, outcome, parse_retry_after, render_url
from uid2.store.errors import StoreError
from uid2.store.records import DeliveryOutcome, DeliveryState, DueDelivery
from uid2.store.secrets import SecretBox
from uid2.store.uow import SqlAlchemyUnitOfWork

log = logging.getLogger("uid2.webhooks")
USER_AGENT = "uid2-optout-webhook"
_CHATTY_LOGGERS = ("httpx", "httpcore")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    timeout_s: float = 30.0
    concurrency: int = 8  # calls in flight at once
    poll_interval_s: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.concurrency < 1 or self.poll_interval_s <= 0:
            raise ValueError("timeout, concurrency and poll interval must be positive")

    @property
    def lease_ms(self) -> int:
        """Longer than one call can take (connect, write and read each up to the timeout)."""
        return round((3 * self.timeout_s + 2) * 1000)


@dataclass(frozen=True, slots=True)
class LoopStatus:
    """What the loop's last passes say, replaced as a whole at the end of each pass."""

    last_good_pass: float | None = None  # monotonic time a pass last ended with the store up
    store_problem: str | None = None  # why the store failed in the last pass, if it did


def quiet_http_client_logs() -> None:
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))


class WebhookWorker:
    def __init__(
        self,
        engine: Engine,
        box: SecretBox | None,
        settings: WorkerSettings | None = None,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
        random_unit: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        quiet_http_client_logs()
        self._engine = engine
        self._box = box
        self._settings = settings or WorkerSettings()
        self._clock_ms = clock_ms
        self._random_unit = random_unit
        self._client = httpx.Client(
            timeout=self._settings.timeout_s,
            transport=transport,
            follow_redirects=False,  # only 200 and 204 are success (system.md §2.3)
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=self._settings.concurrency),
        )
        self._pool = ThreadPoolExecutor(self._settings.concurrency, "uid2-webhook")
        self._in_flight: dict[Future[Attempt], DueDelivery] = {}
        self._unrecorded: list[DeliveryOutcome] = []
        self._store_failing = False
        self._monotonic = monotonic
        self._pass_problem: str | None = None
        self.loop_status = LoopStatus()  # read by other threads: one reference swap per pass
        self._outcomes = dict.fromkeys(DeliveryState, 0)

    def outcome_counts(self) -> dict[DeliveryState, int]:
        """Attempts finished so far by this worker, by the state they left the row in."""
        return dict(self._outcomes)

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, then finish the calls in flight and return."""
        while not stop.is_set():
            self._pass_problem = None
            self._claim()
            busy = bool(self._in_flight)  # anything claimed is in flight
            if busy:
                self._collect(self._settings.poll_interval_s)
            else:
                self._flush()  # outcomes a failing store refused earlier, if any
            self._end_pass()
            if not busy:
                stop.wait(self._settings.poll_interval_s)
        self._collect(None)

    def _end_pass(self) -> None:
        problem = self._pass_problem
        last_good = self.loop_status.last_good_pass if problem else self._monotonic()
        self.loop_status = LoopStatus(last_good, problem)

    def run_once(self) -> list[DeliveryOutcome]:
        """Claim what is due (up to the concurrency), send it, record it; for tests and tools."""
        self._fill()
        return self._collect(None)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def _claim(self) -> None:
        """Claims what is due; a failing store is logged once per outage, and the loop goes on."""
        try:
            self._fill()
        except Exception as error:  # a worker keeps going; driver messages may quote rows
            reason = _reason(error)
            if not self._store_failing:
                log.warning("webhook worker: cannot claim deliveries (%s); retrying", reason)
            self._store_failing = True
            self._pass_problem = f"cannot claim deliveries ({reason})"
            return
        if self._store_failing:
            log.info("webhook worker: the store answers again")
        self._store_failing = False

    # --- claiming and sending -------------------------------------------------------------

    def _fill(self) -> int:
        free = self._settings.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        now_ms = self._clock_ms()
        # an idle poll reads only, and takes no writer lock
        with SqlAlchemyUnitOfWork(self._engine, self._box, read_only=True) as reader:
            if not reader.webhook_deliveries.has_due(now_ms):
                return 0
        lease_until_ms = now_ms + self._settings.lease_ms
        with SqlAlchemyUnitOfWork(self._engine, self._box) as uow:
            claimed = uow.webhook_deliveries.claim_due(now_ms, free, lease_until_ms)
            uow.commit()
        for due in claimed:
            self._in_flight[self._pool.submit(self._send, due)] = due
        return len(claimed)

    def _send(self, due: DueDelivery) -> Attempt:
        url = render_url(due.url_template, due.advertising_id, due.optout_created_s)
        try:
            response = self._client.request(due.method.value, url, content=b"")
        except httpx.TimeoutException as error:
            return Attempt(None, type(error).__name__)
        except httpx.UnsupportedProtocol as error:
            return Attempt(None, type(error).__name__, retryable=False)
        except httpx.TransportError as error:  # connection refused or reset, protocol errors
            return Attempt(None, type(error).__name__)
        except (httpx.InvalidURL, httpx.HTTPError) as error:
            return Attempt(None, type(error).__name__, retryable=False)
        retry_after = parse_retry_after(response.headers.get("retry-after"), self._settings.retry)
        return Attempt(response.status_code, retry_after_ms=retry_after)

    # --- recording ------------------------------------------------------------------------

    def _collect(self, timeout_s: float | None) -> list[DeliveryOutcome]:
        """Waits for a call to finish (all of them if ``timeout_s`` is None) and records every
        finished one; outcomes the store refused stay buffered for the next try."""
        if self._in_flight:
            when = FIRST_COMPLETED if timeout_s is not None else ALL_COMPLETED
            done, _ = wait(list(self._in_flight), timeout=timeout_s, return_when=when)
            now_ms = self._clock_ms()
            for future in done:
                due = self._in_flight.pop(future)
                attempt = _result(future)
                result = outcome(due, attempt, now_ms, self._random_unit(), self._settings.retry)
                _log_outcome(result)
                self._outcomes[result.state] += 1
                self._unrecorded.append(result)
        return self._flush()

    def _flush(self) -> list[DeliveryOutcome]:
        pending, self._unrecorded = self._unrecorded, []
        if not pending:
            return []
        try:
            with SqlAlchemyUnitOfWork(self._engine, self._box) as uow:
                uow.webhook_deliveries.record(pending)
                uow.commit()
        except Exception as error:  # kept for the next try; driver messages may quote rows
            reason = _reason(error)
            log.warning("webhook worker: outcomes not saved yet (%s)", reason)
            self._pass_problem = f"cannot save outcomes ({reason})"
            self._unrecorded = pending + self._unrecorded
            return []
        return pending


def _reason(error: Exception) -> str:
    """A store error's own message; otherwise the class name (driver messages may quote rows)."""
    return error.message if isinstance(error, StoreError) else type(error).__name__


def _result(future: Future[Attempt]) -> Attempt:
    try:
        return future.result()
    except Exception as error:  # a bug in sending must not lose the row: retry it later
        return Attempt(None, type(error).__name__)


def _log_outcome(result: DeliveryOutcome) -> None:
    where = f"webhook {result.webhook_id} opt-out {result.optout_seq}"
    if result.state is DeliveryState.DELIVERED:
        log.debug("%s: delivered (HTTP %s)", where, result.last_status)
    elif result.state is DeliveryState.PENDING:
        wait_s = (result.next_attempt_ms - (result.last_attempt_ms or 0)) / 1000
        log.info(
            "%s: attempt %d failed (%s); retrying in %.1f s",
            where,
            result.attempts,
            result.last_error,
            wait_s,
        )
    else:
        log.warning(
            "%s: not delivered, attempts: %d (%s)", where, result.attempts, result.last_error
        )

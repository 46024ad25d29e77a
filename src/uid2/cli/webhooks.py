"""``uid2 webhook add|list|disable`` and ``uid2 serve webhooks`` (the delivery worker)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from contextlib import ExitStack
from functools import partial
from types import FrameType

import click
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from uid2.admin.webhook_delivery import RetryPolicy
from uid2.admin.webhook_metrics import WorkerMonitor, read_backlog, stale_after_s
from uid2.admin.webhook_worker import WebhookWorker, WorkerSettings, quiet_http_client_logs
from uid2.admin.webhooks import (
    CreateWebhook,
    DisableWebhook,
    WebhookStatus,
    create_webhook,
    disable_webhook,
    list_webhooks,
    webhook_view,
)
from uid2.cli.base import cli, context, db_option, emit, emit_rows, json_option, runtime
from uid2.cli.serve import serve
from uid2.cli.status_server import StatusServer
from uid2.store.records import DeliveryCounts, OptOutWebhook

log = logging.getLogger("uid2.webhooks")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@cli.group()
def webhook() -> None:
    """Opt-out webhooks: a URL called once per opt-out with the raw UID2 and its time."""


@webhook.command("add")
@click.option("--site", "site_id", type=int, required=True, metavar="ID")
@click.option("--url", "url_template", required=True, metavar="TEMPLATE",
              help="http(s) URL with ${ADVERTISING_ID} (raw UID2, base64, URL-encoded) and "
                   "optionally ${OPTOUT_EPOCH} (seconds).")  # fmt: skip
@click.option("--method", type=click.Choice(["GET", "POST"], case_sensitive=False), default="GET",
              show_default=True)  # fmt: skip
@db_option
@json_option
def webhook_add(
    site_id: int, url_template: str, method: str, db: str | None, as_json: bool
) -> None:
    """Add a webhook; it receives every opt-out recorded from now on."""
    cmd = CreateWebhook(site_id, url_template, method)
    with runtime(db) as rt:
        created = create_webhook(cmd, rt.uow(), context())
    emit(as_json, webhook_view(WebhookStatus(created, DeliveryCounts()), _now_ms()), "webhook")


@webhook.command("list")
@click.option("--site", "site_id", type=int, default=None, metavar="ID")
@db_option
@json_option
def webhook_list(site_id: int | None, db: str | None, as_json: bool) -> None:
    """List webhooks with their delivered, pending (the backlog) and failed counts."""
    with runtime(db) as rt:
        statuses = list_webhooks(rt.reader(), site_id)
    now_ms = _now_ms()
    emit_rows(as_json, [webhook_view(s, now_ms) for s in statuses], "opt-out webhooks")


@webhook.command("disable")
@click.argument("webhook_id", type=int)
@db_option
@json_option
def webhook_disable(webhook_id: int, db: str | None, as_json: bool) -> None:
    """Disable a webhook; its undelivered opt-outs are marked failed."""
    with runtime(db) as rt:
        disabled = disable_webhook(DisableWebhook(webhook_id), rt.uow(), context())
        (status,) = [s for s in list_webhooks(rt.reader(), disabled.site_id) if _is(s, disabled)]
    emit(as_json, webhook_view(status, _now_ms()), "webhook")


def _is(status: WebhookStatus, webhook: OptOutWebhook) -> bool:
    return status.webhook.webhook_id == webhook.webhook_id


@serve.command("webhooks")
@click.option("--poll-interval", type=click.FloatRange(0.01), default=1.0, show_default=True,
              help="Seconds between looks for due deliveries when idle.")  # fmt: skip
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1), default=30.0,
              show_default=True, help="Seconds per HTTP call.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Calls in flight at once.")  # fmt: skip
@click.option("--max-attempts", type=click.IntRange(1), default=50, show_default=True,
              help="Attempts before a delivery is marked failed.")  # fmt: skip
@click.option("--backoff-base", type=click.FloatRange(0.001), default=1.0, show_default=True,
              help="Seconds before the first retry; doubles each time (with jitter).")  # fmt: skip
@click.option("--backoff-cap", type=click.FloatRange(0.001), default=900.0, show_default=True,
              help="Longest wait between retries, in seconds.")  # fmt: skip
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              envvar="UID2_WEBHOOK_METRICS_PORT", show_envvar=True,
              help="Serve /metrics and /healthz on this port (default: no port).")  # fmt: skip
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              envvar="UID2_WEBHOOK_METRICS_HOST", show_envvar=True,
              help="Address for --metrics-port.")  # fmt: skip
@db_option
def serve_webhooks(
    poll_interval: float,
    timeout_s: float,
    concurrency: int,
    max_attempts: int,
    backoff_base: float,
    backoff_cap: float,
    metrics_port: int | None,
    metrics_host: str,
    db: str | None,
) -> None:
    """Deliver opt-outs to the webhooks until SIGTERM or Ctrl-C (then finish calls in flight)."""
    base_ms = max(1, round(backoff_base * 1000))
    retry = RetryPolicy(base_ms, max(base_ms, round(backoff_cap * 1000)), max_attempts)
    settings = WorkerSettings(timeout_s, concurrency, poll_interval, retry)
    _configure_logging()
    stop = threading.Event()
    _stop_on_signals(stop)
    with runtime(db) as rt, ExitStack() as running:
        worker = WebhookWorker(rt.engine, rt.box, settings)
        running.callback(worker.close)  # after the status server stops (last in, first out)
        if metrics_port is not None:
            status = _status_server(worker, rt.engine, settings, metrics_host, metrics_port)
            running.enter_context(status)
            log.info("metrics and health at http://%s:%d", metrics_host, status.port)
        log.info("webhook worker started (poll %.2f s, timeout %.1f s)", poll_interval, timeout_s)
        worker.run(stop)
    log.info("webhook worker stopped")


def _status_server(
    worker: WebhookWorker, engine: Engine, settings: WorkerSettings, host: str, port: int
) -> StatusServer:
    monitor = WorkerMonitor(
        worker,
        partial(read_backlog, engine),
        stale_after_s=stale_after_s(settings.poll_interval_s),
    )
    registry = CollectorRegistry()
    registry.register(monitor)
    try:
        return StatusServer(host, port, registry, monitor.problems)
    except OSError as error:
        raise click.ClickException(
            f"cannot serve metrics on {host}:{port} ({error.strerror or type(error).__name__})"
        ) from None


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("uid2")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    quiet_http_client_logs()  # httpx would log every URL, and the URLs hold raw UID2s


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)

"""The pixel receiver's ASGI app: ``/px/tracking`` and ``/px/creative`` (GET answers a 1x1
GIF, a POST beacon 204), ``/uid2-pixel.js``, ``/healthz`` and ``/metrics``.

A raw ASGI callable rather than a framework router: this path runs thousands of times a
second. Every pixel is answered, whatever its token; the answer waits for the event's commit
(group commit, :mod:`.writer`) at most ``commit_wait_seconds``. Only this module and
:mod:`.settings` read the environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from uid2.core.enums import ClientType
from uid2.core.tokens import decrypt_token
from uid2.core.tokens.result import DecryptResult
from uid2.pixel.events import MAX_FIELDS, Decrypt, PixelKind, build_event
from uid2.pixel.key_age import KeyAge
from uid2.pixel.metrics import PixelMetrics
from uid2.pixel.optout_sweep import Lookup, OptOutSweeper
from uid2.pixel.settings import PixelSettings
from uid2.pixel.store import EventStore, ensure_schema, open_engine, reading
from uid2.pixel.writer import GroupCommitWriter
from uid2.sdk.key_clients import SharingClient
from uid2.sdk.keyring_holder import REFRESHABLE_STATUSES
from uid2.sdk.optout_status import OptOutStatusClient

logger = logging.getLogger("uid2.pixel")
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
MAX_QUERY_BYTES = 16_384
MAX_BEACON_BYTES = 16_384
SCRIPT = Path(__file__).parent / "static" / "uid2-pixel.js"
_KINDS = {f"/px/{k.value}": k for k in PixelKind}
_NO_STORE = (b"cache-control", b"no-store")
_GIF_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"image/gif"), _NO_STORE, (b"content-length", b"%d" % len(GIF))],
}
_GIF_BODY: Message = {"type": "http.response.body", "body": GIF}
_REFRESHABLE = frozenset(s.name for s in REFRESHABLE_STATUSES)
SCRIPT_PATH, HEALTH_PATH, METRICS_PATH = "/uid2-pixel.js", "/healthz", "/metrics"
UNKNOWN_ENDPOINT = "unknown"
_ENDPOINTS = frozenset({*_KINDS, SCRIPT_PATH, HEALTH_PATH, METRICS_PATH})
DATABASE_UNREACHABLE = "database unreachable"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_fields(raw: bytes) -> dict[str, list[str]] | None:
    """Query-string fields; None when there are too many or they are too long."""
    if len(raw) > MAX_QUERY_BYTES:
        return None
    try:
        return parse_qs(
            raw.decode("latin-1"), keep_blank_values=True, errors="replace",
            max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except ValueError:
        return None


def beacon_fields(body: bytes) -> dict[str, list[str]] | None:
    """A beacon body: a JSON object of strings, or form encoding (sendBeacon's text/plain).

    Anything else is refused (None) rather than read as form fields, where a JSON body's
    token would end up in a parameter name and be stored.
    """
    text = body.strip()
    if not text.startswith((b"{", b"[")):
        return parse_fields(body)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or len(document) > MAX_FIELDS:
        return None
    if not all(isinstance(v, str) for v in document.values()):
        return None
    return {str(k): [v] for k, v in document.items()}


def merge_fields(
    first: dict[str, list[str]] | None, second: dict[str, list[str]] | None
) -> dict[str, list[str]] | None:
    if first is None or second is None:
        return None
    merged = {k: list(v) for k, v in first.items()}
    for key, values in second.items():
        merged.setdefault(key, []).extend(values)
    return merged if len(merged) <= MAX_FIELDS else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            return None
    return body


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> int:
    headers = [(b"content-type", content_type), _NO_STORE, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


class PixelApp:
    def __init__(
        self,
        decrypt: Decrypt,
        writer: GroupCommitWriter,
        metrics: PixelMetrics,
        engine: Engine,
        *,
        commit_wait_seconds: float = 2.0,
        clock_ms: Callable[[], int] = wall_clock_ms,
        sweeper: OptOutSweeper | None = None,
        on_start: Callable[[], None] = lambda: None,
        on_stop: Callable[[], None] = lambda: None,
        decrypt_now: Decrypt | None = None,
        key_age: KeyAge | None = None,
    ) -> None:
        """``decrypt`` may block (a key refresh over HTTP); ``decrypt_now``, if given, must
        not: it decides every token but those whose status a key refresh could change.
        ``key_age``, if given, makes ``/healthz`` fail when the keys are too old."""
        self._decrypt = decrypt
        self._decrypt_now = decrypt_now or decrypt
        self.writer = writer
        self.metrics = metrics
        self._engine = engine
        self._wait = commit_wait_seconds
        self._clock_ms = clock_ms
        self._sweeper = sweeper
        self._on_start = on_start
        self._on_stop = on_stop
        self._key_age = key_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # a websocket: refused by the server when the app returns
        started, status = time.perf_counter(), 500
        try:
            status = await self._answer(scope, receive, send)
        finally:
            path = scope["path"]
            endpoint = path if path in _ENDPOINTS else UNKNOWN_ENDPOINT
            self.metrics.requests.observe(
                time.perf_counter() - started, endpoint, scope["method"], status
            )

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answers one request; returns its HTTP status."""
        path, method = scope["path"], scope["method"]
        kind = _KINDS.get(path)
        if kind is not None and method in ("GET", "POST"):
            return await self._pixel(scope, receive, send, kind)
        if path == SCRIPT_PATH and method == "GET":
            return await _respond(send, 200, SCRIPT.read_bytes(), b"text/javascript; charset=utf-8")
        if path == HEALTH_PATH and method == "GET":
            problems = await self._health_problems()
            body = "\n".join(problems).encode() if problems else b"OK"
            return await _respond(send, 503 if problems else 200, body, b"text/plain")
        if path == METRICS_PATH and method == "GET":
            body = generate_latest(self.metrics.registry)
            return await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode())
        return await _respond(send, 404, b"not found", b"text/plain")

    async def _health_problems(self) -> list[str]:
        reachable = await run_in_threadpool(self._database_reachable)
        problems = [] if reachable else [DATABASE_UNREACHABLE]
        keys = None if self._key_age is None else self._key_age.problem()
        return problems if keys is None else [*problems, keys]

    async def _pixel(self, scope: Scope, receive: Receive, send: Send, kind: PixelKind) -> int:
        fields = parse_fields(scope["query_string"])
        if scope["method"] == "POST":  # a beacon: fields in the query and/or the body
            body = await _read_body(receive, MAX_BEACON_BYTES)
            fields = merge_fields(fields, None if body is None else beacon_fields(body))
        referer, now_ms = _header(scope, b"referer"), self._clock_ms()
        event = build_event(kind, fields, referer, now_ms, self._decrypt_now)
        if event.status in _REFRESHABLE:
            # Newer keys may help: the SharingClient then refreshes them over HTTP in the
            # calling thread (at most once per key_refresh_min_seconds), which must not stall
            # the event loop and every other pixel with it.
            event = await run_in_threadpool(
                build_event, kind, fields, referer, now_ms, self._decrypt
            )
        self.metrics.pixels.labels(kind.value, event.status).inc()
        future = self.writer.submit(event)
        if future is not None:
            try:
                await asyncio.wait_for(future, self._wait)
            except TimeoutError:
                self.metrics.unconfirmed.inc()
        if scope["method"] == "POST":
            await send({"type": "http.response.start", "status": 204, "headers": [_NO_STORE]})
            await send({"type": "http.response.body", "body": b""})
            return 204
        await send(_GIF_START)
        await send(_GIF_BODY)
        return 200

    def _database_reachable(self) -> bool:
        try:
            with reading(self._engine) as connection:  # never queues behind the writer
                connection.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not healthy"
            return False
        return True

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.writer.start()
                if self._sweeper is not None:
                    self._sweeper.start()
                self._on_start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._on_stop()
                if self._sweeper is not None:
                    self._sweeper.stop()
                await run_in_threadpool(self.writer.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    settings: PixelSettings,
    *,
    registry: CollectorRegistry | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
    client: SharingClient | None = None,
    optout_lookup: Lookup | None = None,
) -> PixelApp:
    """The receiver for ``settings``: its event store (created if new), a SharingClient with
    background and on-demand key refresh (whose age ``/metrics`` and ``/healthz`` report), the
    writer and the opt-out sweeper."""
    engine = open_engine(settings.database_url)
    ensure_schema(engine)
    store = EventStore(engine)
    metrics = PixelMetrics(registry or CollectorRegistry())
    sharing = client or SharingClient(
        settings.operator_url,
        settings.api_key,
        settings.secret,
        on_demand_interval=settings.key_refresh_min_seconds,
    )
    if optout_lookup is None:
        status = OptOutStatusClient(settings.operator_url, settings.api_key, settings.secret)
        optout_lookup = status.opted_out
    sweeper = OptOutSweeper(
        store,
        optout_lookup,
        interval_s=settings.optout_sweep_seconds,
        full_interval_s=settings.optout_full_sweep_seconds,
        on_purged=metrics.purged.inc,
    )

    def decrypt(token: str) -> DecryptResult:
        return sharing.decrypt_token_into_raw_uid(token).result

    key_age = KeyAge(lambda: sharing.keys, settings.key_age_limit_seconds)
    metrics.track_key_age(key_age.seconds)

    def decrypt_now(token: str) -> DecryptResult:  # the same, without refreshing keys
        keys = sharing.keys
        key_age.saw(keys)
        return decrypt_token(token, keys, now_ms=wall_clock_ms(), client_type=ClientType.SHARING)

    def start() -> None:
        answer = sharing.refresh()
        if not answer.success:
            logger.warning(
                "no sharing keys yet (%s); pixels fail until a refresh works", answer.reason
            )
        sharing.start_auto_refresh(settings.key_refresh_seconds)

    return PixelApp(
        decrypt,
        GroupCommitWriter(store, on_dropped=metrics.drop),
        metrics,
        engine,
        commit_wait_seconds=settings.commit_wait_seconds,
        clock_ms=clock_ms,
        sweeper=sweeper,
        on_start=start,
        on_stop=sharing.stop_auto_refresh,
        decrypt_now=decrypt_now,
        key_age=key_age,
    )


def create_app_from_env() -> PixelApp:
    """The uvicorn factory for ``uid2 serve pixel`` (one call per worker)."""
    return create_app(PixelSettings.from_env(os.environ))

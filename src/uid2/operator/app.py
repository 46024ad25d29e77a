"""The operator's ASGI app (composition root for one process).

``create_app(settings, source)`` loads the first snapshot at once, so a control plane that
cannot be served (no salts, no active master or refresh key) fails here with a clear
:class:`~uid2.operator.snapshot.SnapshotError`; the polling thread starts with the app's
lifespan. Only this module and :mod:`.settings` read the environment.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.operator.holder import SnapshotHolder, SnapshotSource
from uid2.operator.metrics import OperatorMetrics
from uid2.operator.middleware import OperatorMiddleware
from uid2.operator.routes import Deps, OperatorRoutes
from uid2.operator.services.common import RandomBytes
from uid2.operator.services.tokens import OptOutSink
from uid2.operator.settings import Settings
from uid2.operator.snapshot import require_servable


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def create_app(
    settings: Settings,
    source: SnapshotSource,
    *,
    optout_sink: OptOutSink | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
    random: RandomBytes = os.urandom,
    registry: CollectorRegistry | None = None,
    holder: SnapshotHolder | None = None,
) -> Starlette:
    """The operator app over ``source``; raises SnapshotError if it cannot serve."""
    if holder is None:
        holder = SnapshotHolder(
            source,
            poll_interval_seconds=settings.poll_interval_seconds,
            stale_after_seconds=settings.stale_after_seconds,
        )
    require_servable(holder.current, clock_ms())
    metrics = OperatorMetrics(registry or CollectorRegistry())
    metrics.bind(
        holder.age_seconds, lambda: holder.current.version, lambda: len(holder.current.optouts)
    )
    handlers = OperatorRoutes(Deps(settings, holder, metrics, clock_ms, random, optout_sink))
    routes = _routes(settings, handlers, metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        holder.start()
        try:
            yield
        finally:
            holder.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.holder = holder
    app.state.metrics = metrics
    app.add_middleware(OperatorMiddleware, metrics=metrics, paths=[r.path for r in routes])
    return app


def _routes(settings: Settings, h: OperatorRoutes, metrics: OperatorMetrics) -> list[Route]:
    post = ["POST"]
    routes = [
        Route("/v2/token/generate", h.generate, methods=post),
        Route("/v2/token/refresh", h.refresh, methods=post),
        Route("/v2/token/validate", h.validate, methods=post),
        Route("/v2/token/logout", h.logout, methods=post),
        Route("/v2/identity/map", h.map_v2, methods=post),
        Route("/v3/identity/map", h.map_v3, methods=post),
        Route("/v2/identity/buckets", h.buckets, methods=post),
        Route("/v2/key/latest", h.key_latest, methods=post),
        Route("/v2/key/sharing", h.key_sharing, methods=post),
        Route("/v2/key/bidstream", h.key_bidstream, methods=post),
        Route("/ops/healthcheck", _healthcheck(h.d.holder), methods=["GET"]),
        Route("/metrics", _metrics_endpoint(metrics), methods=["GET"]),
    ]
    if settings.client_side_token_generate:
        routes.append(Route("/v2/token/client-generate", h.client_generate, methods=post))
    if settings.optout_status_api_enabled:
        routes.append(Route("/v2/optout/status", h.optout_status, methods=post))
    if settings.enable_noop_endpoint:
        routes.append(Route("/ops/noop", h.noop, methods=["GET", "POST"]))
    return routes


def _healthcheck(holder: SnapshotHolder) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        problems = holder.problems()
        if not problems:
            return Response(b"OK", headers={"content-type": "text/plain"})
        body = "\n".join(problems).encode("utf-8")
        return Response(body, status_code=503, headers={"content-type": "text/plain"})

    return endpoint


def _metrics_endpoint(metrics: OperatorMetrics) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        return Response(
            generate_latest(metrics.registry), headers={"content-type": CONTENT_TYPE_LATEST}
        )

    return endpoint


def create_app_from_env() -> Starlette:
    """The uvicorn factory for ``uid2 serve operator`` (``--factory``, one call per worker).

    Reads ``UID2_OPERATOR_*`` settings, and the store the way the CLI does: ``UID2_DATABASE_URL``
    (default: a SQLite file under ``UID2_HOME``, default ``./.uid2``) and the KEK from
    ``UID2_KEK`` or ``$UID2_HOME/kek``.
    """
    from uid2.operator.store_source import StoreOptOutSink, StoreSnapshotSource
    from uid2.store import make_engine, require_current_schema
    from uid2.store.location import StoreLocation
    from uid2.store.secrets import SecretBox

    settings = Settings.from_env(os.environ)
    location = StoreLocation.from_environ(os.environ)
    engine = make_engine(location.url())
    require_current_schema(engine)
    kek = location.kek()
    box = None if kek is None else SecretBox(kek)
    source = StoreSnapshotSource(engine, box, api_key_cache_size=settings.api_key_cache_size)
    return create_app(settings, source, optout_sink=StoreOptOutSink(engine, box))

"""The portal's ASGI app: HTML pages, the JSON API, ``/healthz`` and ``/metrics``.

Refusals that escape a handler, and failures to reach the database wherever they happen (the
session lookup every page starts with included), are answered here: a 503 page, or a 503
JSON error under ``/api/``, never a 500. Only this module and :mod:`.settings` read the
environment (``create_app_from_env``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from uid2.admin.context import Entropy, system_entropy
from uid2.portal.account_service import AccountService
from uid2.portal.api import api_routes
from uid2.portal.api_support import error_response
from uid2.portal.errors import UNCAUGHT_REFUSALS, as_refusal
from uid2.portal.middleware import PortalMetrics, PortalMiddleware
from uid2.portal.pages_auth import auth_routes
from uid2.portal.pages_integration import integration_routes
from uid2.portal.pages_optout import OptOutDesk, optout_routes
from uid2.portal.pages_participant import participant_routes
from uid2.portal.pages_platform import platform_routes
from uid2.portal.pages_sharing import sharing_routes
from uid2.portal.pages_webhooks import webhook_routes
from uid2.portal.participant_service import ParticipantService
from uid2.portal.platform_service import PlatformService
from uid2.portal.ratelimit import AttemptLimiter
from uid2.portal.runtime import Runtime
from uid2.portal.settings import PortalSettings
from uid2.portal.web import Portal, error_page
from uid2.store.secrets import SecretBox

STATIC_DIR = Path(__file__).parent / "static"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def create_app(
    settings: PortalSettings,
    engine: Engine,
    box: SecretBox | None,
    *,
    clock_ms: Callable[[], int] = wall_clock_ms,
    entropy: Entropy | None = None,
    registry: CollectorRegistry | None = None,
) -> Starlette:
    runtime = Runtime(engine, box, clock_ms, entropy or system_entropy())
    portal = Portal(
        settings=settings,
        accounts=AccountService(runtime, settings),
        participants=ParticipantService(runtime),
        platform=PlatformService(runtime),
        limiter=AttemptLimiter(settings.login_attempts_per_minute),
        clock_ms=clock_ms,
        optout=OptOutDesk.create(runtime, settings),
    )
    metrics = PortalMetrics(registry or CollectorRegistry())
    routes = [
        Route("/healthz", _healthz(engine), methods=["GET"]),
        Route("/metrics", _metrics(metrics), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        *auth_routes(),
        *participant_routes(),
        *integration_routes(),
        *sharing_routes(),
        *platform_routes(),
        *optout_routes(),
        *webhook_routes(),
        *api_routes(),
    ]
    handlers = dict.fromkeys(UNCAUGHT_REFUSALS, _uncaught_refusal)
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.portal = portal
    app.add_middleware(PortalMiddleware, metrics=metrics)
    return app


async def _uncaught_refusal(request: Request, error: Exception) -> Response:
    refusal = as_refusal(error)
    if refusal is None:
        raise error  # not a refusal: the server error middleware answers a plain 500
    if request.url.path.startswith("/api/"):
        return error_response(refusal)
    return error_page(request, refusal, session=None)  # no session: its lookup may have failed


def _healthz(engine: Engine) -> Callable[[Request], object]:
    def check() -> bool:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not healthy"
            return False
        return True

    async def endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        if await run_in_threadpool(check):
            return PlainTextResponse("OK")
        return PlainTextResponse("database unreachable", status_code=503)

    return endpoint


def _metrics(metrics: PortalMetrics) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        body = generate_latest(metrics.registry)
        return Response(body, headers={"content-type": CONTENT_TYPE_LATEST})

    return endpoint


def create_app_from_env() -> Starlette:
    """The uvicorn factory for ``uid2 serve portal`` (one call per worker)."""
    from uid2.store import make_engine, require_current_schema
    from uid2.store.location import StoreLocation

    settings = PortalSettings.from_env(os.environ)
    location = StoreLocation.from_environ(os.environ)
    engine = make_engine(location.url())
    require_current_schema(engine)
    kek = location.kek()
    return create_app(settings, engine, None if kek is None else SecretBox(kek))

"""Security headers on every answer, and request counting and timing by route (the route's
template, never the raw path, so label values stay bounded).

Pages hold secrets shown once and team data, so nothing is cached; the content security policy
allows only the portal's own scripts and styles, and no framing.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uid2.admin.http_metrics import RequestMetrics

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
     b"object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # one-time links must not leak through Referer
]  # fmt: skip
NO_STORE = (b"cache-control", b"no-store")
UNMATCHED_ROUTE = "unmatched"
# pages take milliseconds; a sign-in runs argon2id (tenths of a second)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PortalMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = RequestMetrics(registry, "uid2_portal_http", "route", LATENCY_BUCKETS)


class PortalMiddleware:
    def __init__(self, app: ASGIApp, metrics: PortalMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not static:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            # the router puts the matched route in the scope; its path is the template
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            elapsed = time.perf_counter() - started
            self.metrics.requests.observe(elapsed, route, scope["method"], status)

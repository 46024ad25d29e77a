"""Pure-ASGI middleware: CORS, the X-Amzn-Trace-Id echo, request counting and timing
(operator.md §1.1).

Pure ASGI rather than ``BaseHTTPMiddleware``: it adds a few microseconds per request, which
matters on an API whose hot endpoints take tens of microseconds.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uid2.operator.metrics import OperatorMetrics

_ALLOWED_HEADERS = (
    "X-UID2-Client-Version, Content-Type, Access-Control-Request-Method, "
    "Access-Control-Allow-Credentials, Access-Control-Allow-Origin, Access-Control-Allow-Headers"
)
_WITH_AUTHORIZATION = _ALLOWED_HEADERS + ", Authorization"
_AUTHORIZATION_PATHS = frozenset({"/v2/token/validate"})  # only validate (operator.md §1.1)
_ALLOWED_METHODS = b"GET, POST, OPTIONS"
UNKNOWN_PATH = "unknown"  # a client may send any path: label values stay bounded


class OperatorMiddleware:
    def __init__(self, app: ASGIApp, metrics: OperatorMetrics, paths: Collection[str]) -> None:
        self._app = app
        self._metrics = metrics
        self._paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        origin = trace_id = request_method = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"x-amzn-trace-id":
                trace_id = value
            elif name == b"access-control-request-method":
                request_method = value
        path: str = scope["path"]
        started = time.perf_counter()
        if scope["method"] == "OPTIONS" and origin is not None and request_method is not None:
            await self._preflight(path, origin, send)
            self._count(path, "OPTIONS", 204, started)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if origin is not None or trace_id is not None:
                    headers = list(message.get("headers", ()))
                    if origin is not None:
                        headers.append((b"access-control-allow-origin", origin))
                    if trace_id is not None:
                        headers.append((b"x-amzn-trace-id", trace_id))
                    message["headers"] = headers
            await send(message)

        try:
            await self._app(scope, receive, send_wrapper)
        finally:
            self._count(path, scope["method"], status, started)

    def _count(self, path: str, method: str, status: int, started: float) -> None:
        route = path if path in self._paths else UNKNOWN_PATH
        self._metrics.requests.observe(time.perf_counter() - started, route, method, status)

    async def _preflight(self, path: str, origin: bytes, send: Send) -> None:
        allowed = _WITH_AUTHORIZATION if path in _AUTHORIZATION_PATHS else _ALLOWED_HEADERS
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", _ALLOWED_METHODS),
            (b"access-control-allow-headers", allowed.encode("ascii")),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

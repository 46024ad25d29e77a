"""``/metrics`` and ``/healthz`` on a port of their own, for a process that serves no HTTP
otherwise (``uid2 serve webhooks``).

The stdlib's single-threaded HTTP server in one daemon thread: requests are answered one at a
time (a scraper and a health prober are the only clients), each connection may take at most
``REQUEST_TIMEOUT_S`` to send its request, and there is no access log. ``stop()`` returns once
the thread has ended.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Self

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("uid2.status")
REQUEST_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
SHUTDOWN_POLL_S = 0.1  # how often the serving thread looks for stop(): stop() waits this long
Problems = Callable[[], list[str]]


class _StatusHTTPServer(HTTPServer):
    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, problems: Problems
    ) -> None:
        super().__init__(address, _StatusHandler)
        self.registry = registry
        self.problems = problems

    def handle_error(self, request: object, client_address: object) -> None:
        # the default prints a traceback to stderr; a class name says enough (a client that
        # went away, mostly) and quotes nothing
        log.warning("status request failed (%s)", type(sys.exc_info()[1]).__name__)


class _StatusHandler(BaseHTTPRequestHandler):
    server: _StatusHTTPServer
    timeout = REQUEST_TIMEOUT_S  # a client that never finishes its request is dropped

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/metrics":
            self._answer(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            problems = self.server.problems()
            body = "\n".join(problems) if problems else "OK"
            self._answer(503 if problems else 200, body.encode(), "text/plain; charset=utf-8")
        else:
            self._answer(404, b"not found", "text/plain; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # no access log, as for the other services


class StatusServer:
    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, problems: Problems
    ) -> None:
        """Binds at once, so a port in use fails here (OSError); port 0 picks a free one."""
        self._server = _StatusHTTPServer((host, port), registry, problems)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_S,),
            name="uid2-status-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()  # returns once serve_forever has seen the request
            self._thread.join(STOP_TIMEOUT_S)
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""HTTP plumbing for the API routes: raw-ASGI endpoints, bounded body reads, the v2 envelope.

API endpoints are plain ASGI callables rather than Starlette ``Request``/``Response`` handlers:
on endpoints whose whole work takes tens of microseconds, building those objects was a large
share of the time. A handler gets the few headers it needs and the body, and returns
``(status, content type, body)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import orjson
from starlette.types import Receive, Scope, Send

from uid2.core.enums import IdentityScope
from uid2.core.envelope import (
    EnvelopeRejection,
    EnvelopeStatus,
    OpenedRequest,
    open_request,
    parse_json_payload,
)
from uid2.operator.errors import UNAUTHORIZED_BODY, OperatorError, client_error

JSON: Final = b"application/json"
TEXT: Final = b"text/plain"
OCTET_STREAM: Final = b"application/octet-stream"
_WANTED = frozenset({b"authorization", b"content-type", b"origin", b"content-length"})

Answer = tuple[int, bytes, bytes]  # status, content type, body


@dataclass(slots=True)
class HttpRequest:
    authorization: str | None
    content_type: bytes | None
    origin: str | None
    body: bytes

    @property
    def is_octet_stream(self) -> bool:
        """Content-Type ``application/octet-stream``, matched case-insensitively (§2.1)."""
        return self.content_type is not None and self.content_type.lower().startswith(OCTET_STREAM)


Handler = Callable[[HttpRequest], Awaitable[Answer]]


class ApiEndpoint:
    """An ASGI app: read at most ``limit`` bytes (else 413), run ``handler``, send its answer."""

    __slots__ = ("_handler", "_limit")

    def __init__(self, handler: Handler, limit: int) -> None:
        self._handler = handler
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _WANTED:
                headers[name] = value
        body = await _read_body(receive, self._limit, headers.get(b"content-length"))
        if body is None:
            await _send(send, 413, None, b"")
            return
        authorization = headers.get(b"authorization")
        origin = headers.get(b"origin")
        request = HttpRequest(
            authorization=None if authorization is None else authorization.decode("latin-1"),
            content_type=headers.get(b"content-type"),
            origin=None if origin is None else origin.decode("latin-1"),
            body=body,
        )
        status, content_type, content = await self._handler(request)
        await _send(send, status, content_type, content)


async def _read_body(receive: Receive, limit: int, declared: bytes | None) -> bytes | None:
    """The whole body, or None when it is over the limit (by header or by count)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the answer goes nowhere
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, status: int, content_type: bytes | None, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode("ascii"))]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_answer(error: OperatorError) -> Answer:
    return error.http_code, JSON, error.body()


UNAUTHORIZED: Final[Answer] = (401, JSON, UNAUTHORIZED_BODY)
PLAIN_500: Final[Answer] = (500, TEXT, b"Internal Server Error")


def open_envelope(
    secret: bytes, body: bytes, *, binary: bool, now_ms: int, scope: IdentityScope
) -> tuple[OpenedRequest, dict[str, object] | None]:
    """The opened envelope and its JSON object (None when absent); 400 with upstream text."""
    opened = open_request(secret, body, binary=binary, now_ms=now_ms)
    if isinstance(opened, EnvelopeRejection):
        raise client_error(opened.message(scope))
    if opened.payload is None:
        return opened, None
    try:
        document = orjson.loads(opened.payload)
    except orjson.JSONDecodeError:
        document = parse_json_payload(opened.payload)  # lenient UTF-8 and exact messages
    if isinstance(document, EnvelopeRejection):
        raise client_error(document.message(scope))
    if not isinstance(document, dict):
        raise client_error(EnvelopeRejection(EnvelopeStatus.INVALID_PAYLOAD).message(scope))
    return opened, document

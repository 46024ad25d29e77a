"""Talking to an operator: envelopes, retries, timeouts, connection pooling, error mapping.

The pure parts (building a request, reading a response) live in :class:`EnvelopeCodec`; the
sync :class:`OperatorSession` and async :class:`AsyncOperatorSession` only differ in how they
send. This module is the one seam where ``httpx`` exceptions become ``uid2.sdk.errors``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from uid2._version import __version__
from uid2.core.encoding import b64decode_any
from uid2.core.envelope import open_response, seal_request
from uid2.core.errors import EnvelopeError
from uid2.sdk.errors import OperatorError, ResponseError, TransportError, Uid2TimeoutError

logger = logging.getLogger("uid2.sdk")

CLIENT_VERSION = f"uid2-python-{__version__}"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed calls are retried: network errors, 5xx and 429.

    ``retry_intervals`` are the base waits (seconds) before each retry; their count is the number
    of retries. Each wait gets up to ``jitter`` (a fraction) added at random, and a ``Retry-After``
    header on a 429/503 is honoured up to ``max_retry_after``.
    """

    retry_intervals: tuple[float, ...] = (0.25, 1.0, 3.0)
    jitter: float = 0.5
    max_retry_after: float = 30.0

    def wait_before(self, attempt: int, retry_after: float | None, rand: float) -> float:
        base = self.retry_intervals[attempt]
        if retry_after is not None:
            base = max(base, min(retry_after, self.max_retry_after))
        return base * (1 + self.jitter * rand)


NO_RETRY = RetryPolicy(retry_intervals=())


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout: float = 10.0
    connect_timeout: float = 5.0
    max_connections: int = 20
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def httpx_limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=self.max_connections)


def decode_secret(secret_key: str) -> bytes:
    secret = b64decode_any(secret_key)
    if secret is None or len(secret) != 32:
        raise ValueError("client secret must be the base64 text of 32 bytes")
    return secret


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    content: bytes
    headers: dict[str, str]
    nonce: bytes
    binary: bool


class EnvelopeCodec:
    """Builds encrypted requests and reads responses for one API key."""

    def __init__(
        self,
        api_key: str,
        secret: bytes,
        *,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._random_bytes = random_bytes
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "X-UID2-Client-Version": CLIENT_VERSION,
            "User-Agent": CLIENT_VERSION,
        }

    def prepare(self, payload: Mapping[str, Any] | None, *, binary: bool) -> PreparedRequest:
        nonce = self._random_bytes(8)
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else None
        envelope = seal_request(
            self._secret,
            body,
            now_ms=int(self._clock() * 1000),
            nonce=nonce,
            iv=self._random_bytes(12),
        )
        content_type = "application/octet-stream" if binary else "text/plain"
        content = envelope if binary else base64.b64encode(envelope)
        return PreparedRequest(
            content, {**self._headers, "Content-Type": content_type}, nonce, binary
        )

    def plain_headers(self, content_type: str) -> dict[str, str]:
        return {**self._headers, "Content-Type": content_type}

    def read(self, response: httpx.Response, prepared: PreparedRequest) -> bytes:
        raise_for_operator_status(response)
        try:
            return open_response(
                self._secret, response.content, nonce=prepared.nonce, binary=prepared.binary
            )
        except EnvelopeError as exc:
            raise ResponseError(f"operator response could not be decrypted: {exc}") from exc


def raise_for_operator_status(response: httpx.Response) -> None:
    if response.status_code == 200:
        return
    status: str | None = None
    message: str | None = None
    try:
        document = response.json()
        if isinstance(document, dict):
            status = document.get("status") if isinstance(document.get("status"), str) else None
            message = document.get("message") if isinstance(document.get("message"), str) else None
    except ValueError:
        pass
    raise OperatorError(response.status_code, status, message)


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


@contextmanager
def map_httpx_errors(path: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Uid2TimeoutError(f"operator did not answer {path} in time") from exc
    except httpx.HTTPError as exc:
        raise TransportError(f"operator unreachable for {path}: {type(exc).__name__}") from exc


def _should_retry(response: httpx.Response | None, attempt: int, policy: RetryPolicy) -> bool:
    if attempt >= len(policy.retry_intervals):
        return False
    return response is None or response.status_code in _RETRY_STATUSES


class OperatorSession:
    """A pooled, retrying connection to one operator for one API key (sync)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret_key: str,
        *,
        settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.codec = EnvelopeCodec(api_key, decode_secret(secret_key))
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=self.settings.httpx_timeout(),
            limits=self.settings.httpx_limits(),
            transport=transport,
        )

    def post_envelope(
        self, path: str, payload: Mapping[str, Any] | None, *, binary: bool = False
    ) -> bytes:
        """POST an encrypted request and return the decrypted response JSON."""
        attempt = 0
        while True:
            prepared = self.codec.prepare(payload, binary=binary)  # fresh timestamp per try
            response = self._post_once(path, prepared.content, prepared.headers, attempt)
            if response is not None and not _should_retry(response, attempt, self.settings.retry):
                return self.codec.read(response, prepared)
            self._wait(path, response, attempt)
            attempt += 1

    def post_plain(self, path: str, body: bytes, content_type: str) -> httpx.Response:
        """POST an unenveloped body (``/v2/token/refresh``); returns the raw response."""
        attempt = 0
        while True:
            headers = self.codec.plain_headers(content_type)
            response = self._post_once(path, body, headers, attempt)
            if response is not None and not _should_retry(response, attempt, self.settings.retry):
                return response
            self._wait(path, response, attempt)
            attempt += 1

    def _post_once(
        self, path: str, content: bytes, headers: dict[str, str], attempt: int
    ) -> httpx.Response | None:
        try:
            with map_httpx_errors(path):
                return self._client.post(path, content=content, headers=headers)
        except TransportError:
            if not _should_retry(None, attempt, self.settings.retry):
                raise
            return None

    def _wait(self, path: str, response: httpx.Response | None, attempt: int) -> None:
        wait = self.settings.retry.wait_before(attempt, _retry_after(response), random.random())
        logger.info("retrying %s in %.2fs (attempt %d)", path, wait, attempt + 1)
        self._sleep(wait)

    def close(self) -> None:
        self._client.close()


class AsyncOperatorSession:
    """The asyncio twin of :class:`OperatorSession`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret_key: str,
        *,
        settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.codec = EnvelopeCodec(api_key, decode_secret(secret_key))
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=self.settings.httpx_timeout(),
            limits=self.settings.httpx_limits(),
            transport=transport,
        )

    async def post_envelope(
        self, path: str, payload: Mapping[str, Any] | None, *, binary: bool = False
    ) -> bytes:
        attempt = 0
        while True:
            prepared = self.codec.prepare(payload, binary=binary)
            response = await self._post_once(path, prepared.content, prepared.headers, attempt)
            if response is not None and not _should_retry(response, attempt, self.settings.retry):
                return self.codec.read(response, prepared)
            await self._wait(path, response, attempt)
            attempt += 1

    async def post_plain(self, path: str, body: bytes, content_type: str) -> httpx.Response:
        attempt = 0
        while True:
            headers = self.codec.plain_headers(content_type)
            response = await self._post_once(path, body, headers, attempt)
            if response is not None and not _should_retry(response, attempt, self.settings.retry):
                return response
            await self._wait(path, response, attempt)
            attempt += 1

    async def _post_once(
        self, path: str, content: bytes, headers: dict[str, str], attempt: int
    ) -> httpx.Response | None:
        try:
            with map_httpx_errors(path):
                return await self._client.post(path, content=content, headers=headers)
        except TransportError:
            if not _should_retry(None, attempt, self.settings.retry):
                raise
            return None

    async def _wait(self, path: str, response: httpx.Response | None, attempt: int) -> None:
        wait = self.settings.retry.wait_before(attempt, _retry_after(response), random.random())
        logger.info("retrying %s in %.2fs (attempt %d)", path, wait, attempt + 1)
        await asyncio.sleep(wait)

    async def aclose(self) -> None:
        await self._client.aclose()

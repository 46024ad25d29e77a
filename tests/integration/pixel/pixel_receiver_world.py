"""An in-process pixel receiver for integration tests.

The receiver is ``uid2.pixel.app.create_app`` over a real SQLite (or PostgreSQL) event store,
driven through Starlette's TestClient (so the lifespan starts the writer). Its SharingClient
talks to ``KeyServer``, a stand-in for the operator's ``/v2/key/sharing`` behind
``httpx.MockTransport`` that speaks the real envelope: a test changes what the receiver is
allowed to read by changing the keys it serves, as a sharing grant or revoke does. The sender
is a SharingClient fed with its own keys through ``refresh_json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from prometheus_client.parser import text_string_to_metric_families

from uid2 import SharingClient
from uid2.core.encoding import b64encode
from uid2.core.envelope import EnvelopeRejection, open_request, seal_response
from uid2.pixel.app import GIF, PixelApp, create_app
from uid2.pixel.settings import PixelSettings
from uid2.sdk.http import HttpSettings, RetryPolicy

with warnings.catch_warnings():  # starlette asks for httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

OPERATOR_URL = "https://operator.test"
RECEIVER_API_KEY = "UID2-C-L-202-pixelrx.0123456789012345678901234567890123456789"
RECEIVER_SECRET = base64.b64encode(bytes(range(32))).decode()
SENDER_SITE = 101  # the advertiser that fires the pixels
RECEIVER_SITE = 202  # the DSP that runs the receiver
OTHER_SITE = 303  # a sender that granted nobody
MASTER_KEYSET, SENDER_KEYSET, RECEIVER_KEYSET, OTHER_KEYSET = 1, 10, 20, 30
NO_WAIT = HttpSettings(retry=RetryPolicy(retry_intervals=(), jitter=0.0))

RAW_UID = "Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk="
OTHER_RAW_UID = b64encode(hashlib.sha256(b"another person").digest())
# A raw UID2 whose base64 holds '+' (a space once a query string is decoded) and '/'.
PLUS_RAW_UID = b64encode(b"\xfb\xef\xbe\xff" * 8)
GIF_LENGTH = 43
LONG_AGO_S = 1_600_000_000  # 2020-09
FAR_FUTURE_S = 4_000_000_000  # 2096


@dataclass(frozen=True)
class FakeKey:
    key_id: int
    keyset_id: int

    @property
    def secret(self) -> bytes:
        return hashlib.sha256(f"pixel-test-key-{self.key_id}".encode()).digest()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "created": LONG_AGO_S,
            "activates": LONG_AGO_S,
            "expires": FAR_FUTURE_S,
            "secret": b64encode(self.secret),
            "keyset_id": self.keyset_id,
        }


MASTER_KEY = FakeKey(1, MASTER_KEYSET)
SENDER_KEY = FakeKey(2, SENDER_KEYSET)
RECEIVER_KEY = FakeKey(3, RECEIVER_KEYSET)
OTHER_KEY = FakeKey(4, OTHER_KEYSET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sharing_body(caller_site: int, default_keyset: int, keys: list[FakeKey]) -> dict[str, Any]:
    """A decrypted ``/v2/key/sharing`` body, as the operator answers it."""
    return {
        "caller_site_id": caller_site,
        "master_keyset_id": MASTER_KEYSET,
        "default_keyset_id": default_keyset,
        "token_expiry_seconds": "2592000",
        "identity_scope": "UID2",
        "allow_clock_skew_seconds": 1800,
        "max_sharing_lifetime_seconds": 2592010,
        "keys": [k.as_json() for k in keys],
    }


def receiver_body(*, granted: bool) -> dict[str, Any]:
    """What the DSP may read: its own keyset, and the advertiser's once it was granted."""
    keys = [MASTER_KEY, RECEIVER_KEY] + ([SENDER_KEY] if granted else [])
    return sharing_body(RECEIVER_SITE, RECEIVER_KEYSET, keys)


def sender_client(site: int = SENDER_SITE, key: FakeKey = SENDER_KEY) -> SharingClient:
    """A sender's SharingClient, with its keys loaded by ``refresh_json`` (no network)."""
    client = SharingClient(OPERATOR_URL, "UID2-C-L-1-sender.x", RECEIVER_SECRET)
    answer = client.refresh_json(
        json.dumps({"body": sharing_body(site, key.keyset_id, [MASTER_KEY, key])})
    )
    assert answer.success, answer.reason
    return client


def encrypt(uid: str, sender: SharingClient | None = None, now: datetime | None = None) -> str:
    client = sender or sender_client()
    result = client._encrypt_raw_uid_into_token(uid, now=now)
    assert result.success, result.status
    token = result.encrypted_data
    assert token is not None
    return token


@dataclass
class KeyServer:
    """``/v2/key/sharing`` behind ``httpx.MockTransport``, with the real envelope."""

    body: dict[str, Any] = field(default_factory=lambda: receiver_body(granted=True))
    delay_s: float = 0.0  # a slow operator
    down: bool = False  # an operator that cannot be reached
    calls: int = 0
    delayed: threading.Event = field(default_factory=threading.Event)  # a slow call began
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls += 1
        if self.delay_s:
            self.delayed.set()
            time.sleep(self.delay_s)
        if self.down:
            raise httpx.ConnectError("operator down", request=request)
        if request.url.path != "/v2/key/sharing":
            return httpx.Response(404)
        if request.headers.get("Authorization") != f"Bearer {RECEIVER_API_KEY}":
            return httpx.Response(401, json={"status": "unauthorized"})
        secret = base64.b64decode(RECEIVER_SECRET)
        binary = request.headers.get("Content-Type", "") == "application/octet-stream"
        now = time.time_ns() // 1_000_000
        opened = open_request(secret, request.content, binary=binary, now_ms=now)
        assert not isinstance(opened, EnvelopeRejection), opened
        document = json.dumps({"status": "success", "body": self.body}).encode()
        sealed = seal_response(
            secret, document, now_ms=now, nonce=opened.nonce, iv=os.urandom(12), binary=binary
        )
        return httpx.Response(200, content=sealed)

    def receiver_client(self, on_demand_interval: float = 0.0) -> SharingClient:
        return SharingClient(
            OPERATOR_URL,
            RECEIVER_API_KEY,
            RECEIVER_SECRET,
            transport=httpx.MockTransport(self.handle),
            http_settings=NO_WAIT,
            on_demand_interval=on_demand_interval,
        )


class OptOutLookup:
    """A fake ``/v2/optout/status``: which raw UID2s opted out, and what was asked."""

    def __init__(self) -> None:
        self.opted_out: dict[str, int] = {}
        self.asked: list[list[str]] = []

    def __call__(self, uids: list[str]) -> dict[str, int]:
        self.asked.append(list(uids))
        return {u: t for u, t in self.opted_out.items() if u in uids}


def settings_for(database_url: str, **overrides: Any) -> PixelSettings:
    values: dict[str, Any] = {
        "operator_url": OPERATOR_URL,
        "api_key": RECEIVER_API_KEY,
        "secret": RECEIVER_SECRET,
        "database_url": database_url,
        "optout_sweep_seconds": 0.0,  # the tests sweep by hand
        "optout_full_sweep_seconds": 0.0,
    }
    values.update(overrides)
    return PixelSettings(**values)


def build_receiver(
    database_url: str,
    keys: KeyServer,
    lookup: OptOutLookup | None = None,
    clock_ms: Callable[[], int] | None = None,
    **settings: Any,
) -> PixelApp:
    extra: dict[str, Any] = {} if clock_ms is None else {"clock_ms": clock_ms}
    return create_app(
        settings_for(database_url, **settings),
        client=keys.receiver_client(),
        optout_lookup=lookup or OptOutLookup(),
        **extra,
    )


@contextmanager
def running(app: PixelApp) -> Iterator[TestClient]:
    """The app with its lifespan started (writer, key refresh) until the block ends."""
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def pixel_url(kind: str = "tracking", **params: str) -> str:
    return f"/px/{kind}?{urlencode(params)}" if params else f"/px/{kind}"


def assert_gif(answer: httpx.Response) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/gif"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.content == GIF
    assert len(answer.content) == GIF_LENGTH


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The value of one sample on ``/metrics`` (0 when it is not there yet)."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0

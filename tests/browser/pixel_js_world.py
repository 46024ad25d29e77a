"""A world for the uid2-pixel.js browser tests: a real control plane and operator in-process,
a publisher site served on http://localhost (the page, uid2-pixel.js) and a stub pixel
receiver that records the URLs it gets.

The operator runs on 127.0.0.1 and the page on ``localhost``: the page's Origin must reduce to
the publisher's registered domain ``localhost`` for client-side token generation (operator.md
§7.3), and the operator's CORS middleware answers any Origin. The receiver is reached as
127.0.0.1, so it is a third party to the page, as a real pixel receiver would be.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from uid2 import BidstreamClient, IdentityMapV3Client, IdentityMapV3Input
from uid2.admin import (
    Context,
    CreateApiKey,
    CreateCstgKeypair,
    CreateParticipant,
    InitializeStore,
    ParticipantType,
    Role,
    create_api_key,
    create_cstg_keypair,
    create_participant,
    initialize_store,
    system_entropy,
)
from uid2.operator.app import create_app
from uid2.operator.settings import Settings
from uid2.operator.store_source import StoreSnapshotSource
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import generate_kek

PIXEL_JS = (
    Path(__file__).resolve().parents[2] / "src" / "uid2" / "pixel" / "static" / "uid2-pixel.js"
)
# 1x1 transparent GIF
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="/uid2-pixel.js"></script></head>
<body><h1>Thank you for your order</h1></body></html>
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Starlette) -> Iterator[int]:
    """Run ``app`` on uvicorn (127.0.0.1) in a thread; yields its port."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Receiver:
    """The stub pixel endpoint's log: every URL it was asked for, in order."""

    urls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, url: str) -> None:
        with self.lock:
            self.urls.append(url)

    def for_event(self, event: str) -> list[str]:
        with self.lock:
            return [u for u in self.urls if f"ev={event}" in u]

    def wait_for(self, event: str, count: int = 1, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.for_event(event)
            if len(hits) >= count:
                return hits
            time.sleep(0.02)
        raise AssertionError(f"the receiver got {self.for_event(event)} for {event!r}")


@dataclass(frozen=True)
class PixelWorld:
    operator_url: str
    site_url: str  # http://localhost:<port>, the publisher's page
    pixel_url: str  # http://127.0.0.1:<port>/pixel, the stub receiver
    site_id: int
    subscription_id: str
    server_public_key: str
    bidstream: BidstreamClient
    mapper: IdentityMapV3Client
    receiver: Receiver

    def sdk_config(self, **overrides: object) -> dict[str, object]:
        config: dict[str, object] = {
            "operatorUrl": self.operator_url,
            "subscriptionId": self.subscription_id,
            "serverPublicKey": self.server_public_key,
            "pixelUrl": self.pixel_url,
        }
        config.update(overrides)
        return config

    def raw_uid_of_token(self, token: str) -> str:
        decrypted = self.bidstream.decrypt_token_into_raw_uid(token, "localhost")
        assert decrypted.success, decrypted.status
        assert decrypted.site_id == self.site_id
        assert decrypted.uid is not None
        return decrypted.uid

    def raw_uid_of_email(self, email: str) -> str:
        response = self.mapper.generate_identity_map(IdentityMapV3Input.from_emails([email]))
        return response.mapped_identities[email].current_raw_uid

    def raw_uid_of_phone(self, phone: str) -> str:
        response = self.mapper.generate_identity_map(IdentityMapV3Input.from_phones([phone]))
        return response.mapped_identities[phone].current_raw_uid


def _ctx() -> Context:
    return Context(now_ms=time.time_ns() // 1_000_000, actor="test", entropy=system_entropy())


def _site_app(receiver: Receiver) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def script(request: Request) -> Response:
        return FileResponse(PIXEL_JS, media_type="text/javascript")

    async def pixel(request: Request) -> Response:
        receiver.record(str(request.url))
        return Response(GIF, media_type="image/gif", headers={"cache-control": "no-store"})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/uid2-pixel.js", script),
            Route("/pixel", pixel),
        ]
    )


@contextmanager
def pixel_world(home: Path) -> Iterator[PixelWorld]:
    """The control plane in ``home`` (SQLite), its operator, the site and the receiver."""
    engine = make_engine(sqlite_url(home / "uid2.db"))
    upgrade_schema(engine)
    box = SecretBox(generate_kek())

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine, box)

    initialize_store(InitializeStore(bucket_count=8), uow(), _ctx())
    publisher = create_participant(
        CreateParticipant("Shoe Shop", frozenset({ParticipantType.ADVERTISER}), ("localhost",)),
        uow(),
        _ctx(),
    )
    keypair = create_cstg_keypair(CreateCstgKeypair(publisher.site_id), uow(), _ctx())
    dsp = create_participant(
        CreateParticipant("Pixel Receiver", frozenset({ParticipantType.DSP})), uow(), _ctx()
    )
    reader = create_api_key(CreateApiKey(dsp.site_id, frozenset({Role.ID_READER})), uow(), _ctx())
    mapper = create_api_key(
        CreateApiKey(publisher.site_id, frozenset({Role.MAPPER})), uow(), _ctx()
    )
    app = create_app(Settings(poll_interval_seconds=0.2), StoreSnapshotSource(engine, box))
    receiver = Receiver()
    try:
        with ExitStack() as stack:
            operator_port = stack.enter_context(serve(app))
            site_port = stack.enter_context(serve(_site_app(receiver)))
            operator_url = f"http://127.0.0.1:{operator_port}"
            bidstream = BidstreamClient(operator_url, reader.key, reader.secret)
            stack.callback(bidstream.close)
            assert bidstream.refresh().success
            identity_map = IdentityMapV3Client(operator_url, mapper.key, mapper.secret)
            stack.callback(identity_map.close)
            yield PixelWorld(
                operator_url=operator_url,
                site_url=f"http://localhost:{site_port}",
                pixel_url=f"http://127.0.0.1:{site_port}/pixel",
                site_id=publisher.site_id,
                subscription_id=keypair.subscription_id,
                server_public_key=keypair.public_key,
                bidstream=bidstream,
                mapper=identity_map,
                receiver=receiver,
            )
    finally:
        engine.dispose()

"""Our SDK (uid2.sdk) against the operator in-process: publisher, DSP, sharer, advertiser flows."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from operator_world import PUBLISHER, TestClient, World, build_app, make_world

from uid2 import (
    BidstreamClient,
    HttpSettings,
    IdentityMapClient,
    IdentityMapInput,
    IdentityMapV3Client,
    IdentityMapV3Input,
    RetryPolicy,
    SharingClient,
    TokenGenerateInput,
    Uid2PublisherClient,
)
from uid2.core.enums import DecryptionStatus
from uid2.operator.app import wall_clock_ms
from uid2.sdk.async_clients import AsyncBidstreamClient, AsyncUid2PublisherClient
from uid2.sdk.errors import OperatorError

BASE = "http://operator.test"
NO_RETRY = HttpSettings(retry=RetryPolicy(retry_intervals=(), jitter=0.0))


@pytest.fixture(scope="module")
def live_world() -> World:
    return make_world(int(time.time()))


@pytest.fixture
def transport(live_world: World) -> Iterator[httpx.BaseTransport]:
    app, _ = build_app(live_world, clock_ms=wall_clock_ms)
    with TestClient(app, base_url=BASE) as client:
        yield client._transport  # type: ignore[attr-defined]


def _args(world: World, name: str, transport: httpx.BaseTransport) -> dict[str, object]:
    return {
        "base_url": BASE,
        "auth_key": world.keys[name],
        "secret_key": base64.b64encode(world.secrets[name]).decode(),
        "transport": transport,
        "http_settings": NO_RETRY,
    }


def _map_args(
    world: World, name: str, transport: httpx.BaseTransport
) -> tuple[tuple[str, str, str], dict[str, object]]:
    creds = (BASE, world.keys[name], base64.b64encode(world.secrets[name]).decode())
    return creds, {"transport": transport, "http_settings": NO_RETRY}


def test_publisher_generate_refresh_and_dsp_decrypt(
    live_world: World, transport: httpx.BaseTransport
) -> None:
    publisher = Uid2PublisherClient(**_args(live_world, "generator", transport))  # type: ignore[arg-type]
    generated = publisher.generate_token(
        TokenGenerateInput.from_email("hopefully-not-opted-out@example.com")
    )
    assert generated.is_success()
    identity = generated.get_identity()
    assert identity is not None
    refreshed = publisher.refresh_token(identity)
    assert refreshed.is_success() and refreshed.get_identity() is not None
    assert refreshed.get_identity().get_advertising_token() != identity.get_advertising_token()  # type: ignore[union-attr]
    dsp = BidstreamClient(**_args(live_world, "dsp", transport))  # type: ignore[arg-type]
    assert dsp.refresh().success
    decrypted = dsp.decrypt_token_into_raw_uid(identity.get_advertising_token(), "example.com")  # type: ignore[arg-type]
    assert decrypted.success and decrypted.site_id == PUBLISHER
    assert not dsp.decrypt_token_into_raw_uid("A4AAAAbad", "example.com").success


def test_publisher_test_identities(live_world: World, transport: httpx.BaseTransport) -> None:
    publisher = Uid2PublisherClient(**_args(live_world, "generator", transport))  # type: ignore[arg-type]
    assert publisher.generate_token(TokenGenerateInput.from_email("optout@example.com")).is_optout()
    assert publisher.generate_token(TokenGenerateInput.from_phone("+00000000000")).is_optout()
    for make in (
        TokenGenerateInput.from_email("refresh-optout@example.com"),
        TokenGenerateInput.from_phone("+00000000002"),
    ):
        identity = publisher.generate_token(make).get_identity()
        assert identity is not None and publisher.refresh_token(identity).is_optout()
    identity = publisher.generate_token(
        TokenGenerateInput.from_email("validate@example.com")
    ).get_identity()
    assert identity is not None and publisher.refresh_token(identity).is_success()


def test_bad_credentials_are_refused(live_world: World, transport: httpx.BaseTransport) -> None:
    args = _args(live_world, "generator", transport) | {
        "secret_key": base64.b64encode(bytes(32)).decode()
    }
    with pytest.raises(OperatorError):
        Uid2PublisherClient(**args).generate_token(TokenGenerateInput.from_email("a@example.com"))  # type: ignore[arg-type]
    args = _args(live_world, "generator", transport) | {"auth_key": "UID2-C-L-101-nope"}
    with pytest.raises(OperatorError):
        Uid2PublisherClient(**args).generate_token(TokenGenerateInput.from_email("a@example.com"))  # type: ignore[arg-type]
    assert (
        not BidstreamClient(**(_args(live_world, "dsp", transport) | {"auth_key": "bad"}))
        .refresh()
        .success
    )  # type: ignore[arg-type]


def test_sharing_encrypt_and_decrypt(live_world: World, transport: httpx.BaseTransport) -> None:
    sharer = SharingClient(**_args(live_world, "sharer_reader", transport))  # type: ignore[arg-type]
    assert sharer.refresh().success
    raw = base64.b64encode(b"\x07" * 32).decode()
    token = sharer.encrypt_raw_uid_into_token(raw)
    assert token.success
    decrypted = sharer.decrypt_token_into_raw_uid(token.encrypted_data)  # type: ignore[arg-type]
    assert decrypted.success and decrypted.uid == raw
    # a pure sharer that was granted nothing of the sender's cannot read it
    other = SharingClient(**_args(live_world, "role_sharer", transport))  # type: ignore[arg-type]
    assert other.refresh().success
    status = other.decrypt_token_into_raw_uid(token.encrypted_data).status  # type: ignore[arg-type]
    assert status is DecryptionStatus.NOT_AUTHORIZED_FOR_KEY


def test_identity_map_v2_v3_and_buckets(live_world: World, transport: httpx.BaseTransport) -> None:
    creds, kw = _map_args(live_world, "mapper", transport)
    v2 = IdentityMapClient(*creds, **kw)  # type: ignore[arg-type]
    emails = [
        "JANE.SAOIRSE@gmail.com",
        "Jane.Saoirse@gmail.com",
        "JaneSaoirse+UID2@gmail.com",
        "optout@example.com",
    ]
    response = v2.generate_identity_map(IdentityMapInput.from_emails(emails))
    uids = {m.get_raw_uid() for m in response.mapped_identities.values()}
    assert len(response.mapped_identities) == 3 and len(uids) == 1
    assert response.unmapped_identities["optout@example.com"].get_reason() == "optout"
    since = datetime.now(UTC) - timedelta(days=90)
    assert v2.get_identity_buckets(since).buckets
    assert v2.get_identity_buckets(datetime.now(UTC) + timedelta(days=1)).buckets == []
    v3 = IdentityMapV3Client(*creds, **kw)  # type: ignore[arg-type]
    request = IdentityMapV3Input.from_emails(["a@example.com", "optout@example.com"]).with_phones(
        ["+12345678901"]
    )
    mapped = v3.generate_identity_map(request)
    assert set(mapped.mapped_identities) == {"a@example.com", "+12345678901"}
    assert set(mapped.unmapped_identities) == {"optout@example.com"}


def test_async_clients_over_asgi(live_world: World) -> None:
    app, _ = build_app(live_world, clock_ms=wall_clock_ms)
    transport = httpx.ASGITransport(app=app)

    async def flow() -> None:
        creds, kw = _map_args(live_world, "generator", transport)  # type: ignore[arg-type]
        publisher = AsyncUid2PublisherClient(*creds, **kw)  # type: ignore[arg-type]
        identity = (
            await publisher.generate_token(TokenGenerateInput.from_email("async@example.com"))
        ).get_identity()
        assert identity is not None
        assert (await publisher.refresh_token(identity)).is_success()
        creds, kw = _map_args(live_world, "dsp", transport)  # type: ignore[arg-type]
        dsp = AsyncBidstreamClient(*creds, **kw)  # type: ignore[arg-type]
        assert (await dsp.refresh()).success
        assert dsp.decrypt_token_into_raw_uid(
            identity.get_advertising_token(), "example.com"
        ).success  # type: ignore[arg-type]

    asyncio.run(flow())

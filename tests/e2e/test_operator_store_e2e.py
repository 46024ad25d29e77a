"""The operator over a real control-plane database (SQLite file), served by uvicorn.

Admin use cases write the store; the operator polls it. Checks the whole loop: a participant
and API key made by the admin work at once after a poll, logout writes an opt-out row that the
next poll turns into ``optout``, sharing by participant type reaches the key endpoints.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from operator_server import serve
from sqlalchemy import Engine

from uid2 import (
    BidstreamClient,
    IdentityMapV3Client,
    IdentityMapV3Input,
    SharingClient,
    TokenGenerateInput,
    Uid2PublisherClient,
)
from uid2.admin import (
    ChangeSharing,
    Context,
    CreateApiKey,
    CreateParticipant,
    InitializeStore,
    ParticipantType,
    Role,
    change_sharing,
    create_api_key,
    create_participant,
    initialize_store,
    system_entropy,
)
from uid2.operator.app import create_app
from uid2.operator.settings import Settings
from uid2.operator.snapshot import SnapshotError
from uid2.operator.store_source import StoreOptOutSink, StoreSnapshotSource
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import generate_kek

T = TypeVar("T")


@dataclass
class Store:
    engine: Engine
    box: SecretBox

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box)


def ctx() -> Context:
    return Context(now_ms=time.time_ns() // 1_000_000, actor="test", entropy=system_entropy())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(sqlite_url(tmp_path / "uid2.db"))
    upgrade_schema(engine)
    yield Store(engine, SecretBox(generate_kek()))
    engine.dispose()


def _key(store: Store, name: str, kind: ParticipantType, roles: set[Role]) -> tuple[int, str, str]:
    site = create_participant(
        CreateParticipant(name, frozenset({kind}), ("example.com",)), store.uow(), ctx()
    )
    created = create_api_key(CreateApiKey(site.site_id, frozenset(roles)), store.uow(), ctx())
    return site.site_id, created.key, created.secret


def test_an_uninitialised_store_refuses_to_start(store: Store) -> None:
    with pytest.raises(SnapshotError, match="uid2 init"):
        create_app(Settings(), StoreSnapshotSource(store.engine, store.box))


def test_the_operator_serves_what_the_admin_writes(store: Store) -> None:
    initialize_store(InitializeStore(bucket_count=64), store.uow(), ctx())
    roles = {Role.GENERATOR, Role.OPTOUT}
    publisher_site, pub_key, pub_secret = _key(store, "Publisher", ParticipantType.PUBLISHER, roles)
    source = StoreSnapshotSource(store.engine, store.box)
    sink = StoreOptOutSink(store.engine, store.box)
    app = create_app(Settings(poll_interval_seconds=0.05), source, optout_sink=sink)
    with serve(app) as url, ExitStack() as clients:

        def client(kind: Callable[..., T], *args: str) -> T:
            made = kind(url, *args)
            clients.callback(made.close)  # type: ignore[attr-defined]
            return made

        publisher = client(Uid2PublisherClient, pub_key, pub_secret)
        identity = publisher.generate_token(TokenGenerateInput.from_email("store@example.com"))
        tokens = identity.get_identity()
        assert tokens is not None
        # a DSP created after start works once the operator has polled
        _, dsp_key, dsp_secret = _key(store, "Bidder", ParticipantType.DSP, {Role.ID_READER})
        dsp = client(BidstreamClient, dsp_key, dsp_secret)
        _wait_for(lambda: dsp.refresh().success)
        token = tokens.get_advertising_token()
        decrypted = dsp.decrypt_token_into_raw_uid(token, "example.com")  # type: ignore[arg-type]
        assert decrypted.success and decrypted.site_id == publisher_site
        # logout writes an opt-out; after the next poll, the user is opted out everywhere
        _logout(url, pub_key, pub_secret, "store@example.com")
        _wait_for(lambda: publisher.refresh_token(tokens).is_optout())
        again = publisher.generate_token(TokenGenerateInput.from_email("store@example.com"))
        assert again.is_optout()
        # type grants: a data provider shares with DSPs by type; the DSP can read its tokens
        kind = ParticipantType.DATA_PROVIDER
        provider_site, sharer_key, sharer_secret = _key(store, "Provider", kind, {Role.SHARER})
        grant = ChangeSharing(provider_site, True, to_type=ParticipantType.DSP)
        change_sharing(grant, store.uow(), ctx())
        sharer = client(SharingClient, sharer_key, sharer_secret)
        _wait_for(
            lambda: sharer.refresh().success and sharer.encrypt_raw_uid_into_token(_RAW).success
        )
        shared = sharer.encrypt_raw_uid_into_token(_RAW).encrypted_data
        reader = client(SharingClient, dsp_key, dsp_secret)
        _wait_for(
            lambda: reader.refresh().success and reader.decrypt_token_into_raw_uid(shared).success
        )  # type: ignore[arg-type]
        # identity map v3 with an advertiser key
        _, adv_key, adv_secret = _key(
            store, "Advertiser", ParticipantType.ADVERTISER, {Role.MAPPER}
        )
        mapper = client(IdentityMapV3Client, adv_key, adv_secret)
        _wait_for(lambda: _maps(mapper))


_RAW = base64.b64encode(b"\x09" * 32).decode()


def _maps(client: IdentityMapV3Client) -> bool:
    try:
        response = client.generate_identity_map(
            IdentityMapV3Input.from_emails(["a@example.com", "store@example.com"])
        )
    except Exception:
        return False
    return set(response.mapped_identities) == {"a@example.com"} and set(
        response.unmapped_identities
    ) == {"store@example.com"}


def _logout(url: str, key: str, secret: str, email: str) -> None:
    import os

    import httpx

    from uid2.core.envelope import open_response, seal_request

    nonce = os.urandom(8)
    body = seal_request(
        base64.b64decode(secret),
        b'{"email":"' + email.encode() + b'"}',
        now_ms=time.time_ns() // 1_000_000,
        nonce=nonce,
        iv=os.urandom(12),
    )
    response = httpx.post(
        url + "/v2/token/logout",
        content=base64.b64encode(body),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    assert b'"optout":"OK"' in open_response(
        base64.b64decode(secret), response.text, nonce=nonce, binary=False
    )


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError("condition not met in time")

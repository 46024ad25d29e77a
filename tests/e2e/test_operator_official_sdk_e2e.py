"""The official SDK (uid2-client 2.9.0, urllib) against our operator on a real uvicorn server."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.error import HTTPError

import pytest
import uid2_client as official
from operator_server import serve
from operator_world import PUBLISHER, RecordingSink, World, build_app, make_world

from uid2.operator.app import wall_clock_ms

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TCF_OK = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"
TCF_INSUFFICIENT = "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA"


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(int(time.time()))


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    app, _ = build_app(world, clock_ms=wall_clock_ms, optout_sink=RecordingSink())
    with serve(app) as url:
        yield url


def creds(world: World, name: str) -> tuple[str, str]:
    return world.keys[name], base64.b64encode(world.secrets[name]).decode()


def publisher(base_url: str, world: World, name: str = "generator") -> official.Uid2PublisherClient:
    return official.Uid2PublisherClient(base_url, *creds(world, name))


def test_generate_refresh_and_decrypt_with_a_domain(base_url: str, world: World) -> None:
    client = publisher(base_url, world)
    for make in (
        official.TokenGenerateInput.from_email("hopefully-not-opted-out@example.com"),
        official.TokenGenerateInput.from_phone("+12345678901"),
    ):
        response = client.generate_token(make)
        assert response.is_success()
        identity = response.get_identity()
        refreshed = client.refresh_token(identity)
        assert (
            refreshed.is_success()
            and refreshed.get_identity().get_refresh_token() != identity.get_refresh_token()
        )
        bidstream = official.BidstreamClient(base_url, *creds(world, "dsp"))
        assert bidstream.refresh().success
        decrypted = bidstream.decrypt_token_into_raw_uid(
            identity.get_advertising_token(), "example.com"
        )
        assert decrypted.success and decrypted.site_id == PUBLISHER
        assert len(base64.b64decode(decrypted.uid)) == 32


def test_test_identities(base_url: str, world: World) -> None:
    client = publisher(base_url, world)
    assert client.generate_token(
        official.TokenGenerateInput.from_email("optout@example.com")
    ).is_optout()
    assert client.generate_token(official.TokenGenerateInput.from_phone("+00000000000")).is_optout()
    for make in (
        official.TokenGenerateInput.from_email("refresh-optout@example.com"),
        official.TokenGenerateInput.from_phone("+00000000002"),
    ):
        identity = client.generate_token(make).get_identity()
        assert client.refresh_token(identity).is_optout()
    identity = client.generate_token(
        official.TokenGenerateInput.from_email("validate@example.com")
    ).get_identity()
    assert client.refresh_token(identity).is_success()


def test_bad_key_or_secret(base_url: str, world: World) -> None:
    key, secret = creds(world, "generator")
    with pytest.raises(HTTPError):
        official.Uid2PublisherClient(
            base_url, key, base64.b64encode(bytes(32)).decode()
        ).generate_token(official.TokenGenerateInput.from_email("a@example.com"))
    with pytest.raises(HTTPError):
        official.Uid2PublisherClient(base_url, "UID2-C-L-101-nope", secret).generate_token(
            official.TokenGenerateInput.from_email("a@example.com")
        )
    assert not official.BidstreamClient(base_url, "bad", secret).refresh().success
    assert (
        not official.SharingClient(base_url, *creds(world, "generator")).refresh().success
    )  # wrong role


def test_sharing_encrypt_decrypt(base_url: str, world: World) -> None:
    sharer = official.SharingClient(base_url, *creds(world, "sharer_reader"))
    assert sharer.refresh().success
    raw = base64.b64encode(b"\x05" * 32).decode()
    encrypted = sharer.encrypt_raw_uid_into_token(raw)
    assert encrypted.success
    decrypted = sharer.decrypt_token_into_raw_uid(encrypted.encrypted_data)
    assert decrypted.success and decrypted.uid == raw
    legacy = official.Uid2Client(base_url, *creds(world, "sharer_reader"))
    legacy.refresh_keys()
    assert legacy.decrypt(encrypted.encrypted_data).uid == raw


def test_identity_map_v2_and_buckets(base_url: str, world: World) -> None:
    client = official.IdentityMapClient(base_url, *creds(world, "mapper"))
    emails = [
        "JANE.SAOIRSE@gmail.com",
        "Jane.Saoirse@gmail.com",
        "JaneSaoirse+UID2@gmail.com",
        "janesaoirse@gmail.com",
    ]
    response = client.generate_identity_map(
        official.IdentityMapInput.from_emails([*emails, "optout@example.com"])
    )
    assert response.is_success()
    assert len({m.get_raw_uid() for m in response.mapped_identities.values()}) == 1
    assert response.unmapped_identities["optout@example.com"].get_reason() == "optout"
    hashed = client.generate_identity_map(official.IdentityMapInput.from_hashed_phones(["bogus"]))
    assert hashed.unmapped_identities["bogus"].get_reason() == "invalid identifier"
    assert client.get_identity_buckets(datetime.now() - timedelta(days=90)).buckets
    assert client.get_identity_buckets(datetime.now() + timedelta(days=1)).buckets == []


def test_identity_map_v3(base_url: str, world: World) -> None:
    client = official.IdentityMapV3Client(base_url, *creds(world, "mapper"))
    request = official.IdentityMapV3Input.from_emails(
        ["a@example.com", "optout@example.com"]
    ).with_phones(["+12345678901", "+00000000000"])
    response = client.generate_identity_map(request)
    assert response.is_success()
    assert set(response.mapped_identities) == {"a@example.com", "+12345678901"}
    assert set(response.unmapped_identities) == {"optout@example.com", "+00000000000"}
    mapped = response.mapped_identities["a@example.com"]
    assert mapped.refresh_from > datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(HTTPError):
        official.IdentityMapV3Client(base_url, *creds(world, "generator")).generate_identity_map(
            request
        )


def test_euid_tcf_with_the_official_sdk() -> None:
    from uid2.core.enums import IdentityScope

    euid = make_world(int(time.time()), IdentityScope.EUID)
    app, _ = build_app(euid, clock_ms=wall_clock_ms)
    with serve(app) as url:
        client = official.Uid2PublisherClient(url, *creds(euid, "generator"))
        ok = official.TokenGenerateInput.from_email(
            "e@example.com"
        ).with_transparency_and_consent_string(TCF_OK)
        assert client.generate_token(ok).is_success()
        insufficient = official.TokenGenerateInput.from_email(
            "e@example.com"
        ).with_transparency_and_consent_string(TCF_INSUFFICIENT)
        with pytest.raises(ValueError):
            client.generate_token(insufficient)
        assert client.generate_token(
            official.TokenGenerateInput.from_email("optout@example.com")
        ).is_optout()


def test_healthcheck_over_http(base_url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(base_url + "/ops/healthcheck") as response:
        assert response.status == 200 and response.read() == b"OK"

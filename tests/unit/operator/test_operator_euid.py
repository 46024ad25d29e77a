"""EUID scope: raw UID v3, E4/F4 tokens, the TCF consent check (operator.md §1.5, sdk.md §9.6)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from operator_world import Caller, TestClient, World, build_app, expected_raw_uid, make_world

from uid2.core.dii import hash_dii
from uid2.core.enums import IdentityScope
from uid2.core.tokens import TokenFields, decode_token_fields
from uid2.operator.tcf import TcfError, parse_tcf

CONSENT_OK = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"
CONSENT_INSUFFICIENT = "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA"


@pytest.fixture(scope="module")
def euid() -> World:
    return make_world(scope=IdentityScope.EUID)


@pytest.fixture
def euid_client(euid: World) -> Iterator[TestClient]:
    app, _ = build_app(euid)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("identity", "prefix", "phone"),
    [({"email": "e@example.com"}, "E4", False), ({"phone": "+12345678901"}, "F4", True)],
)
def test_euid_tokens_carry_raw_uid_v3(
    euid_client: TestClient, euid: World, identity: dict[str, str], prefix: str, phone: bool
) -> None:
    body = Caller(euid_client, euid, "generator").call("/v2/token/generate", identity)["body"]
    assert body["advertising_token"].startswith(prefix)
    fields = decode_token_fields(
        body["advertising_token"], euid_client.app.state.holder.current.keyring
    )  # type: ignore[attr-defined]
    assert isinstance(fields, TokenFields)
    value = next(iter(identity.values()))
    assert fields.raw_uid == expected_raw_uid(euid, hash_dii(value), phone=phone, v3=True)
    assert fields.raw_uid[0] == (0x14 if phone else 0x10)


def test_euid_map_v3_returns_33_byte_ids(euid_client: TestClient, euid: World) -> None:
    body = Caller(euid_client, euid, "mapper").call(
        "/v3/identity/map", {"email": ["e@example.com"]}
    )["body"]
    assert len(base64.b64decode(body["email"][0]["u"])) == 33


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tcf_consent_string": CONSENT_OK}, "success"),
        ({}, "success"),
        ({"tcf_consent_string": CONSENT_INSUFFICIENT}, "insufficient_user_consent"),
    ],
)
def test_euid_tcf_consent(
    euid_client: TestClient, euid: World, extra: dict[str, str], expected: str
) -> None:
    answer = Caller(euid_client, euid, "generator").call(
        "/v2/token/generate", {"email": "e@example.com", **extra}
    )
    assert answer["status"] == expected
    if expected != "success":
        assert answer == {"status": expected}


@pytest.mark.parametrize("bad", ["not a tcf string!", "", "AAAA", 12])
def test_euid_unreadable_tcf_is_400(euid_client: TestClient, euid: World, bad: object) -> None:
    response = Caller(euid_client, euid, "generator").post(
        "/v2/token/generate", {"email": "e@example.com", "tcf_consent_string": bad}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": "User consent is invalid"},
    )


def test_uid2_ignores_tcf(client: TestClient, world: World) -> None:
    payload = {"email": "e@example.com", "tcf_consent_string": "garbage"}
    assert (
        Caller(client, world, "generator").call("/v2/token/generate", payload)["status"]
        == "success"
    )


def test_tcf_parsing_details() -> None:
    consent = parse_tcf(CONSENT_OK)
    assert consent.allows(21) and not consent.allows(22)
    assert not parse_tcf(CONSENT_INSUFFICIENT).allows(21)
    with pytest.raises(TcfError):
        parse_tcf("B" + CONSENT_OK[1:])  # version 1
    with pytest.raises(TcfError):
        parse_tcf(CONSENT_OK[:20])  # truncated


def test_euid_key_endpoints_say_euid(euid_client: TestClient, euid: World) -> None:
    body = Caller(euid_client, euid, "dsp").call("/v2/key/bidstream")["body"]
    assert body["identity_scope"] == "EUID"
    assert build_app  # the same helpers build both scopes

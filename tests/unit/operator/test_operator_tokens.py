"""Token generate / validate / logout over HTTP (operator.md §1.5, §1.7, §1.9, §10.2)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from operator_world import (
    PUBLISHER,
    Caller,
    RecordingSink,
    TestClient,
    World,
    build_app,
    expected_flh,
    expected_raw_uid,
    with_plane,
)
from token_helpers import (
    EMAIL,
    EXACTLY_ONE,
    PHONE,
    decode,
    generate,
    inner_refresh,
)

from uid2.core.dii import hash_dii
from uid2.core.enums import IdentityType
from uid2.store.records import OptOut


@pytest.mark.parametrize(
    ("field", "value", "prefix", "phone"),
    [
        ("email", EMAIL, "A4", False),
        ("email_hash", base64.b64encode(hash_dii(EMAIL)).decode(), "A4", False),
        ("email_hash", hash_dii(EMAIL).hex().upper(), "A4", False),
        ("phone", PHONE, "B4", True),
        ("phone_hash", base64.b64encode(hash_dii(PHONE)).decode(), "B4", True),
    ],
)
@pytest.mark.parametrize("binary", [False, True])
def test_generate_returns_a_v4_token_for_the_callers_site(
    client: TestClient, world: World, field: str, value: str, prefix: str, phone: bool, binary: bool
) -> None:
    answer = Caller(client, world, "generator").call(
        "/v2/token/generate", {field: value}, binary=binary
    )
    assert answer["status"] == "success"
    body = answer["body"]
    assert list(body) == [
        "advertising_token", "refresh_token", "identity_expires", "refresh_expires",
        "refresh_from", "refresh_response_key",
    ]  # fmt: skip
    token = body["advertising_token"]
    assert token.startswith(prefix) and not set("=+/") & set(token)
    fields = decode(client, token)
    dii = hash_dii(EMAIL if not phone else PHONE)
    assert fields.site_id == PUBLISHER
    assert fields.raw_uid == expected_raw_uid(world, dii)
    assert fields.privacy_bits == 1 and not fields.is_client_side_generated
    assert fields.site_key_id == 1004  # the publisher's default keyset (10)
    assert len(body["refresh_token"]) == 388
    inner = inner_refresh(client, body["refresh_token"])
    assert inner.site_id == PUBLISHER and inner.first_level_hash == expected_flh(dii)
    now = world.now_ms
    assert body["identity_expires"] == now + 259_200_000
    assert body["refresh_expires"] == now + 2_592_000_000 == inner.expires_ms
    assert body["refresh_from"] == now + 3_600_000


def test_generate_respects_configured_lifetimes(world: World) -> None:
    settings = world.settings(
        identity_token_expires_after_seconds=3600,
        refresh_token_expires_after_seconds=86400,
        refresh_identity_token_after_seconds=900,
    )
    app, _ = build_app(world, settings)
    with TestClient(app) as client:
        body = Caller(client, world, "generator").call("/v2/token/generate", {"email": EMAIL})[
            "body"
        ]
    assert body["identity_expires"] - world.now_ms == 3_600_000
    assert body["refresh_expires"] - world.now_ms == 86_400_000
    assert body["refresh_from"] - world.now_ms == 900_000


@pytest.mark.parametrize(
    "payload",
    [
        {"email": EMAIL, "email_hash": base64.b64encode(hash_dii(EMAIL)).decode()},
        {"email": EMAIL, "phone": PHONE},
        {"phone": PHONE, "phone_hash": base64.b64encode(hash_dii(PHONE)).decode()},
        {},
        None,
    ],
)
def test_generate_needs_exactly_one_identity(
    client: TestClient, world: World, payload: object
) -> None:
    response = Caller(client, world, "generator").post("/v2/token/generate", payload)
    assert response.status_code == 400
    assert response.json() == {"status": "client_error", "message": EXACTLY_ONE}


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email"},
        {"phone": "555-555-5555"},
        {"email_hash": "abc"},
        {"email": 12},
        {"phone": ["+1"]},
    ],
)
def test_generate_rejects_invalid_identifiers(
    client: TestClient, world: World, payload: object
) -> None:
    response = Caller(client, world, "generator").post("/v2/token/generate", payload)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": "Invalid Identifier"},
    )


def test_generate_without_phone_support_names_only_email(world: World) -> None:
    app, _ = build_app(world, world.settings(enable_phone_support=False))
    with TestClient(app) as client:
        response = Caller(client, world, "generator").post("/v2/token/generate", {"phone": PHONE})
    assert response.json()["message"] == (
        "Required Parameter Missing: exactly one of email or email_hash must be specified"
    )


def test_generate_ignores_the_legacy_policy_fields(client: TestClient, world: World) -> None:
    payload = {"email": EMAIL, "optout_check": 1, "policy": 1}
    assert (
        Caller(client, world, "generator").call("/v2/token/generate", payload)["status"]
        == "success"
    )


@pytest.mark.parametrize("identity", [{"email": "optout@example.com"}, {"phone": "+00000000000"}])
def test_always_opted_out_test_identities_get_optout(
    client: TestClient, world: World, identity: object
) -> None:
    assert Caller(client, world, "generator").call("/v2/token/generate", identity) == {
        "status": "optout"
    }


def test_an_opted_out_user_gets_optout_on_generate(world: World) -> None:
    app, source = build_app(world)
    dii = hash_dii(EMAIL)
    source.add_optouts([OptOut(1, expected_flh(dii), expected_raw_uid(world, dii), world.now_s)])
    with TestClient(app) as client:
        caller = Caller(client, world, "generator")
        assert caller.call("/v2/token/generate", {"email": EMAIL}) == {"status": "optout"}
        # validate@example.com is never opted out, even with a record
    vdii = hash_dii("validate@example.com")
    source.add_optouts([OptOut(2, expected_flh(vdii), b"x" * 32, world.now_s)])
    with TestClient(app) as client:
        answer = Caller(client, world, "generator").call(
            "/v2/token/generate", {"email": "validate@example.com"}
        )
        assert answer["status"] == "success"


def test_rotation_a_newer_key_of_the_default_keyset_wins(world: World) -> None:
    keys = list(world.plane.keyset_keys)
    newer = replace(keys[3], key_id=2001, activates_s=world.now_s - 10, secret=b"n" * 32)
    app, _ = build_app(with_plane(world, keyset_keys=(*keys, newer)))
    with TestClient(app) as client:
        token = Caller(client, world, "generator").call("/v2/token/generate", {"email": EMAIL})[
            "body"
        ]
        assert decode(client, token["advertising_token"]).site_key_id == 2001


def test_disabling_the_default_keyset_falls_back_to_the_fallback_publisher_key(
    world: World,
) -> None:
    keysets = tuple(
        replace(k, enabled=False) if k.keyset_id == 10 else k for k in world.plane.keysets
    )
    app, _ = build_app(with_plane(world, keysets=keysets))
    with TestClient(app) as client:
        body = Caller(client, world, "generator").call("/v2/token/generate", {"email": EMAIL})[
            "body"
        ]
        fields = decode(client, body["advertising_token"])
    assert fields.site_key_id == 1003 and fields.site_id == PUBLISHER  # keyset 2's key


def test_no_active_site_key_answers_500(world: World) -> None:
    keys = tuple(k for k in world.plane.keyset_keys if k.keyset_id not in (2, 10))
    app, _ = build_app(with_plane(world, keyset_keys=keys))
    with TestClient(app) as client:
        response = Caller(client, world, "generator").post("/v2/token/generate", {"email": EMAIL})
    assert response.status_code == 500
    assert response.json() == {"status": "unknown", "message": "No active encryption key available"}


# ---------------------------------------------------------------------------- validate


@pytest.mark.parametrize(
    ("token_identity", "check", "expected"),
    [
        ({"email": "validate@example.com"}, {"email": "validate@example.com"}, True),
        ({"email": EMAIL}, {"email_hash": base64.b64encode(hash_dii(EMAIL)).decode()}, True),
        ({"phone": "+12345678901"}, {"phone": "+12345678901"}, True),
        ({"phone": PHONE}, {"phone_hash": base64.b64encode(hash_dii(PHONE)).decode()}, True),
        ({"phone": PHONE}, {"email": EMAIL}, False),
    ],
)
def test_validate(
    client: TestClient,
    world: World,
    token_identity: dict[str, str],
    check: dict[str, str],
    expected: bool,
) -> None:
    token = generate(client, world, token_identity)["advertising_token"]
    answer = Caller(client, world, "generator").call(
        "/v2/token/validate", {"token": token, **check}
    )
    assert answer == {"status": "success", "body": expected}


def test_validate_refuses_other_sites_and_garbage(client: TestClient, world: World) -> None:
    token = generate(client, world, {"email": EMAIL})["advertising_token"]
    other = Caller(client, world, "other_generator")
    response = other.post("/v2/token/validate", {"token": token, "email": EMAIL})
    assert (response.status_code, response.json()) == (
        400, {"status": "client_error", "message": "Unauthorised to validate token"},
    )  # fmt: skip
    response = other.post("/v2/token/validate", {"token": "garbage-token", "email": EMAIL})
    assert response.json() == {"status": "client_error", "message": "Invalid token"}
    response = other.post("/v2/token/validate", {"token": token, "email": EMAIL, "email_hash": "x"})
    assert response.json() == {"status": "client_error", "message": EXACTLY_ONE}


# ---------------------------------------------------------------------------- logout


def test_logout_records_the_flh_and_current_raw_uid(
    client: TestClient, world: World, sink: RecordingSink
) -> None:
    answer = Caller(client, world, "optout").call(
        "/v2/token/logout", {"email": EMAIL, "clientIp": "1.2.3.4"}
    )
    assert answer == {"status": "success", "body": {"optout": "OK"}}
    dii = hash_dii(EMAIL)
    assert sink.records == [(expected_flh(dii), expected_raw_uid(world, dii), world.now_ms)]


def test_logout_with_bad_input_is_invalid_token(client: TestClient, world: World) -> None:
    caller = Caller(client, world, "optout")
    response = caller.post("/v2/token/logout", {"email": "bogus"})
    assert (response.status_code, response.json()) == (
        400, {"status": "invalid_token", "message": "Invalid Token presented bogus"},
    )  # fmt: skip
    response = caller.post("/v2/token/logout", {})
    assert response.json() == {"status": "invalid_token", "message": "Invalid Token presented"}


def test_logout_without_a_sink_or_with_a_failing_one_is_a_plain_500(world: World) -> None:
    class Failing:
        def record(self, first_level_hash: bytes, raw_uid: bytes, now_ms: int) -> None:
            raise OSError("down")

    for sink in (None, Failing()):
        app, _ = build_app(world, optout_sink=sink)
        with TestClient(app) as client:
            response = Caller(client, world, "optout").post("/v2/token/logout", {"email": EMAIL})
        assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_generated_identity_for_phone_type_is_phone(client: TestClient, world: World) -> None:
    body = generate(client, world, {"phone": PHONE})
    assert inner_refresh(client, str(body["refresh_token"])).identity_type is IdentityType.Phone
    assert decode(client, str(body["advertising_token"])).identity_type is IdentityType.Phone

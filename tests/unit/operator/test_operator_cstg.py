"""Client-side token generation (operator.md §1.8, §7, §10.2 items 45-50)."""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
import pytest
from operator_world import PUBLISHER, TestClient, World, build_app, expected_flh, expected_raw_uid

from uid2.core.cstg import (
    build_cstg_request,
    open_cstg_response,
    parse_public_key_string,
    private_key_from_random,
    shared_secret,
)
from uid2.core.dii import hash_dii
from uid2.core.refresh import open_refresh_response
from uid2.core.tokens import TokenFields, decode_token_fields
from uid2.operator.services.cstg import origin_allowed
from uid2.store.records import OptOut

EMAIL_HASH = base64.b64encode(hash_dii("cstg.user@example.com")).decode()
ORIGIN = {"Origin": "https://www.example.com"}


class Browser:
    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world = client, world
        self.key = private_key_from_random(os.urandom(40))
        self.secret = shared_secret(self.key, parse_public_key_string(world.cstg_public_key))

    def request(
        self, identity: object, *, app_name: str | None = None, subscription_id: str | None = None
    ) -> dict[str, Any]:
        return build_cstg_request(
            self.world.cstg_public_key,
            orjson.dumps(identity),
            now_ms=self.world.now_ms,
            client_private_key=self.key,
            iv=os.urandom(12),
            subscription_id=subscription_id or self.world.cstg_subscription_id,
            app_name=app_name,
        )

    def post(self, body: object, headers: dict[str, str] | None = None) -> Any:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.client.post(
            "/v2/token/client-generate?client=js-3.0", content=content, headers=headers or {}
        )

    def generate(self, identity: object, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        response = self.post(self.request(identity, **kw), ORIGIN if headers is None else headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/plain"
        return orjson.loads(open_cstg_response(self.secret, response.text))


@pytest.fixture
def browser(client: TestClient, world: World) -> Browser:
    return Browser(client, world)


def test_cstg_success_then_refresh(browser: Browser, client: TestClient, world: World) -> None:
    answer = browser.generate({"email_hash": EMAIL_HASH})
    assert answer["status"] == "success"
    body = answer["body"]
    fields = decode_token_fields(body["advertising_token"], client.app.state.holder.current.keyring)  # type: ignore[attr-defined]
    assert isinstance(fields, TokenFields)
    assert (
        fields.site_id == PUBLISHER and fields.privacy_bits == 3 and fields.is_client_side_generated
    )
    assert fields.raw_uid == expected_raw_uid(world, hash_dii("cstg.user@example.com"))
    response = client.post(
        "/v2/token/refresh", content=body["refresh_token"], headers={"Content-Type": "text/plain"}
    )
    refreshed = open_refresh_response(base64.b64decode(body["refresh_response_key"]), response.text)
    assert orjson.loads(refreshed)["status"] == "success"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "origin",
    [
        "https://cstg.co.uk",
        "http://localhost:8080",
        "https://a.b.example.com:8443/x",
        "http://sub.localhost",
    ],
)
def test_cstg_allowed_origins(browser: Browser, origin: str) -> None:
    assert browser.generate({"email_hash": EMAIL_HASH}, {"Origin": origin})["status"] == "success"


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "https://blahblah.com",
        "http://local1host:8080",
        "example.com",
        "https://example.com:999999",
        "http://127.0.0.1",
        "https://notexample.com",
    ],
)
def test_cstg_bad_origins(browser: Browser, origin: str | None) -> None:
    response = browser.post(
        browser.request({"email_hash": EMAIL_HASH}), {} if origin is None else {"Origin": origin}
    )
    assert (response.status_code, response.json()) == (
        403, {"status": "invalid_http_origin", "message": "unexpected http origin"},
    )  # fmt: skip


def test_cstg_app_names_match_case_insensitively(browser: Browser) -> None:
    answer = browser.generate({"email_hash": EMAIL_HASH}, {}, app_name="COM.EXAMPLE.APP")
    assert answer["status"] == "success"


@pytest.mark.parametrize("app_name", ["com.example.other", "", "com.example"])
def test_cstg_wrong_app_names(browser: Browser, app_name: str) -> None:
    response = browser.post(browser.request({"email_hash": EMAIL_HASH}, app_name=app_name), ORIGIN)
    assert (response.status_code, response.json()) == (
        403, {"status": "invalid_app_name", "message": "unexpected app name"},
    )  # fmt: skip


def _tamper(request: dict[str, Any], **changes: Any) -> dict[str, Any]:
    result = dict(request)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def test_cstg_field_and_crypto_errors(browser: Browser, world: World) -> None:
    good = browser.request({"email_hash": EMAIL_HASH})
    cases: list[tuple[object, int, dict[str, str]]] = [
        (b"", 400, {"status": "client_error", "message": "json payload expected but not found"}),
        (b"{not json", 400, {"status": "client_error", "message": "json payload is not valid"}),
        (b"[1]", 400, {"status": "client_error", "message": "json payload expected but not found"}),
        (
            _tamper(good, subscription_id="nope"),
            400,
            {"status": "client_error", "message": "bad subscription_id"},
        ),
        (
            _tamper(good, subscription_id=None),
            400,
            {"status": "client_error", "message": "bad subscription_id"},
        ),
        (
            _tamper(good, subscription_id="Disabled12"),
            401,
            {"status": "unauthorized", "message": "Unauthorized"},
        ),
        (
            _tamper(good, payload=None),
            400,
            {"status": "client_error", "message": "required parameters: payload, iv, public_key"},
        ),
        (
            _tamper(good, public_key=world.keys["generator"]),
            400,
            {"status": "client_error", "message": "bad public key"},
        ),
        (_tamper(good, iv="AAAA"), 400, {"status": "client_error", "message": "bad iv"}),
        (
            _tamper(good, timestamp=good["timestamp"] + 1),
            400,
            {"status": "client_error", "message": "payload decryption failed"},
        ),
    ]
    for body, status, expected in cases:
        response = browser.post(body, ORIGIN)
        assert (response.status_code, response.json()) == (status, expected), body


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (
            {"email_hash": EMAIL_HASH, "phone_hash": EMAIL_HASH},
            "please provide exactly one of: email_hash, phone_hash",
        ),
        ({}, "please provide exactly one of: email_hash, phone_hash"),
        ({"email_hash": "a" * 128}, "Invalid Identifier"),
        ({"email": "plain@example.com"}, "please provide exactly one of: email_hash, phone_hash"),
    ],
)
def test_cstg_identity_errors(browser: Browser, identity: object, message: str) -> None:
    response = browser.post(browser.request(identity), ORIGIN)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": message},
    )


def test_cstg_invalid_json_inside(browser: Browser) -> None:
    request = browser.request({"email_hash": EMAIL_HASH})
    from uid2.core.aead import gcm_seal
    from uid2.core.cstg import cstg_aad

    iv = os.urandom(12)
    sealed = gcm_seal(browser.secret, iv, b"not json", cstg_aad(request["timestamp"]))
    request.update(payload=base64.b64encode(sealed[12:]).decode(), iv=base64.b64encode(iv).decode())
    response = browser.post(request, ORIGIN)
    assert response.json() == {
        "status": "client_error",
        "message": "encrypted payload contains invalid json",
    }


def test_cstg_without_phone_support(world: World) -> None:
    app, _ = build_app(world, world.settings(enable_phone_support=False))
    with TestClient(app) as client:
        browser = Browser(client, world)
        response = browser.post(browser.request({"phone_hash": EMAIL_HASH}), ORIGIN)
        assert response.json()["message"] == "phone support not enabled"
        response = browser.post(browser.request({}), ORIGIN)
        assert response.json()["message"] == "please provide email_hash"


def test_cstg_opted_out_user_and_later_opt_out(world: World) -> None:
    app, source = build_app(world)
    with TestClient(app) as client:
        browser = Browser(client, world)
        optout_hash = base64.b64encode(hash_dii("optout@example.com")).decode()
        assert browser.generate({"email_hash": optout_hash}) == {"status": "optout"}
        body = browser.generate({"email_hash": EMAIL_HASH})["body"]
        dii = hash_dii("cstg.user@example.com")
        source.add_optouts(
            [OptOut(1, expected_flh(dii), expected_raw_uid(world, dii), world.now_s)]
        )
        response = client.post("/v2/token/refresh", content=body["refresh_token"])
        plain = open_refresh_response(base64.b64decode(body["refresh_response_key"]), response.text)
        assert orjson.loads(plain) == {"status": "optout"}  # type: ignore[arg-type]


def test_cstg_route_is_absent_when_disabled_and_domain_check_can_be_off(world: World) -> None:
    app, _ = build_app(world, world.settings(client_side_token_generate=False))
    with TestClient(app) as client:
        assert client.post("/v2/token/client-generate", content=b"{}").status_code == 404
    app, _ = build_app(world, world.settings(cstg_domain_name_check=False))
    with TestClient(app) as client:
        browser = Browser(client, world)
        assert (
            browser.generate({"email_hash": EMAIL_HASH}, {"Origin": "https://anything.net"})[
                "status"
            ]
            == "success"
        )


def test_cstg_no_active_key_is_500(world: World) -> None:
    from dataclasses import replace

    keys = tuple(k for k in world.plane.keyset_keys if k.keyset_id != 10 and k.keyset_id != 2)
    app, _ = build_app(replace(world, plane=replace(world.plane, keyset_keys=keys)))
    with TestClient(app) as client:
        browser = Browser(client, world)
        response = browser.post(browser.request({"email_hash": EMAIL_HASH}), ORIGIN)
    assert (response.status_code, response.json()["message"]) == (
        500,
        "No active encryption key available",
    )


@pytest.mark.parametrize(
    ("origin", "domains", "allowed"),
    [
        ("https://abc.examplewebsite.com:8080/x", ("examplewebsite.com",), True),
        ("http://aussiedomain.id.au", ("aussiedomain.id.au",), True),
        ("examplewebsite.com", ("examplewebsite.com",), False),
        ("https://examplewebsite.com:999999", ("examplewebsite.com",), False),
        ("https://EXAMPLE.com", ("example.com",), True),
        ("https://evilexample.com", ("example.com",), False),
        ("", ("example.com",), False),
        # reduced with the Public Suffix List, private section included (Guava)
        ("https://shop.example.co.uk", ("example.co.uk",), True),
        ("https://shop.example.co.uk", ("co.uk",), False),
        ("https://me.github.io", ("me.github.io",), True),
        ("https://me.github.io", ("github.io",), False),
        ("https://a.b.example.com", ("b.example.com",), False),
    ],
)
def test_origin_matching(origin: str, domains: tuple[str, ...], allowed: bool) -> None:
    assert origin_allowed(origin, domains) is allowed

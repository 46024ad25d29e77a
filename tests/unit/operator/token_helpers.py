"""Helpers shared by the token and refresh endpoint tests: decode what the operator issued."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import orjson
from operator_world import Caller, World

from uid2.core.refresh import (
    RefreshTokenFields,
    decode_refresh_token,
    open_refresh_response,
    unwrap_refresh_token,
)
from uid2.core.tokens import TokenFields, decode_token_fields

if TYPE_CHECKING:
    from starlette.testclient import TestClient

# the upstream message, written out: the tests check the operator against the spec's text
EXACTLY_ONE = (
    "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash]"
    " must be specified"
)
EMAIL = "test.user@example.com"
PHONE = "+12345678909"


def snapshot_of(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.holder.current  # type: ignore[attr-defined]


def decode(client: TestClient, token: str) -> TokenFields:
    fields = decode_token_fields(token, snapshot_of(client).keyring)
    assert isinstance(fields, TokenFields), fields
    return fields


def inner_refresh(client: TestClient, wrapped: str) -> RefreshTokenFields:
    keyring = snapshot_of(client).keyring
    unwrapped = unwrap_refresh_token(wrapped, keyring.get)
    fields = decode_refresh_token(unwrapped.inner, keyring.get)  # type: ignore[union-attr]
    assert isinstance(fields, RefreshTokenFields)
    return fields


def generate(client: TestClient, world: World, identity: dict[str, str]) -> dict[str, object]:
    return Caller(client, world, "generator").call("/v2/token/generate", identity)["body"]  # type: ignore[no-any-return]


def refresh(client: TestClient, body: dict[str, object], **headers: str) -> tuple[int, object]:
    response = client.post("/v2/token/refresh", content=str(body["refresh_token"]), headers=headers)
    if response.status_code != 200:
        return response.status_code, response.json()
    key = base64.b64decode(str(body["refresh_response_key"]))
    binary = response.headers["content-type"] == "application/octet-stream"
    plain = open_refresh_response(key, response.content if binary else response.text, binary=binary)
    assert isinstance(plain, bytes)
    return 200, orjson.loads(plain)

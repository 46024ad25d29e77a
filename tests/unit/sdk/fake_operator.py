"""A small in-process operator for SDK unit tests, built from uid2.core and served through
``httpx.MockTransport`` (the HTTP boundary is the only thing replaced).

It speaks the real envelope, tokens and refresh wrapper, so the SDK is exercised end to end
without a network. Failures can be scripted per path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from uid2.core.dii import DiiKind, hashed_dii
from uid2.core.encoding import b64encode
from uid2.core.enums import AdvertisingTokenVersion, IdentityScope, IdentityType
from uid2.core.envelope import EnvelopeRejection, open_request, parse_json_payload, seal_response
from uid2.core.keys import Key
from uid2.core.rawuid import first_level_hash, raw_uid_v2
from uid2.core.refresh import (
    IdentityResponse,
    RefreshTokenFields,
    TokenLifetimes,
    UnwrappedRefreshToken,
    decode_refresh_token,
    encode_refresh_token,
    open_refresh_response,
    seal_refresh_response,
    token_times,
    unwrap_refresh_token,
    wrap_refresh_token,
)
from uid2.core.tokens import TokenFields, encode_token
from uid2.sdk.http import HttpSettings, RetryPolicy

API_KEY = "UID2-C-L-123-abcdef.0123456789012345678901234567890123456789"
SECRET = bytes(range(32))
SECRET_B64 = base64.b64encode(SECRET).decode()
SITE_ID = 123
FIRST_LEVEL_SALT = "first-level-salt"
ROTATING_SALT = "rotating-salt"
OPTOUT_EMAIL_HASH = b64encode(hashlib.sha256(b"optout@example.com").digest())
REFRESH_OPTOUT_EMAIL_HASH = b64encode(hashlib.sha256(b"refresh-optout@example.com").digest())

BASE_URL = "https://operator.test"
CREDENTIALS = (BASE_URL, API_KEY, SECRET_B64)
# no waiting between retries in tests
NO_WAIT = HttpSettings(retry=RetryPolicy(retry_intervals=(0.0, 0.0, 0.0), jitter=0.0))

_LONG_AGO = 1_600_000_000
_FAR_FUTURE = 4_000_000_000


def make_key(key_id: int, keyset_id: int, *, activates: int = _LONG_AGO) -> Key:
    secret = hashlib.sha256(f"key-{key_id}".encode()).digest()
    return Key(key_id, secret, _LONG_AGO, activates, _FAR_FUTURE, keyset_id=keyset_id)


MASTER_KEY = make_key(1, -1)
SITE_KEY = make_key(2, 10)
REFRESH_KEY = make_key(3, -2)


def key_json(key: Key, *, keyset_id: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": key.key_id,
        "created": key.created,
        "activates": key.activates,
        "expires": key.expires,
        "secret": b64encode(key.secret),
    }
    if keyset_id is not None:
        entry["keyset_id"] = keyset_id
    return entry


def sharing_body(keys: list[Key] | None = None, **extra: Any) -> dict[str, Any]:
    keys = keys if keys is not None else [MASTER_KEY, SITE_KEY]
    return {
        "caller_site_id": SITE_ID,
        "master_keyset_id": 9999999,
        "default_keyset_id": 10,
        "token_expiry_seconds": "2592000",
        "identity_scope": "UID2",
        "allow_clock_skew_seconds": 1800,
        "max_sharing_lifetime_seconds": 2592010,
        "keys": [key_json(k, keyset_id=_sdk_keyset_id(k)) for k in keys],
        **extra,
    }


def _sdk_keyset_id(key: Key) -> int | None:
    return 9999999 if key.keyset_id == -1 else key.keyset_id


def raw_uid_for(dii_hash: bytes) -> bytes:
    return raw_uid_v2(first_level_hash(dii_hash, FIRST_LEVEL_SALT), ROTATING_SALT)


@dataclass
class FakeOperator:
    keys_body: dict[str, Any] = field(default_factory=sharing_body)
    lifetimes: TokenLifetimes = field(default_factory=TokenLifetimes)
    failures: dict[str, deque[int | Exception]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    refresh_clock_offset_ms: int = 0  # lets a test age refresh tokens

    def fail(self, path: str, *outcomes: int | Exception) -> None:
        """The next calls to ``path`` answer with these HTTP codes or raise these errors."""
        self.failures.setdefault(path, deque()).extend(outcomes)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            return self.handle(request)

        return httpx.MockTransport(handler)

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(path)
        self.requests.append(request)
        scripted = self.failures.get(path)
        if scripted:
            outcome = scripted.popleft()
            if isinstance(outcome, Exception):
                raise outcome
            return httpx.Response(outcome, json={"status": "unknown", "message": "scripted"})
        if path == "/v2/token/refresh":
            return self._refresh(request)
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return httpx.Response(401, json={"status": "unauthorized"})
        binary = request.headers.get("Content-Type", "").lower() == "application/octet-stream"
        opened = open_request(SECRET, request.content, binary=binary, now_ms=_now_ms())
        if isinstance(opened, EnvelopeRejection):
            return _error(400, "client_error", opened.message)
        payload = parse_json_payload(opened.payload) if opened.payload else {}
        if isinstance(payload, EnvelopeRejection):
            return _error(400, "client_error", payload.message)
        handler = _ROUTES.get(path)
        if handler is None:
            return httpx.Response(404)
        outcome = handler(self, payload)
        if isinstance(outcome, httpx.Response):
            return outcome
        body = json.dumps(outcome).encode()
        sealed = seal_response(
            SECRET, body, now_ms=_now_ms(), nonce=opened.nonce, iv=os.urandom(12), binary=binary
        )
        return httpx.Response(200, content=sealed)

    # -- endpoints ----------------------------------------------------------------------------

    def _keys(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "success", "body": self.keys_body}

    def _generate(self, payload: dict[str, Any]) -> dict[str, Any] | httpx.Response:
        kinds = [k for k in DiiKind if k.value in payload]
        if len(kinds) != 1:
            return _error(400, "client_error", "Required Parameter Missing: exactly one of ...")
        dii = hashed_dii(kinds[0], payload[kinds[0].value])
        if dii is None:
            return _error(400, "client_error", "Invalid Identifier")
        if b64encode(dii.dii_hash) == OPTOUT_EMAIL_HASH:
            return {"status": "optout"}
        identity = self._identity(dii.dii_hash, dii.identity_type, _now_ms())
        return {"status": "success", "body": identity.to_json_body()}

    def _identity(self, dii_hash: bytes, identity_type: IdentityType, now: int) -> IdentityResponse:
        times = token_times(self.lifetimes, now)
        token = encode_token(
            TokenFields(
                version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
                identity_scope=IdentityScope.UID2,
                identity_type=identity_type,
                master_key_id=MASTER_KEY.key_id,
                site_key_id=SITE_KEY.key_id,
                expires_ms=times.identity_expires_ms,
                generated_ms=now,
                refreshed_ms=now,
                site_id=SITE_ID,
                established_ms=now,
                privacy_bits=1,
                raw_uid=raw_uid_for(dii_hash),
            ),
            master_secret=MASTER_KEY.secret,
            site_secret=SITE_KEY.secret,
            master_nonce=os.urandom(12),
            site_nonce=os.urandom(12),
        )
        inner = encode_refresh_token(
            RefreshTokenFields(
                expires_ms=times.refresh_expires_ms,
                created_ms=now,
                site_id=SITE_ID,
                privacy_bits=1,
                established_ms=now,
                first_level_hash=dii_hash,  # the fake keeps the DII hash to re-derive the UID
                identity_type=identity_type,
            ),
            REFRESH_KEY,
            nonce=os.urandom(12),
        )
        response_key = os.urandom(32)
        wrapped = wrap_refresh_token(
            inner, response_key, REFRESH_KEY, IdentityScope.UID2, nonce=os.urandom(12)
        )
        return IdentityResponse.build(token, wrapped, response_key, times)

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        unwrapped = unwrap_refresh_token(request.content, _lookup)
        if not isinstance(unwrapped, UnwrappedRefreshToken):
            return _error(400, "invalid_token", "Invalid Token presented")
        fields = decode_refresh_token(unwrapped.inner, _lookup)
        if not isinstance(fields, RefreshTokenFields):
            return _error(400, "invalid_token", "Invalid Token presented")
        if fields.expires_ms < _now_ms() + self.refresh_clock_offset_ms:
            return _error(400, "expired_token", "Expired Token presented")
        if b64encode(fields.first_level_hash) == REFRESH_OPTOUT_EMAIL_HASH:
            document: dict[str, Any] = {"status": "optout"}
        else:
            identity = self._identity(fields.first_level_hash, fields.identity_type, _now_ms())
            document = {"status": "success", "body": identity.to_json_body()}
        key = unwrapped.refresh_response_key
        sealed = seal_refresh_response(key, json.dumps(document).encode(), iv=os.urandom(12))
        return httpx.Response(200, text=sealed)

    def _map_v2(self, payload: dict[str, Any]) -> dict[str, Any]:
        mapped, unmapped = [], []
        for kind in (DiiKind.EMAIL_HASH, DiiKind.PHONE_HASH):
            for value in payload.get(kind.value) or []:
                dii = hashed_dii(kind, value)
                if dii is None:
                    unmapped.append({"identifier": value, "reason": "invalid identifier"})
                elif value == OPTOUT_EMAIL_HASH:
                    unmapped.append({"identifier": value, "reason": "optout"})
                else:
                    uid = b64encode(raw_uid_for(dii.dii_hash))
                    mapped.append({"identifier": value, "advertising_id": uid, "bucket_id": "b1"})
        body: dict[str, Any] = {"mapped": mapped}
        if unmapped:
            body["unmapped"] = unmapped
        return {"status": "success", "body": body}

    def _map_v3(self, payload: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, list[dict[str, Any]]] = {k.value: [] for k in DiiKind}
        for kind in (DiiKind.EMAIL_HASH, DiiKind.PHONE_HASH):
            for value in payload.get(kind.value) or []:
                dii = hashed_dii(kind, value)
                if dii is None:
                    body[kind.value].append({"e": "invalid identifier"})
                elif value == OPTOUT_EMAIL_HASH:
                    body[kind.value].append({"e": "optout"})
                else:
                    uid = b64encode(raw_uid_for(dii.dii_hash))
                    body[kind.value].append({"u": uid, "p": None, "r": 1_900_000_000})
        return {"status": "success", "body": body}

    def _buckets(self, payload: dict[str, Any]) -> dict[str, Any]:
        since = payload.get("since_timestamp", "")
        buckets = [{"bucket_id": "b1", "last_updated": "2024-01-02T03:04:05.678"}]
        return {"status": "success", "body": buckets if since < "2024-01-02" else []}


_ROUTES = {
    "/v2/key/sharing": FakeOperator._keys,
    "/v2/key/bidstream": FakeOperator._keys,
    "/v2/token/generate": FakeOperator._generate,
    "/v2/identity/map": FakeOperator._map_v2,
    "/v3/identity/map": FakeOperator._map_v3,
    "/v2/identity/buckets": FakeOperator._buckets,
}


def _lookup(key_id: int) -> Key | None:
    return {k.key_id: k for k in (MASTER_KEY, SITE_KEY, REFRESH_KEY)}.get(key_id)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _error(status_code: int, status: str, message: str) -> httpx.Response:
    return httpx.Response(status_code, json={"status": status, "message": message})


def open_refresh_body(key: bytes, body: bytes) -> bytes:
    opened = open_refresh_response(key, body)
    assert isinstance(opened, bytes)
    return opened

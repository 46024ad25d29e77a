"""Envelope, identity response and refresh-token interop with the official SDK (uid2-client 2.9.0).

Both directions: what we seal, the SDK reads; what the SDK seals, we read. The SDK draws its
nonce and IV from ``os.urandom``, which is patched to replay fixed bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

uid2_client = pytest.importorskip("uid2_client")

from Crypto.Cipher import AES  # noqa: E402  (pycryptodome, the SDK's own AES)
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from uid2_client import (  # noqa: E402
    IdentityTokens,
    TokenGenerateInput,
    TokenGenerateResponse,
    TokenRefreshResponse,
    Uid2PublisherClient,
)
from uid2_client import publisher_client as sdk_publisher  # noqa: E402
from uid2_client.encryption import _decrypt_gcm  # noqa: E402
from uid2_client.request_response_util import create_envelope, parse_response  # noqa: E402
from uid2_client.uid2_response import Uid2Response  # noqa: E402

from uid2.core.cstg import parse_private_key_string, parse_public_key  # noqa: E402
from uid2.core.enums import IdentityScope  # noqa: E402
from uid2.core.envelope import (  # noqa: E402
    OpenedRequest,
    open_request,
    parse_json_payload,
    seal_request,
    seal_response,
)
from uid2.core.keys import Key  # noqa: E402
from uid2.core.refresh import (  # noqa: E402
    IdentityResponse,
    RefreshTokenFields,
    TokenLifetimes,
    UnwrappedRefreshToken,
    decode_refresh_token,
    encode_refresh_token,
    seal_refresh_response,
    token_times,
    unwrap_refresh_token,
    wrap_refresh_token,
)

pytestmark = pytest.mark.interop

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "envelopes.json").read_text("utf-8")
)
SECRET_B64 = "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo="
SECRET = base64.b64decode(SECRET_B64)
NOW = 1704067200000
REFRESH_KEY = Key(key_id=7, secret=b"\x11" * 32, created=0, activates=0, expires=2**31)
RRK = b"\x05" * 32


def _dt(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


@pytest.fixture
def fixed_urandom(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], bytes]]:
    """The k-th call returns byte k repeated n times (the method of sdk.md §9.4)."""
    calls = [0]

    def fake(n: int) -> bytes:
        calls[0] += 1
        return bytes([calls[0]]) * n

    monkeypatch.setattr(os, "urandom", fake)
    yield fake


def _identity(now_ms: int = NOW) -> IdentityResponse:
    fields = RefreshTokenFields(
        expires_ms=now_ms + 86_400_000, created_ms=now_ms, site_id=9000, privacy_bits=1,
        established_ms=now_ms, first_level_hash=b"\x03" * 32,
    )  # fmt: skip
    inner = encode_refresh_token(fields, REFRESH_KEY, nonce=b"\x04" * 12)
    wrapped = wrap_refresh_token(inner, RRK, REFRESH_KEY, IdentityScope.UID2, nonce=b"\x06" * 12)
    times = token_times(TokenLifetimes(3600, 86400, 900), now_ms)
    return IdentityResponse.build("A4AAAAadvertising", wrapped, RRK, times)


def _success_json(identity: IdentityResponse) -> bytes:
    return identity.to_success_json()


# ---------------------------------------------------------------------------- request envelope


@pytest.mark.parametrize("case", VECTORS["request_envelopes"], ids=lambda c: c["name"])
def test_sdk_create_envelope_matches_vector_and_ours(
    case: dict[str, Any], fixed_urandom: Callable[[int], bytes]
) -> None:
    payload = None if case["payload"] is None else case["payload"].encode()
    envelope = create_envelope(SECRET, _dt(case["now_ms"]), payload)
    ours = seal_request(SECRET, payload, now_ms=case["now_ms"], nonce=b"\x01" * 8, iv=b"\x02" * 12)
    assert envelope.binary_envelope == ours
    assert envelope.envelope.decode() == case["envelope_b64"]


@pytest.mark.parametrize(
    "payload",
    [b'{"email": "a@b.com"}', b'{"phone_hash": "x"}\n', '{"x": "\u00e9"}'.encode(), b"{}" * 300],
)
@pytest.mark.parametrize("now_ms", [0, 1710907366130, 4102444800123])
def test_seal_request_byte_identical_to_sdk(
    payload: bytes, now_ms: int, fixed_urandom: Callable[[int], bytes]
) -> None:
    envelope = create_envelope(SECRET, _dt(now_ms), payload)
    ours = seal_request(SECRET, payload, now_ms=now_ms, nonce=b"\x01" * 8, iv=b"\x02" * 12)
    assert envelope.binary_envelope == ours


@pytest.mark.parametrize("binary", [False, True])
def test_sdk_envelope_opens_with_open_request(binary: bool) -> None:
    payload = TokenGenerateInput.from_email("Test.User@example.com").get_as_json_string().encode()
    envelope = create_envelope(SECRET, _dt(NOW), payload)
    body = envelope.binary_envelope if binary else envelope.envelope
    opened = open_request(SECRET, body, binary=binary, now_ms=NOW + 30_000)
    assert isinstance(opened, OpenedRequest)
    assert opened.nonce == envelope.nonce and opened.timestamp_ms == NOW
    assert opened.payload == payload and opened.was_binary is binary
    assert opened.payload is not None
    document = parse_json_payload(opened.payload)
    assert isinstance(document, dict) and set(document) == {"email_hash"}


def test_sdk_key_refresh_envelope_has_no_payload() -> None:
    envelope = create_envelope(SECRET, _dt(NOW))
    opened = open_request(SECRET, envelope.envelope, binary=False, now_ms=NOW)
    assert isinstance(opened, OpenedRequest) and opened.payload is None


# ---------------------------------------------------------------------------- response envelope


@pytest.mark.parametrize("binary", [False, True])
def test_seal_response_accepted_by_sdk_parser(binary: bool) -> None:
    nonce = b"\x09" * 8
    body = seal_response(
        SECRET, b'{"status":"success","body":{}}', now_ms=NOW, nonce=nonce,
        iv=b"\x03" * 12, binary=binary,
    )  # fmt: skip
    response = Uid2Response.from_bytes(body) if binary else Uid2Response.from_string(body.decode())
    assert parse_response(SECRET, response, nonce) == b'{"status":"success","body":{}}'
    with pytest.raises(ValueError, match="nonce mismatch"):
        parse_response(SECRET, response, b"\x00" * 8)


def test_response_vector_accepted_by_sdk_parser() -> None:
    for case in VECTORS["response_envelopes"]:
        response = Uid2Response.from_string(case["body_b64"])
        secret = base64.b64decode(case["secret_b64"])
        nonce = bytes.fromhex(case["nonce_hex"])
        assert parse_response(secret, response, nonce) == case["json"].encode()


# ---------------------------------------------------------------------------- generate response


def test_generate_response_accepted_by_token_generate_response() -> None:
    identity = _identity()
    response = TokenGenerateResponse(_success_json(identity).decode())
    tokens = response.get_identity()
    assert response.is_success() and isinstance(tokens, IdentityTokens)
    assert tokens.get_advertising_token() == identity.advertising_token
    assert tokens.get_refresh_token() == identity.refresh_token
    assert tokens.get_refresh_response_key() == identity.refresh_response_key
    assert tokens.get_identity_expires() == identity.identity_expires
    assert tokens.get_refresh_expires() == identity.refresh_expires
    assert tokens.get_refresh_from() == identity.refresh_from
    assert json.loads(tokens.get_json_string()) == identity.to_json_body()
    assert list(json.loads(tokens.get_json_string())) == list(identity.to_json_body())


def test_optout_response_accepted_by_token_generate_response() -> None:
    response = TokenGenerateResponse('{"status":"optout"}')
    assert response.is_optout() and response.get_identity() is None


def test_publisher_client_generate_against_our_envelope(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's whole generate_token call, with our code playing the operator."""
    identity = _identity()
    seen: dict[str, Any] = {}

    def fake_make_request(base_url: str, path: str, headers: Any, envelope: Any) -> Uid2Response:
        now = int(dt.datetime.now(tz=dt.UTC).timestamp() * 1000)
        opened = open_request(SECRET, envelope.envelope, binary=False, now_ms=now)
        assert isinstance(opened, OpenedRequest) and opened.payload is not None
        seen["path"], seen["payload"] = path, parse_json_payload(opened.payload)
        body = seal_response(
            SECRET, _success_json(identity), now_ms=now, nonce=opened.nonce,
            iv=b"\x0c" * 12, binary=False,
        )  # fmt: skip
        return Uid2Response.from_string(body.decode())

    monkeypatch.setattr(sdk_publisher, "make_request", fake_make_request)
    client = Uid2PublisherClient("http://operator.invalid", "UID2-C-L-1-abcdef.x", SECRET_B64)
    response = client.generate_token(TokenGenerateInput.from_email("user@example.com"))
    assert seen["path"] == "/v2/token/generate" and "email_hash" in seen["payload"]
    assert response.get_identity().get_advertising_token() == identity.advertising_token
    assert response.get_identity().get_refresh_token() == identity.refresh_token


# ---------------------------------------------------------------------------- refresh


def test_refresh_response_accepted_by_token_refresh_response() -> None:
    identity = _identity()
    body = seal_refresh_response(RRK, _success_json(identity), iv=b"\x07" * 12)
    decrypted = _decrypt_gcm(
        base64.b64decode(body), base64.b64decode(identity.refresh_response_key)
    )
    response = TokenRefreshResponse(decrypted.decode(), _dt(NOW))
    assert response.is_success()
    assert response.get_identity().get_refresh_token() == identity.refresh_token


def test_publisher_client_refresh_against_our_operator_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK posts our 388-char wrapper; we unwrap, decode, re-issue and answer with the
    old refresh_response_key, as the operator does (operator.md §1.6)."""
    current = _identity()
    refreshed = _identity(NOW + 60_000)
    keys = {REFRESH_KEY.key_id: REFRESH_KEY}
    seen: dict[str, Any] = {}

    class FakeHttpResponse:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def read(self) -> bytes:
            return self._body

    def fake_post(base_url: str, path: str, headers: Any, data: bytes) -> FakeHttpResponse:
        assert path == "/v2/token/refresh" and len(data) == 388
        unwrapped = unwrap_refresh_token(data, keys.get)
        assert isinstance(unwrapped, UnwrappedRefreshToken)
        seen["fields"] = decode_refresh_token(unwrapped.inner, keys.get)
        body = seal_refresh_response(
            unwrapped.refresh_response_key, _success_json(refreshed), iv=b"\x0d" * 12
        )
        return FakeHttpResponse(body.encode())

    monkeypatch.setattr(sdk_publisher, "post", fake_post)
    client = Uid2PublisherClient("http://operator.invalid", "key", SECRET_B64)
    tokens = IdentityTokens.from_json_string(json.dumps(current.to_json_body()))
    response = client.refresh_token(tokens)
    assert isinstance(seen["fields"], RefreshTokenFields) and seen["fields"].site_id == 9000
    assert response.is_success()
    assert response.get_identity().get_refresh_from() == refreshed.refresh_from


def test_wrapper_vector_decrypts_with_sdk_aes() -> None:
    case = VECTORS["refresh_token"]
    raw = base64.b64decode(case["wrapped"])
    plaintext = _decrypt_gcm(raw[5:], bytes.fromhex(case["key"]["secret_hex"]))
    assert json.loads(plaintext) == {
        "refresh_response_key": case["refresh_response_key_b64"],
        "refresh_token": case["inner_b64"],
    }
    assert b" " not in plaintext and len(case["wrapped"]) == 388
    inner = base64.b64decode(case["inner_b64"])
    payload = _decrypt_gcm(inner[6:], bytes.fromhex(case["key"]["secret_hex"]))
    assert len(payload) == 90 and payload[57] == inner[0]
    assert int.from_bytes(payload[:8], "big") == case["fields"]["expires_ms"]


# ---------------------------------------------------------------------- cstg (independent AES)


@pytest.mark.parametrize("case", VECTORS["cstg"], ids=lambda c: c["name"])
def test_cstg_vector_with_independent_aes(case: dict[str, Any]) -> None:
    """The CSTG vector re-checked with pycryptodome's GCM and a fresh ECDH, not our aead."""
    server = parse_private_key_string(case["server_private_key"])
    client_public = parse_public_key(case["request"]["public_key"])
    assert client_public is not None
    secret = server.exchange(ec.ECDH(), client_public)
    assert secret.hex() == case["shared_secret_hex"]
    cipher = AES.new(secret, AES.MODE_GCM, nonce=base64.b64decode(case["request"]["iv"]))
    aad = [case["request"]["timestamp"]]
    if case["app_name"] is not None:
        aad.append(case["app_name"])
    cipher.update(json.dumps(aad, separators=(",", ":")).encode())
    sealed = base64.b64decode(case["request"]["payload"])
    assert cipher.decrypt_and_verify(sealed[:-16], sealed[-16:]) == case["identity_json"].encode()
    response = base64.b64decode(case["response"]["body_b64"])
    assert _decrypt_gcm(response, secret) == case["response"]["json"].encode()

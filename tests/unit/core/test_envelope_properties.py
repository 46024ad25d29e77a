"""Property tests: the public open/decode functions of envelope, refresh and cstg never raise
on hostile input; they return a status, or raise only the documented core error."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from uid2.core.cstg import (
    CstgDecrypted,
    CstgStatus,
    build_cstg_request,
    decrypt_cstg_request,
    keypair_from_random,
    open_cstg_response,
    parse_private_key_string,
    private_key_from_random,
)
from uid2.core.enums import IdentityScope
from uid2.core.envelope import (
    EnvelopeRejection,
    OpenedRequest,
    open_request,
    open_response,
    parse_json_payload,
    seal_request,
    seal_response,
)
from uid2.core.errors import CstgError, EnvelopeError
from uid2.core.keys import Key
from uid2.core.refresh import (
    RefreshTokenFields,
    RefreshTokenStatus,
    UnwrappedRefreshToken,
    WrapperRejection,
    decode_refresh_token,
    encode_refresh_token,
    open_refresh_response,
    unwrap_refresh_token,
    wrap_refresh_token,
)

SECRET = bytes(range(32))
NOW = 1704067200000
NONCE = b"\x01" * 8
IV = b"\x02" * 12
KEY = Key(key_id=7, secret=b"\x11" * 32, created=0, activates=0, expires=2**31)
FIELDS = RefreshTokenFields(
    expires_ms=NOW + 1000, created_ms=NOW, site_id=9000, privacy_bits=1, established_ms=NOW,
    first_level_hash=b"\x03" * 32,
)  # fmt: skip
INNER = encode_refresh_token(FIELDS, KEY, nonce=IV)
WRAPPED = wrap_refresh_token(INNER, b"\x05" * 32, KEY, IdentityScope.UID2, nonce=IV)
SERVER = keypair_from_random(b"\x08" * 40)
SERVER_PRIVATE = parse_private_key_string(SERVER.private_key)
CSTG_REQUEST = build_cstg_request(
    SERVER.public_key, b'{"email_hash":"x"}', now_ms=NOW,
    client_private_key=private_key_from_random(b"\x09" * 40), iv=IV, subscription_id="abcdEFGH12",
)  # fmt: skip
ENVELOPE = seal_request(SECRET, b'{"a": 1}', now_ms=NOW, nonce=NONCE, iv=IV)


def lookup(key_id: int) -> Key | None:
    return KEY if key_id == KEY.key_id else None


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """One of: flip a bit, truncate, extend, or splice random bytes into ``original``."""
    data = bytearray(original)
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if kind == "flip":
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif kind == "extend":
        data += draw(st.binary(min_size=1, max_size=40))
    else:
        i = draw(st.integers(0, len(data)))
        data[i : i + draw(st.integers(0, 8))] = draw(st.binary(max_size=8))
    return bytes(data)


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


# ---------------------------------------------------------------------------- envelope


@given(st.binary(max_size=300), st.booleans(), st.integers(-(2**63), 2**63 - 1))
def test_open_request_random_bytes(body: bytes, binary: bool, now_ms: int) -> None:
    result = open_request(SECRET, body, binary=binary, now_ms=now_ms)
    assert isinstance(result, OpenedRequest | EnvelopeRejection)


@given(mutated(ENVELOPE), st.booleans())
def test_open_request_mutated_envelope_is_rejected(raw: bytes, as_text: bool) -> None:
    body = _b64(raw) if as_text else raw
    result = open_request(SECRET, body, binary=not as_text, now_ms=NOW)
    if raw != ENVELOPE:
        assert isinstance(result, EnvelopeRejection)
        result.message(IdentityScope.EUID)


@given(st.text(max_size=200))
def test_open_request_random_text(text: str) -> None:
    body = text.encode("utf-8")
    assert isinstance(
        open_request(SECRET, body, binary=False, now_ms=NOW), OpenedRequest | EnvelopeRejection
    )


@given(st.binary(max_size=200) | st.text(max_size=200), st.booleans())
def test_open_response_random(body: bytes | str, binary: bool) -> None:
    try:
        open_response(SECRET, body, nonce=NONCE, binary=binary)
    except EnvelopeError:
        pass


@given(
    st.binary(max_size=200).filter(lambda b: b != b""),
    st.binary(min_size=8, max_size=8),
    st.integers(NOW - 119_999, NOW + 119_999),
    st.booleans(),
)
def test_envelope_round_trip(payload: bytes, nonce: bytes, ts: int, binary: bool) -> None:
    raw = seal_request(SECRET, payload, now_ms=ts, nonce=nonce, iv=IV)
    opened = open_request(SECRET, raw if binary else _b64(raw), binary=binary, now_ms=NOW)
    assert opened == OpenedRequest(ts, nonce, payload, binary)
    response = seal_response(SECRET, payload, now_ms=NOW, nonce=nonce, iv=IV, binary=binary)
    assert open_response(SECRET, response, nonce=nonce, binary=binary) == payload


@given(st.binary(max_size=200))
def test_parse_json_payload_random(payload: bytes) -> None:
    result = parse_json_payload(payload)
    assert isinstance(result, dict | EnvelopeRejection)


# ---------------------------------------------------------------------------- refresh


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decode_refresh_token_random(data: bytes | str) -> None:
    assert isinstance(decode_refresh_token(data, lookup), RefreshTokenFields | RefreshTokenStatus)


@given(st.binary(max_size=200))
def test_decode_refresh_token_random_base64(data: bytes) -> None:
    result = decode_refresh_token(_b64(data), lookup)
    assert isinstance(result, RefreshTokenFields | RefreshTokenStatus)


@given(mutated(base64.b64decode(INNER)))
def test_decode_refresh_token_mutated(raw: bytes) -> None:
    result = decode_refresh_token(_b64(raw), lookup)
    if raw != base64.b64decode(INNER):
        assert isinstance(result, RefreshTokenStatus)


@given(mutated(base64.b64decode(WRAPPED)))
def test_unwrap_mutated(raw: bytes) -> None:
    result = unwrap_refresh_token(_b64(raw), lookup)
    # Byte 0 (scope) is not authenticated and, as upstream, not read: the inner token's
    # authenticated scope is what the operator checks (operator.md §1.6).
    if raw[1:] != base64.b64decode(WRAPPED)[1:]:
        assert isinstance(result, WrapperRejection)
        assert result.message


@given(st.binary(max_size=400) | st.text(max_size=400))
def test_unwrap_random(data: bytes | str) -> None:
    assert isinstance(unwrap_refresh_token(data, lookup), UnwrappedRefreshToken | WrapperRejection)


@given(st.binary(max_size=200) | st.text(max_size=200), st.booleans())
def test_open_refresh_response_random(body: bytes | str, binary: bool) -> None:
    result = open_refresh_response(b"\x05" * 32, body, binary=binary)
    assert isinstance(result, bytes | RefreshTokenStatus)


# ---------------------------------------------------------------------------- cstg

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@settings(max_examples=60)
@given(st.dictionaries(st.sampled_from(list(CSTG_REQUEST) + ["app_name"]), _json_values))
def test_decrypt_cstg_random_fields(overrides: dict[str, Any]) -> None:
    request = {**CSTG_REQUEST, **overrides}
    assert isinstance(decrypt_cstg_request(SERVER_PRIVATE, request), CstgDecrypted | CstgStatus)


@settings(max_examples=60)
@given(st.sampled_from(["payload", "iv", "public_key"]), st.data())
def test_decrypt_cstg_mutated_field(field: str, data: st.DataObject) -> None:
    original = base64.b64decode(str(CSTG_REQUEST[field]))
    raw = data.draw(mutated(original))
    request = {**CSTG_REQUEST, field: _b64(raw).decode()}
    result = decrypt_cstg_request(SERVER_PRIVATE, request)
    if raw != original:
        assert isinstance(result, CstgStatus)


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_open_cstg_response_random(body: bytes | str) -> None:
    try:
        open_cstg_response(b"\x01" * 32, body)
    except CstgError:
        pass

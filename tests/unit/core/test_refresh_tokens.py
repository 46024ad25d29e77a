"""Unit tests for uid2.core.refresh (operator.md §1.5, §1.6, §3.7-§3.9; sdk.md §6.3)."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from uid2.core.aead import cbc_seal, gcm_seal
from uid2.core.enums import IdentityScope, IdentityType
from uid2.core.keys import Key
from uid2.core.refresh import (
    WRAPPED_REFRESH_TOKEN_LENGTH,
    IdentityResponse,
    RefreshTokenFields,
    RefreshTokenStatus,
    TokenLifetimes,
    TokenTimes,
    UnwrappedRefreshToken,
    WrapperRejection,
    decode_refresh_token,
    encode_refresh_token,
    identity_byte,
    open_refresh_response,
    seal_refresh_response,
    seal_refresh_response_bytes,
    token_times,
    unwrap_refresh_token,
    wrap_refresh_token,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "envelopes.json").read_text("utf-8")
)["refresh_token"]
NOW = 1704067200000
KEY = Key(key_id=7, secret=b"\x11" * 32, created=0, activates=0, expires=2**31, keyset_id=-2)
OTHER_KEY = Key(key_id=7, secret=b"\x22" * 32, created=0, activates=0, expires=2**31)
FLH = bytes(range(32))
RRK = b"\x05" * 32
NONCE = b"\x04" * 12


def lookup(key_id: int) -> Key | None:
    return KEY if key_id == KEY.key_id else None


def _fields(**overrides: Any) -> RefreshTokenFields:
    values: dict[str, Any] = {
        "expires_ms": NOW + 2_592_000_000,
        "created_ms": NOW,
        "site_id": 9000,
        "privacy_bits": 1,
        "established_ms": NOW,
        "first_level_hash": FLH,
    }
    values.update(overrides)
    return RefreshTokenFields(**values)


def _vector_fields() -> RefreshTokenFields:
    f = VECTORS["fields"]
    return RefreshTokenFields(
        expires_ms=f["expires_ms"],
        created_ms=f["created_ms"],
        site_id=f["site_id"],
        privacy_bits=f["privacy_bits"],
        established_ms=f["established_ms"],
        first_level_hash=base64.b64decode(f["first_level_hash_b64"]),
        scope=IdentityScope[f["scope"]],
        identity_type=IdentityType[f["identity_type"]],
    )


def _vector_key() -> Key:
    k = VECTORS["key"]
    return Key(k["id"], bytes.fromhex(k["secret_hex"]), 0, 0, 2**31)


def _replace_b64(text: str, index: int, value: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index] = value
    return base64.b64encode(bytes(raw)).decode()


# ---------------------------------------------------------------------------- vectors


def test_inner_vector_both_directions() -> None:
    key = _vector_key()
    inner = encode_refresh_token(
        _vector_fields(), key, nonce=bytes.fromhex(VECTORS["inner_nonce_hex"])
    )
    assert inner == VECTORS["inner_b64"]
    assert decode_refresh_token(inner, {key.key_id: key}.get) == _vector_fields()


def test_wrapper_vector_both_directions() -> None:
    key = _vector_key()
    rrk = base64.b64decode(VECTORS["refresh_response_key_b64"])
    wrapped = wrap_refresh_token(
        VECTORS["inner_b64"],
        rrk,
        key,
        IdentityScope[VECTORS["wrapper_scope"]],
        nonce=bytes.fromhex(VECTORS["wrapper_nonce_hex"]),
    )
    assert wrapped == VECTORS["wrapped"]
    assert unwrap_refresh_token(wrapped, {key.key_id: key}.get) == UnwrappedRefreshToken(
        VECTORS["inner_b64"], rrk
    )


def test_refresh_response_vector_both_directions() -> None:
    case = VECTORS["response"]
    rrk = base64.b64decode(VECTORS["refresh_response_key_b64"])
    body = seal_refresh_response(rrk, case["json"].encode(), iv=bytes.fromhex(case["iv_hex"]))
    assert body == case["body_b64"]
    assert open_refresh_response(rrk, body) == case["json"].encode()


# ---------------------------------------------------------------------------- inner V3


@pytest.mark.parametrize("scope", list(IdentityScope))
@pytest.mark.parametrize("identity_type", list(IdentityType))
def test_inner_round_trip_and_layout(scope: IdentityScope, identity_type: IdentityType) -> None:
    fields = _fields(scope=scope, identity_type=identity_type, privacy_bits=3, publisher_id=5)
    text = encode_refresh_token(fields, KEY, nonce=NONCE)
    raw = base64.b64decode(text)
    assert len(text) == 168 and text.endswith("==")
    assert len(raw) == 124
    assert raw[0] == (scope << 4) | (identity_type << 2) | 3 == identity_byte(scope, identity_type)
    assert raw[1] == 112
    assert struct.unpack(">i", raw[2:6])[0] == KEY.key_id
    assert decode_refresh_token(text, lookup) == fields
    assert decode_refresh_token(text.encode(), lookup) == fields


def test_operator_identity_defaults_and_round_trip() -> None:
    fields = _fields()
    assert (fields.operator_site_id, fields.operator_type) == (0, 1)
    odd = _fields(operator_site_id=3, operator_type=17, operator_version=2, operator_key_id=9)
    assert decode_refresh_token(encode_refresh_token(odd, KEY, nonce=NONCE), lookup) == odd


def test_fields_need_32_byte_hash() -> None:
    with pytest.raises(ValueError):
        _fields(first_level_hash=b"\x00" * 31)


def test_encode_out_of_range_is_value_error() -> None:
    with pytest.raises(ValueError):
        encode_refresh_token(_fields(site_id=2**31), KEY, nonce=NONCE)


def test_repr_hides_hash() -> None:
    assert FLH.hex() not in repr(_fields()) and str(list(FLH)) not in repr(_fields())
    assert repr(FLH) not in repr(_fields())


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", RefreshTokenStatus.NOT_BASE64),
        ("not base64!", RefreshTokenStatus.NOT_BASE64),
        ("A3AAAA=", RefreshTokenStatus.NOT_BASE64),
        (base64.b64encode(b"\x03").decode(), RefreshTokenStatus.UNKNOWN_VERSION),
        (
            base64.b64encode(b"\x03\x80" + b"\x00" * 122).decode(),
            RefreshTokenStatus.UNKNOWN_VERSION,
        ),
        (base64.b64encode(b"\x03\x70" + b"\x00" * 10).decode(), RefreshTokenStatus.INVALID_LENGTH),
    ],
)
def test_inner_decode_rejects_malformed(text: str, status: RefreshTokenStatus) -> None:
    assert decode_refresh_token(text, lookup) is status


def test_inner_decode_unknown_key() -> None:
    text = encode_refresh_token(_fields(), KEY, nonce=NONCE)
    assert decode_refresh_token(text, lambda _: None) is RefreshTokenStatus.UNKNOWN_KEY


def test_inner_decode_wrong_key_or_tampered() -> None:
    text = encode_refresh_token(_fields(), KEY, nonce=NONCE)
    assert decode_refresh_token(text, lambda _: OTHER_KEY) is RefreshTokenStatus.DECRYPT_FAILED
    raw = base64.b64decode(text)
    tampered = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    assert decode_refresh_token(tampered, lookup) is RefreshTokenStatus.DECRYPT_FAILED


@pytest.mark.parametrize("header_byte", [0x07, 0x13, 0x17, 0x00, 0x23, 0x0F])
def test_inner_decode_header_must_match_payload_identity(header_byte: int) -> None:
    text = encode_refresh_token(_fields(), KEY, nonce=NONCE)  # 0x03 inside
    assert decode_refresh_token(_replace_b64(text, 0, header_byte), lookup) is (
        RefreshTokenStatus.IDENTITY_MISMATCH
    )


# ---------------------------------------------------------------------------- legacy V2


def _legacy(
    site_id: int = 9000,
    flh_b64: bytes = base64.b64encode(FLH),
    key: Key = KEY,
    extra: bytes = b"",
) -> str:
    inner = (
        struct.pack(">ii", site_id, len(flh_b64)) + flh_b64 + struct.pack(">iq", 1, NOW - 5) + extra
    )
    header = struct.pack(">Bqqqi", 2, NOW, NOW + 1000, NOW + 61_000, key.key_id)
    return base64.b64encode(header + cbc_seal(key.secret, b"\x09" * 16, inner)).decode()


def test_legacy_v2_decodes_as_uid2_email() -> None:
    fields = decode_refresh_token(_legacy(), lookup)
    assert fields == RefreshTokenFields(
        expires_ms=NOW + 61_000,  # valid-till, not the unused expires field
        created_ms=NOW,
        site_id=9000,
        privacy_bits=1,
        established_ms=NOW - 5,
        first_level_hash=FLH,
        scope=IdentityScope.UID2,
        identity_type=IdentityType.Email,
    )


def test_legacy_v2_failures() -> None:
    assert decode_refresh_token(_legacy(), lambda _: None) is RefreshTokenStatus.UNKNOWN_KEY
    assert decode_refresh_token(_legacy(), lambda _: OTHER_KEY) in (
        RefreshTokenStatus.DECRYPT_FAILED,
        RefreshTokenStatus.INVALID_PAYLOAD,  # a wrong CBC key can still unpad by chance
    )
    assert decode_refresh_token(_legacy(flh_b64=b"AAAA"), lookup) is (
        RefreshTokenStatus.INVALID_PAYLOAD
    )
    assert decode_refresh_token(_legacy(extra=b"x"), lookup) is RefreshTokenStatus.INVALID_PAYLOAD
    short = base64.b64encode(b"\x02" + b"\x00" * 40).decode()
    assert decode_refresh_token(short, lookup) is RefreshTokenStatus.INVALID_LENGTH


def test_legacy_v2_negative_hash_length() -> None:
    text = _legacy()
    raw = bytearray(base64.b64decode(text))
    inner = struct.pack(">ii", 9000, -4) + b"\x00" * 12
    raw[29:] = cbc_seal(KEY.secret, b"\x09" * 16, inner)
    assert decode_refresh_token(base64.b64encode(bytes(raw)).decode(), lookup) is (
        RefreshTokenStatus.INVALID_PAYLOAD
    )


# ---------------------------------------------------------------------------- wrapper


def _wrapped(scope: IdentityScope = IdentityScope.UID2) -> str:
    inner = encode_refresh_token(_fields(scope=scope), KEY, nonce=NONCE)
    return wrap_refresh_token(inner, RRK, KEY, scope, nonce=b"\x06" * 12)


@pytest.mark.parametrize("scope", list(IdentityScope))
def test_wrapper_layout(scope: IdentityScope) -> None:
    wrapped = _wrapped(scope)
    raw = base64.b64decode(wrapped)
    assert len(wrapped) == WRAPPED_REFRESH_TOKEN_LENGTH == 388
    assert len(raw) == 291
    assert raw[0] == (0x10 if scope is IdentityScope.EUID else 0x00)
    assert struct.unpack(">i", raw[1:5])[0] == KEY.key_id
    unwrapped = unwrap_refresh_token(wrapped, lookup)
    assert isinstance(unwrapped, UnwrappedRefreshToken)
    assert unwrapped.refresh_response_key == RRK
    assert decode_refresh_token(unwrapped.inner, lookup) == _fields(scope=scope)


def test_wrapper_plaintext_is_compact_json_in_key_order() -> None:
    from uid2.core.aead import gcm_open

    plaintext = gcm_open(KEY.secret, base64.b64decode(_wrapped())[5:])
    assert plaintext is not None and len(plaintext) == 258
    assert plaintext.startswith(b'{"refresh_response_key":"BQUF')
    assert b'","refresh_token":"A3' in plaintext and b" " not in plaintext


def test_wrap_argument_errors() -> None:
    inner = encode_refresh_token(_fields(), KEY, nonce=NONCE)
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_refresh_token(inner, b"\x00" * 16, KEY, IdentityScope.UID2, nonce=NONCE)
    with pytest.raises(
        ValueError, match="^Generated refresh token's length=396 is not equal to=388$"
    ):
        wrap_refresh_token(inner + "AAAA", RRK, KEY, IdentityScope.UID2, nonce=NONCE)


def _seal_wrapper(plaintext: bytes, key: Key = KEY) -> str:
    return base64.b64encode(
        b"\x00" + struct.pack(">i", key.key_id) + gcm_seal(key.secret, NONCE, plaintext)
    ).decode()


UNKNOWN_KEY_7 = "Invalid key: Generator of this token (Key ID: 7) does not exist."
BAD_DATA = "Invalid data: Check encryption method and encryption key."


@pytest.mark.parametrize(
    ("text", "key_lookup", "message"),
    [
        ("@" * 388, lookup, "Invalid body: Body is not valid base64."),
        (_seal_wrapper(b"{}"), lambda _: None, UNKNOWN_KEY_7),
        (_seal_wrapper(b"{}"), lambda _: OTHER_KEY, BAD_DATA),
        (base64.b64encode(b"\x00" * 20).decode(), lookup, BAD_DATA),
    ],
)
def test_unwrap_errors_have_upstream_messages(text: str, key_lookup: Any, message: str) -> None:
    rejection = unwrap_refresh_token(text, key_lookup)
    assert isinstance(rejection, WrapperRejection)
    assert rejection.message == message


def test_unwrap_unknown_key_reports_signed_id() -> None:
    raw = bytearray(base64.b64decode(_wrapped()))
    raw[1:5] = struct.pack(">i", -5)
    rejection = unwrap_refresh_token(base64.b64encode(bytes(raw)), lookup)
    assert isinstance(rejection, WrapperRejection)
    assert rejection.message == "Invalid key: Generator of this token (Key ID: -5) does not exist."


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not json",
        b"[]",
        b'{"refresh_token":"x"}',
        b'{"refresh_response_key":"BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU="}',
        b'{"refresh_response_key":"@@","refresh_token":"x"}',
        b'{"refresh_response_key":"AAAA","refresh_token":"x"}',  # 3-byte key
        b'{"refresh_response_key":"BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=","refresh_token":1}',
        b"\xff\xfe",
    ],
)
def test_unwrap_bad_format(plaintext: bytes) -> None:
    rejection = unwrap_refresh_token(_seal_wrapper(plaintext), lookup)
    assert isinstance(rejection, WrapperRejection)
    assert rejection.status is RefreshTokenStatus.WRAPPER_BAD_FORMAT
    assert (
        rejection.message == "Invalid format: Payload is not valid json or missing required data."
    )


def test_unwrapped_repr_hides_key() -> None:
    assert "\\x05" not in repr(UnwrappedRefreshToken("inner", RRK))


# ---------------------------------------------------------------------------- lifetimes, identity


def test_lifetimes_defaults_are_production() -> None:
    assert TokenLifetimes() == TokenLifetimes(259_200, 2_592_000, 3_600)


@pytest.mark.parametrize(
    "args", [(3600, 3599, 900), (3600, 86400, 3601), (100, 100, -1), (1, 0, 0)]
)
def test_lifetimes_ordering_enforced(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        TokenLifetimes(*args)


def test_lifetimes_equal_values_allowed() -> None:
    TokenLifetimes(identity_seconds=60, refresh_seconds=60, refresh_from_seconds=60)


def test_token_times() -> None:
    times = token_times(TokenLifetimes(3600, 86400, 900), NOW)
    assert times == TokenTimes(NOW + 3_600_000, NOW + 86_400_000, NOW + 900_000)


def _identity() -> IdentityResponse:
    times = token_times(TokenLifetimes(3600, 86400, 900), NOW)
    return IdentityResponse.build("A4adv", "wrapped", RRK, times)


def test_identity_response_body_field_order() -> None:
    body = _identity().to_json_body()
    assert list(body) == [
        "advertising_token",
        "refresh_token",
        "identity_expires",
        "refresh_expires",
        "refresh_from",
        "refresh_response_key",
    ]
    assert body["refresh_response_key"] == base64.b64encode(RRK).decode()
    assert body["identity_expires"] == NOW + 3_600_000


def test_identity_response_success_json() -> None:
    text = _identity().to_success_json()
    assert text.startswith(b'{"status":"success","body":{"advertising_token":"A4adv",')
    assert json.loads(text)["body"] == _identity().to_json_body()


def test_identity_response_repr_hides_tokens() -> None:
    text = repr(_identity())
    assert "A4adv" not in text and "wrapped" not in text and "BQUF" not in text


# ---------------------------------------------------------------------------- refresh response


def test_refresh_response_layout_and_binary() -> None:
    raw = seal_refresh_response_bytes(RRK, b'{"status":"optout"}', iv=b"\x07" * 12)
    assert raw[:12] == b"\x07" * 12 and len(raw) == 12 + 19 + 16
    assert open_refresh_response(RRK, raw, binary=True) == b'{"status":"optout"}'
    text = seal_refresh_response(RRK, b'{"status":"optout"}', iv=b"\x07" * 12)
    assert base64.b64decode(text) == raw


@pytest.mark.parametrize(
    ("key", "body", "status"),
    [
        (RRK, "%%", RefreshTokenStatus.RESPONSE_NOT_BASE64),
        (b"\x06" * 32, None, RefreshTokenStatus.RESPONSE_UNREADABLE),
        (RRK, "", RefreshTokenStatus.RESPONSE_UNREADABLE),
        (b"\x05" * 7, None, RefreshTokenStatus.RESPONSE_UNREADABLE),
    ],
)
def test_open_refresh_response_failures(
    key: bytes, body: str | None, status: RefreshTokenStatus
) -> None:
    if body is None:
        body = seal_refresh_response(RRK, b"{}", iv=b"\x07" * 12)
    assert open_refresh_response(key, body) is status

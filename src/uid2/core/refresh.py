"""Refresh tokens, their v2 wrapper, and the identity a generate/refresh call returns.

Three layers (operator.md §3.7-§3.9, §1.5-§1.6):

* the inner V3 refresh token, 124 bytes / 168 base64 chars, under the refresh key (keyset -2)::

      byte0 = scope<<4 | type<<2 | 3, byte1 = 112, key id (int32 BE), GCM(payload 90 B)

  plus the legacy V2 (AES-CBC) token, which is only ever decoded;
* the wrapper handed to clients, exactly 388 base64 chars::

      scope<<4, key id (int32 BE), GCM({"refresh_response_key":..,"refresh_token":..})

* the refresh response, ``base64(iv || GCM(refresh_response_key, JSON) || tag)`` with no
  timestamp or nonce (operator.md §1.6, sdk.md §6.3).

Decoders return a status instead of raising; encoders raise ``ValueError`` for bad arguments.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from uid2.core.aead import cbc_open, gcm_open, gcm_seal
from uid2.core.encoding import b64decode_strict, b64encode, i32, i64
from uid2.core.enums import IdentityScope, IdentityType
from uid2.core.keys import Key

KeyLookup = Callable[[int], Key | None]

REFRESH_TOKEN_V3 = 112
_LEGACY_V2 = 2
FIRST_LEVEL_HASH_SIZE = 32
REFRESH_RESPONSE_KEY_SIZE = 32
WRAPPED_REFRESH_TOKEN_LENGTH = 388
_HEADER = struct.Struct(">BBi")  # identity byte, version, refresh key id
# expires, created, operator site/type/version/key id, publisher site id/publisher id/client key
# id, privacy bits, established, identity byte, first-level hash (operator.md §3.7)
_PAYLOAD = struct.Struct(">qqiBiiiqiiqB32s")
_GCM_OVERHEAD = 12 + 16
_V3_SIZE = _HEADER.size + _GCM_OVERHEAD + _PAYLOAD.size  # 124
_LEGACY_HEADER = struct.Struct(">Bqqqi")  # 0x02, created, expires (unused), valid till, key id
_WRAPPER_HEADER = struct.Struct(">Bi")  # scope<<4, refresh key id


class RefreshTokenStatus(Enum):
    # Inner token: the operator reports all of these as "Invalid Token presented".
    NOT_BASE64 = "refresh token is not valid base64"
    UNKNOWN_VERSION = "refresh token version is not supported"
    INVALID_LENGTH = "refresh token has the wrong length"
    UNKNOWN_KEY = "refresh token key is unknown"
    DECRYPT_FAILED = "refresh token does not decrypt"
    IDENTITY_MISMATCH = "refresh token identity scope or type is inconsistent"
    INVALID_PAYLOAD = "refresh token payload is malformed"
    # v2 wrapper: the exact upstream client_error messages (operator.md §1.6).
    WRAPPER_NOT_BASE64 = "Invalid body: Body is not valid base64."
    WRAPPER_UNKNOWN_KEY = "Invalid key: Generator of this token (Key ID: {key_id}) does not exist."
    WRAPPER_BAD_DATA = "Invalid data: Check encryption method and encryption key."
    WRAPPER_BAD_FORMAT = "Invalid format: Payload is not valid json or missing required data."
    # Refresh response, read by a client.
    RESPONSE_NOT_BASE64 = "refresh response is not valid base64"
    RESPONSE_UNREADABLE = "refresh response does not decrypt with the refresh_response_key"


# ---------------------------------------------------------------------------- inner token


@dataclass(frozen=True, slots=True)
class RefreshTokenFields:
    expires_ms: int
    created_ms: int
    site_id: int  # the publisher's site
    privacy_bits: int
    established_ms: int
    first_level_hash: bytes = field(repr=False)
    scope: IdentityScope = IdentityScope.UID2
    identity_type: IdentityType = IdentityType.Email
    publisher_id: int = 0  # always 0 today (operator.md §3.5)
    client_key_id: int = 0
    operator_site_id: int = 0  # the operator identity is constant: site 0, type Service (1)
    operator_type: int = 1
    operator_version: int = 0
    operator_key_id: int = 0

    def __post_init__(self) -> None:
        if len(self.first_level_hash) != FIRST_LEVEL_HASH_SIZE:
            raise ValueError("first_level_hash must be 32 bytes")


def identity_byte(scope: IdentityScope, identity_type: IdentityType) -> int:
    return (scope << 4) | (identity_type << 2) | 3


def _parse_identity_byte(value: int) -> tuple[IdentityScope, IdentityType] | None:
    scope, identity_type = value >> 4, (value >> 2) & 3
    if scope > 1 or identity_type > 1 or value & 3 != 3:
        return None
    return IdentityScope(scope), IdentityType(identity_type)


def encode_refresh_token(fields: RefreshTokenFields, key: Key, *, nonce: bytes) -> str:
    """The 168-char base64 inner V3 token."""
    return seal_refresh_token(
        identity_byte(fields.scope, fields.identity_type), key, nonce,
        fields.expires_ms, fields.created_ms, fields.site_id, fields.privacy_bits,
        fields.established_ms, fields.first_level_hash,
        operator=(fields.operator_site_id, fields.operator_type, fields.operator_version,
                  fields.operator_key_id),
        publisher=(fields.publisher_id, fields.client_key_id),
    )  # fmt: skip


def seal_refresh_token(
    ident: int,
    key: Key,
    nonce: bytes,
    expires_ms: int,
    created_ms: int,
    site_id: int,
    privacy_bits: int,
    established_ms: int,
    first_level_hash: bytes,
    *,
    operator: tuple[int, int, int, int] = (0, 1, 0, 0),
    publisher: tuple[int, int] = (0, 0),
) -> str:
    """:func:`encode_refresh_token` from plain values, for the operator's hot path (no
    :class:`RefreshTokenFields` to build). ``operator`` is (site id, type, version, key id),
    ``publisher`` (publisher id, client key id); both constant today (operator.md §3.5)."""
    try:
        payload = _PAYLOAD.pack(
            expires_ms, created_ms, *operator, site_id, *publisher, privacy_bits,
            established_ms, ident, first_level_hash,
        )  # fmt: skip
        header = _HEADER.pack(ident, REFRESH_TOKEN_V3, key.key_id)
    except struct.error as exc:
        raise ValueError(f"refresh token field out of range: {exc}") from exc
    return b64encode(header + gcm_seal(key.secret, nonce, payload))


def decode_refresh_token(
    text: str | bytes, lookup: KeyLookup
) -> RefreshTokenFields | RefreshTokenStatus:
    """Decode an inner refresh token (V3, or legacy V2); no policy checks (expiry, opt-out)."""
    data = b64decode_strict(text) if text else None
    if not data:
        return RefreshTokenStatus.NOT_BASE64
    # The version test order is upstream's: byte1 == 112 first, then byte0 == 2 (§1.6).
    if len(data) > 1 and data[1] == REFRESH_TOKEN_V3:
        return _decode_v3(data, lookup)
    if data[0] == _LEGACY_V2:
        return _decode_legacy_v2(data, lookup)
    return RefreshTokenStatus.UNKNOWN_VERSION


def _decode_v3(data: bytes, lookup: KeyLookup) -> RefreshTokenFields | RefreshTokenStatus:
    if len(data) != _V3_SIZE:
        return RefreshTokenStatus.INVALID_LENGTH
    ident, _, key_id = _HEADER.unpack_from(data)
    key = lookup(key_id)
    if key is None:
        return RefreshTokenStatus.UNKNOWN_KEY
    payload = gcm_open(key.secret, data[_HEADER.size :])
    if payload is None or len(payload) != _PAYLOAD.size:
        return RefreshTokenStatus.DECRYPT_FAILED
    values = _PAYLOAD.unpack(payload)
    identity = _parse_identity_byte(ident)
    # The header is not authenticated; the copy inside the payload is (§3.7).
    if identity is None or values[11] != ident:
        return RefreshTokenStatus.IDENTITY_MISMATCH
    return _fields_from_v3(values, identity)


def _fields_from_v3(
    values: tuple[Any, ...], identity: tuple[IdentityScope, IdentityType]
) -> RefreshTokenFields:
    (expires, created, op_site, op_type, op_version, op_key, site, publisher, client_key,
     privacy, established, _, first_level_hash) = values  # fmt: skip
    return RefreshTokenFields(
        expires_ms=expires, created_ms=created, site_id=site, privacy_bits=privacy,
        established_ms=established, first_level_hash=first_level_hash,
        scope=identity[0], identity_type=identity[1],
        publisher_id=publisher, client_key_id=client_key,
        operator_site_id=op_site, operator_type=op_type, operator_version=op_version,
        operator_key_id=op_key,
    )  # fmt: skip


def _decode_legacy_v2(data: bytes, lookup: KeyLookup) -> RefreshTokenFields | RefreshTokenStatus:
    # 0x02 || created || expires (unused) || valid till (= expires + 60 s) || key id ||
    # CBC(iv || siteId || len || b64(FLH) || privacy bits || established); UID2 email (§3.7).
    if len(data) < _LEGACY_HEADER.size + 32:
        return RefreshTokenStatus.INVALID_LENGTH
    _, created, _, valid_till, key_id = _LEGACY_HEADER.unpack_from(data)
    key = lookup(key_id)
    if key is None:
        return RefreshTokenStatus.UNKNOWN_KEY
    inner = cbc_open(key.secret, data[_LEGACY_HEADER.size :])
    if inner is None:
        return RefreshTokenStatus.DECRYPT_FAILED
    return _fields_from_legacy(inner, created, valid_till)


def _fields_from_legacy(
    inner: bytes, created: int, valid_till: int
) -> RefreshTokenFields | RefreshTokenStatus:
    hash_len = i32(inner, 4) if len(inner) >= 8 else -1
    if hash_len < 0 or len(inner) != 8 + hash_len + 12:
        return RefreshTokenStatus.INVALID_PAYLOAD
    first_level_hash = b64decode_strict(inner[8 : 8 + hash_len])
    if first_level_hash is None or len(first_level_hash) != FIRST_LEVEL_HASH_SIZE:
        return RefreshTokenStatus.INVALID_PAYLOAD
    return RefreshTokenFields(
        expires_ms=valid_till,
        created_ms=created,
        site_id=i32(inner, 0),
        privacy_bits=i32(inner, 8 + hash_len),
        established_ms=i64(inner, 12 + hash_len),
        first_level_hash=first_level_hash,
    )


# ---------------------------------------------------------------------------- v2 wrapper


@dataclass(frozen=True, slots=True)
class UnwrappedRefreshToken:
    inner: str  # the 168-char inner token, for decode_refresh_token
    refresh_response_key: bytes = field(repr=False)  # encrypts the answer to this refresh call


@dataclass(frozen=True, slots=True)
class WrapperRejection:
    status: RefreshTokenStatus
    key_id: int = 0  # only for WRAPPER_UNKNOWN_KEY

    @property
    def message(self) -> str:
        return self.status.value.format(key_id=self.key_id)


def wrap_refresh_token(
    inner: str, refresh_response_key: bytes, key: Key, scope: IdentityScope, *, nonce: bytes
) -> str:
    """The 388-char ``refresh_token`` clients receive (operator.md §3.8)."""
    if len(refresh_response_key) != REFRESH_RESPONSE_KEY_SIZE:
        raise ValueError("refresh_response_key must be 32 bytes")
    # Compact JSON in this key order; a single space would break the 388-char rule. Both
    # values are base64 (nothing to escape), so concatenation is that JSON, without the cost
    # of json.dumps on the operator's hottest path.
    plaintext = (
        '{"refresh_response_key":"' + b64encode(refresh_response_key)
        + '","refresh_token":"' + inner + '"}'
    ).encode("ascii")  # fmt: skip
    header = _WRAPPER_HEADER.pack(scope << 4, key.key_id)
    wrapped = b64encode(header + gcm_seal(key.secret, nonce, plaintext))
    if len(wrapped) != WRAPPED_REFRESH_TOKEN_LENGTH:
        # upstream throws with this text too
        raise ValueError(f"Generated refresh token's length={len(wrapped)} is not equal to=388")
    return wrapped


def unwrap_refresh_token(
    text: str | bytes, lookup: KeyLookup
) -> UnwrappedRefreshToken | WrapperRejection:
    """Open the wrapper; the caller sends 388-char bodies here and others to the inner decoder."""
    data = b64decode_strict(text)
    if data is None:
        return WrapperRejection(RefreshTokenStatus.WRAPPER_NOT_BASE64)
    if len(data) < _WRAPPER_HEADER.size + _GCM_OVERHEAD:
        return WrapperRejection(RefreshTokenStatus.WRAPPER_BAD_DATA)
    _, key_id = _WRAPPER_HEADER.unpack_from(data)
    key = lookup(key_id)
    if key is None:
        return WrapperRejection(RefreshTokenStatus.WRAPPER_UNKNOWN_KEY, key_id)
    plaintext = gcm_open(key.secret, data[_WRAPPER_HEADER.size :])
    if plaintext is None:
        return WrapperRejection(RefreshTokenStatus.WRAPPER_BAD_DATA)
    return _parse_wrapper_json(plaintext)


def _parse_wrapper_json(plaintext: bytes) -> UnwrappedRefreshToken | WrapperRejection:
    try:
        document = json.loads(plaintext)
    except (ValueError, RecursionError):
        document = None
    inner = document.get("refresh_token") if isinstance(document, dict) else None
    key_text = document.get("refresh_response_key") if isinstance(document, dict) else None
    response_key = b64decode_strict(key_text) if isinstance(key_text, str) else None
    # A key of another size could not encrypt the answer; refuse it here, not with a 500.
    if (
        not isinstance(inner, str)
        or response_key is None
        or len(response_key) != REFRESH_RESPONSE_KEY_SIZE
    ):
        return WrapperRejection(RefreshTokenStatus.WRAPPER_BAD_FORMAT)
    return UnwrappedRefreshToken(inner, response_key)


# ---------------------------------------------------------------------------- identity response


@dataclass(frozen=True, slots=True)
class TokenLifetimes:
    """Lifetimes in seconds (operator.md §3.9); refresh >= identity >= refresh_from."""

    identity_seconds: int = 259_200  # 3 days (production)
    refresh_seconds: int = 2_592_000  # 30 days
    refresh_from_seconds: int = 3_600  # 1 hour

    def __post_init__(self) -> None:
        if self.refresh_from_seconds < 0:
            raise ValueError("refresh_from_seconds must not be negative")
        if not self.refresh_seconds >= self.identity_seconds >= self.refresh_from_seconds:
            raise ValueError("token lifetimes need refresh >= identity >= refresh_from")


@dataclass(frozen=True, slots=True)
class TokenTimes:
    identity_expires_ms: int
    refresh_expires_ms: int  # also the inner refresh token's expires_ms (no grace period)
    refresh_from_ms: int


def token_times(lifetimes: TokenLifetimes, now_ms: int) -> TokenTimes:
    return TokenTimes(
        identity_expires_ms=now_ms + lifetimes.identity_seconds * 1000,
        refresh_expires_ms=now_ms + lifetimes.refresh_seconds * 1000,
        refresh_from_ms=now_ms + lifetimes.refresh_from_seconds * 1000,
    )


@dataclass(frozen=True, slots=True)
class IdentityResponse:
    advertising_token: str = field(repr=False)  # tokens and keys stay out of logs
    refresh_token: str = field(repr=False)  # the 388-char wrapper
    identity_expires: int  # epoch ms
    refresh_expires: int
    refresh_from: int
    refresh_response_key: str = field(repr=False)  # base64 of the 32-byte key

    @classmethod
    def build(
        cls,
        advertising_token: str,
        refresh_token: str,
        refresh_response_key: bytes,
        times: TokenTimes,
    ) -> IdentityResponse:
        return cls(
            advertising_token=advertising_token,
            refresh_token=refresh_token,
            identity_expires=times.identity_expires_ms,
            refresh_expires=times.refresh_expires_ms,
            refresh_from=times.refresh_from_ms,
            refresh_response_key=b64encode(refresh_response_key),
        )

    def to_json_body(self) -> dict[str, str | int]:
        """The ``body`` object, fields in the operator's order (operator.md §1.5)."""
        return {
            "advertising_token": self.advertising_token,
            "refresh_token": self.refresh_token,
            "identity_expires": self.identity_expires,
            "refresh_expires": self.refresh_expires,
            "refresh_from": self.refresh_from,
            "refresh_response_key": self.refresh_response_key,
        }

    def to_success_json(self) -> bytes:
        """``{"status":"success","body":{...}}`` as compact UTF-8 JSON."""
        document = {"status": "success", "body": self.to_json_body()}
        return json.dumps(document, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------- refresh response


def seal_refresh_response_bytes(
    refresh_response_key: bytes, json_bytes: bytes, *, iv: bytes
) -> bytes:
    """``iv || GCM(json) || tag``: the body for an octet-stream refresh request."""
    return gcm_seal(refresh_response_key, iv, json_bytes, cache=False)


def seal_refresh_response(refresh_response_key: bytes, json_bytes: bytes, *, iv: bytes) -> str:
    """The base64 body of a refresh answer (no timestamp or nonce, operator.md §1.6)."""
    return b64encode(seal_refresh_response_bytes(refresh_response_key, json_bytes, iv=iv))


def open_refresh_response(
    refresh_response_key: bytes, body: str | bytes, *, binary: bool = False
) -> bytes | RefreshTokenStatus:
    """The JSON of a refresh answer, read with the key of the identity that was refreshed."""
    blob = body if binary and isinstance(body, bytes) else b64decode_strict(body)
    if blob is None:
        return RefreshTokenStatus.RESPONSE_NOT_BASE64
    plaintext = gcm_open(refresh_response_key, blob, cache=False)
    return RefreshTokenStatus.RESPONSE_UNREADABLE if plaintext is None else plaintext

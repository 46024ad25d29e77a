"""The v3/v4 token body: AES-256-GCM, double encryption (sdk.md §2.3, operator.md §3.6).

v3 and v4 are the same bytes; only byte1 (112 / 128) and the text encoding differ, so the
thin :mod:`~uid2.core.tokens.v3` and :mod:`~uid2.core.tokens.v4` modules wrap this one.
Tokens have no AAD (sdk.md §2): the 6-byte header is not authenticated, which is why the
operator cross-checks the header's scope/type against a 33-byte raw UID's own byte0
(operator.md §3.6) and so do we.
"""

from __future__ import annotations

import struct

from uid2.core.aead import GCM_NONCE_SIZE, GCM_TAG_SIZE, cipher_for, gcm_open
from uid2.core.enums import AdvertisingTokenVersion, DecryptionStatus
from uid2.core.keys import Keyring
from uid2.core.tokens.fields import (
    RAW_UID_SIZES,
    SCOPE_AND_TYPE_BY_BYTE0,
    SCOPE_TYPE_MASK,
    InnerLayer,
    OperatorIdentity,
    OuterLayer,
    TokenFields,
)

HEADER = struct.Struct(">BBI")  # byte0, version byte, master key id
# expires, generated, operator site/type/version/key id, site key id (sdk.md §2.3)
MASTER_HEAD = struct.Struct(">qqiBiiI")
# site_id, publisher_id, client_key_id, privacy_bits, established, refreshed; then raw UID
SITE_HEAD = struct.Struct(">iqiiqq")
_GCM_OVERHEAD = GCM_NONCE_SIZE + GCM_TAG_SIZE
_MIN_SEALED_SITE = _GCM_OVERHEAD + SITE_HEAD.size + min(RAW_UID_SIZES)
_MIN_MASTER_PAYLOAD = MASTER_HEAD.size + _MIN_SEALED_SITE
MIN_TOKEN = HEADER.size + _GCM_OVERHEAD + _MIN_MASTER_PAYLOAD
GCM_VERSIONS = {
    v.value: v
    for v in (
        AdvertisingTokenVersion.ADVERTISING_TOKEN_V3,
        AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
    )
}
_INVALID = DecryptionStatus.INVALID_PAYLOAD


def header_byte0(fields: TokenFields) -> int:
    """``scope<<4 | type<<2 | 3``: the ``| 3`` makes base64 char 2 show the version digit."""
    if fields.identity_type is None:
        raise ValueError("v3/v4 tokens need an identity_type")
    return int(fields.identity_scope) << 4 | int(fields.identity_type) << 2 | 3


def open_outer(data: bytes, keyring: Keyring) -> OuterLayer | DecryptionStatus:
    """Authenticate and parse the master layer (sdk.md §3.2 steps 1-3)."""
    if len(data) < MIN_TOKEN:
        return _INVALID
    byte0, version_byte, master_key_id = HEADER.unpack_from(data)
    version = GCM_VERSIONS.get(version_byte)
    if version is None:
        return _INVALID
    master_key = keyring.get(master_key_id)
    if master_key is None:
        return DecryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY
    payload = gcm_open(master_key.secret, data[HEADER.size :])
    if payload is None or len(payload) < _MIN_MASTER_PAYLOAD:
        return _INVALID
    expires, generated, op_site, op_type, op_version, op_key, site_key_id = MASTER_HEAD.unpack_from(
        payload
    )
    scope, identity_type = SCOPE_AND_TYPE_BY_BYTE0[byte0]
    return OuterLayer(
        version, scope, identity_type, byte0,
        master_key_id, expires, generated, (op_site, op_type, op_version, op_key), site_key_id,
        payload[MASTER_HEAD.size :],
    )  # fmt: skip


def open_inner(outer: OuterLayer, site_secret: bytes) -> InnerLayer | DecryptionStatus:
    """Authenticate and parse the site layer; the raw UID must be 32 or 33 bytes."""
    site = gcm_open(site_secret, outer.sealed_site_payload)
    if site is None or len(site) - SITE_HEAD.size not in RAW_UID_SIZES:
        return _INVALID
    raw_uid = site[SITE_HEAD.size :]
    # operator.md §3.6: a 33-byte id carries its own scope/type, which must match the header.
    if len(raw_uid) == 33 and (raw_uid[0] ^ outer.header_byte0) & SCOPE_TYPE_MASK:
        return DecryptionStatus.INVALID_IDENTITY_SCOPE
    site_id, publisher_id, client_key_id, privacy, established, refreshed = SITE_HEAD.unpack_from(
        site
    )
    return InnerLayer(site_id, publisher_id, client_key_id, privacy, established, refreshed,
                      raw_uid)  # fmt: skip


def _check_encodable(fields: TokenFields, byte0: int) -> None:
    if fields.version not in GCM_VERSIONS.values():
        raise ValueError("gcm token encode needs version V3 or V4")
    if fields.generated_ms is None or fields.refreshed_ms is None:
        raise ValueError("v3/v4 tokens need generated_ms and refreshed_ms")
    if len(fields.raw_uid) not in RAW_UID_SIZES:
        raise ValueError("raw UID must be 32 or 33 bytes")
    if len(fields.raw_uid) == 33 and (fields.raw_uid[0] ^ byte0) & SCOPE_TYPE_MASK:
        raise ValueError("identity scope/type disagree with the raw UID's first byte")


def pack_payloads(
    byte0: int,
    version: AdvertisingTokenVersion,
    master_key_id: int,
    expires_ms: int,
    generated_ms: int,
    operator: OperatorIdentity,
    site_key_id: int,
    site_id: int,
    publisher_id: int,
    client_key_id: int,
    privacy_bits: int,
    established_ms: int,
    refreshed_ms: int,
    raw_uid: bytes,
) -> tuple[bytes, bytes, bytes]:
    """Header, master-layer head and site payload; ValueError if a field does not fit."""
    try:
        header = HEADER.pack(byte0, version, master_key_id)  # an IntEnum packs as its int
        master_head = MASTER_HEAD.pack(
            expires_ms, generated_ms, operator.site_id, operator.type, operator.version,
            operator.key_id, site_key_id,
        )  # fmt: skip
        site_head = SITE_HEAD.pack(
            site_id, publisher_id, client_key_id, privacy_bits, established_ms, refreshed_ms
        )
    except struct.error as exc:
        raise ValueError(f"token field out of range: {exc}") from exc
    return header, master_head, site_head + raw_uid


def seal_payloads(
    payloads: tuple[bytes, bytes, bytes],
    master_secret: bytes,
    site_secret: bytes,
    master_nonce: bytes,
    site_nonce: bytes,
) -> bytes:
    """The token bytes: the site payload sealed inside the master payload.

    The cached ciphers are called directly, as in the decrypt fast path: this runs on every
    sharing encrypt and every token the operator issues. ``gcm_seal``'s layout, inlined."""
    if len(master_nonce) != GCM_NONCE_SIZE or len(site_nonce) != GCM_NONCE_SIZE:
        raise ValueError("GCM nonce must be 12 bytes")
    header, master_head, site_payload = payloads
    site_sealed = cipher_for(site_secret).encrypt(site_nonce, site_payload, None)
    master_payload = master_head + site_nonce + site_sealed
    return (
        header
        + master_nonce
        + cipher_for(master_secret).encrypt(master_nonce, master_payload, None)
    )


def encode_bytes(
    fields: TokenFields,
    *,
    master_secret: bytes,
    site_secret: bytes,
    master_nonce: bytes,
    site_nonce: bytes,
) -> bytes:
    """Token bytes for a v3 or v4 token (the version byte comes from ``fields.version``).

    :raises ValueError: bad version, missing times or type, raw UID size or scope/type
        mismatch, nonce not 12 bytes, or a field out of range.
    """
    byte0 = header_byte0(fields)
    _check_encodable(fields, byte0)
    payloads = pack_payloads(
        byte0, fields.version, fields.master_key_id, fields.expires_ms,
        fields.generated_ms or 0, fields.operator or OperatorIdentity(), fields.site_key_id,
        fields.site_id, fields.publisher_id, fields.client_key_id, fields.privacy_bits,
        fields.established_ms, fields.refreshed_ms or 0, fields.raw_uid,
    )  # fmt: skip
    return seal_payloads(payloads, master_secret, site_secret, master_nonce, site_nonce)

"""Raw UID derivation: DII hash -> first-level hash -> salt bucket -> raw UID2.

The raw UID2 (the "advertising id") is what tokens carry and what identity map returns. It must
be bit-identical to the reference operator's, or tokens from different operators stop matching.
This module is the whole pipeline of operator.md §3.2-§3.4 plus the two time rules the operator
applies to salt buckets (§3.4 "Previous raw UID", §5.3 "What the operator exposes").

Three formats exist (operator.md §0):

* v2, 32 bytes: a salted SHA-256 (UID2 default);
* v3, 33 bytes: one scope/type byte, then the v2 hash (EUID);
* v4, 33 bytes: the FLH's last 16 bytes encrypted under bucket key material, self-describing
  through its first byte and protected by an XOR checksum.

It also reads the first byte back (``decode_raw_uid_metadata``), which is how the SDK learns the
identity type of a raw UID instead of guessing from base64 text (sdk.md §11 item 7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from functools import reduce
from operator import xor

from uid2.core.aead import ctr_transform
from uid2.core.dii import DII_HASH_SIZE
from uid2.core.encoding import b64encode
from uid2.core.enums import IdentityEnvironment, IdentityScope, IdentityType

FLH_SIZE = 32
RAW_UID_V2_SIZE = 32
RAW_UID_V3_SIZE = 33  # also the v4 size
PRODUCTION_BUCKET_COUNT = 1 << 20  # 1,048,576: the index is used without a modulo
MS_PER_DAY = 86_400_000
PREVIOUS_UID_MAX_AGE_DAYS = 90

_V4_FLAG = 0x20
_SCOPE_SHIFT = 4
_TYPE_SHIFT = 2
_ENV_SHIFT = 6
_MAX_KEY_ID = (1 << 24) - 1  # the key id travels as 3 bytes
_V4_PLAIN_TAIL = slice(16, 32)  # the FLH bytes a v4 id encrypts
_CTR_COUNTER_ZERO = bytes(4)
_IV_SIZE = 12


class RawUidVersion(IntEnum):
    V2 = 2
    V3 = 3
    V4 = 4


@dataclass(frozen=True, slots=True)
class RawUidMetadata:
    """What the first byte of a 33-byte raw UID says about it.

    ``environment`` and ``key_id`` are set for v4 only.
    """

    version: RawUidVersion
    scope: IdentityScope
    identity_type: IdentityType
    environment: IdentityEnvironment | None = None
    key_id: int | None = None


# --- hashing -----------------------------------------------------------------------------------


def _salted_sha256(data: bytes, salt: str) -> bytes:
    # Both salts are used as their literal (base64-looking) characters, never decoded.
    return hashlib.sha256(b64encode(data).encode("ascii") + salt.encode("ascii")).digest()


def first_level_hash(dii_hash: bytes, first_level_salt: str) -> bytes:
    """FLH = SHA-256(ASCII(b64(DII hash)) || ASCII(first_level_salt)), 32 bytes (§3.2).

    The FLH is what refresh tokens store and what opt-out records are keyed on.
    """
    if len(dii_hash) != DII_HASH_SIZE:
        raise ValueError("DII hash must be 32 bytes")
    return _salted_sha256(dii_hash, first_level_salt)


def bucket_index(flh: bytes, bucket_count: int) -> int:
    """The salt-file line for an FLH (§3.3).

    The 20-bit index takes the LOW nibble of byte 2, as the reference does.
    """
    if bucket_count <= 0:
        raise ValueError("bucket_count must be positive")
    index = (flh[0] << 12) | (flh[1] << 4) | (flh[2] & 0x0F)
    return index if bucket_count == PRODUCTION_BUCKET_COUNT else index % bucket_count


# --- raw UID formats ---------------------------------------------------------------------------


def _identity_bits(scope: IdentityScope, identity_type: IdentityType) -> int:
    return (int(scope) << _SCOPE_SHIFT) | (int(identity_type) << _TYPE_SHIFT)


def raw_uid_v2(flh: bytes, rotating_salt: str) -> bytes:
    """v2: SHA-256(ASCII(b64(FLH)) || ASCII(rotating_salt)), 32 bytes."""
    _check_flh(flh)
    return _salted_sha256(flh, rotating_salt)


def raw_uid_v3(
    flh: bytes, rotating_salt: str, scope: IdentityScope, identity_type: IdentityType
) -> bytes:
    """v3: one byte ``scope<<4 | type<<2`` then the v2 hash, 33 bytes."""
    return bytes([_identity_bits(scope, identity_type)]) + raw_uid_v2(flh, rotating_salt)


def raw_uid_v4(
    flh: bytes,
    key_id: int,
    key: str,
    key_salt: str,
    scope: IdentityScope,
    identity_type: IdentityType,
    environment: IdentityEnvironment,
) -> bytes:
    """v4: ``metadata || kid3 || iv12 || AES-CTR(FLH[16:32]) || xor-checksum``, 33 bytes (§3.4).

    ``key`` is the bucket key material's text, used as ASCII bytes (32 chars give AES-256);
    ``key_salt`` is its salt, also as ASCII.
    """
    _check_flh(flh)
    if not 0 <= key_id <= _MAX_KEY_ID:
        raise ValueError("v4 key id must fit in 3 bytes")
    metadata = bytes([_V4_FLAG | _identity_bits(scope, identity_type) | environment << _ENV_SHIFT])
    kid3 = key_id.to_bytes(3, "big")
    plain = flh[_V4_PLAIN_TAIL]
    # The IV is derived, not random, so the same FLH and key material give the same raw UID.
    iv = hashlib.sha256(key_salt.encode("ascii") + plain + metadata + kid3).digest()[:_IV_SIZE]
    encrypted = ctr_transform(key.encode("ascii"), iv + _CTR_COUNTER_ZERO, plain)
    body = metadata + kid3 + iv + encrypted
    return body + bytes([_xor_all(body)])


def _xor_all(data: bytes) -> int:
    return reduce(xor, data, 0)


def _check_flh(flh: bytes) -> None:
    if len(flh) != FLH_SIZE:
        raise ValueError("first-level hash must be 32 bytes")


# --- reading a raw UID back --------------------------------------------------------------------


def decode_raw_uid_metadata(raw: bytes) -> RawUidMetadata | None:
    """Scope, type (and for v4, environment and key id) of a 33-byte raw UID, or None.

    None for any other length (a 32-byte v2 id carries no metadata), for reserved bits set,
    for an unknown type or environment, and for a v4 id whose checksum does not match.
    """
    if len(raw) != RAW_UID_V3_SIZE:
        return None
    first = raw[0]
    type_bits = (first & 0x0F) >> _TYPE_SHIFT  # sdk.md §11 item 7
    if first & 0x03 or type_bits > IdentityType.Phone:
        return None
    scope = IdentityScope((first >> _SCOPE_SHIFT) & 0x01)
    identity_type = IdentityType(type_bits)
    if not first & _V4_FLAG:
        # v3 has nothing above the scope bit.
        return None if first >> 5 else RawUidMetadata(RawUidVersion.V3, scope, identity_type)
    return _decode_v4(raw, scope, identity_type)


def _decode_v4(
    raw: bytes, scope: IdentityScope, identity_type: IdentityType
) -> RawUidMetadata | None:
    env_bits = raw[0] >> _ENV_SHIFT
    if env_bits > IdentityEnvironment.PROD or _xor_all(raw[:-1]) != raw[-1]:
        return None
    key_id = int.from_bytes(raw[1:4], "big")
    environment = IdentityEnvironment(env_bits)
    return RawUidMetadata(RawUidVersion.V4, scope, identity_type, environment, key_id)


def raw_uid_identity(raw: bytes) -> tuple[IdentityScope, IdentityType] | None:
    """(scope, type) read from a 33-byte raw UID's first byte, or None (see above)."""
    meta = decode_raw_uid_metadata(raw)
    return None if meta is None else (meta.scope, meta.identity_type)


# --- salt-bucket time rules --------------------------------------------------------------------


def refresh_from_for(bucket_refresh_from_ms: int, now_ms: int) -> int:
    """The refresh time shown to clients for a bucket (v3 map ``r``; operator.md §5.3).

    A refreshFrom already in the past says nothing useful to a client, so it becomes the start
    of the next UTC day: salt rotation runs daily, so that is the earliest a new salt can appear.
    """
    if bucket_refresh_from_ms < now_ms:
        return (now_ms // MS_PER_DAY + 1) * MS_PER_DAY
    return bucket_refresh_from_ms


def previous_uid_visible(last_updated_ms: int, now_ms: int) -> bool:
    """Whether a bucket's previous raw UID may still be shown (operator.md §3.4).

    Whole days since the bucket was last updated must be under 90. Java truncates and Python
    floors, but the two only differ for a future ``last_updated_ms``, where both are < 90.
    The caller still checks that a previous salt or key actually exists.
    """
    return (now_ms - last_updated_ms) // MS_PER_DAY < PREVIOUS_UID_MAX_AGE_DAYS

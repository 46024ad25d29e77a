"""Legacy v2 advertising tokens: AES-256-CBC, double encryption, no MAC (sdk.md §2.2).

Decoded, never minted by current operators (operator.md §3.6, last bullet); encoding exists
for tests and vectors. CBC has no authentication, so the best we can do is to validate the
PKCS#7 padding and the exact identity length (the SDK trusts the last byte, sdk.md §2.2).
"""

from __future__ import annotations

import struct

from uid2.core.aead import CBC_IV_SIZE, cbc_open, cbc_seal
from uid2.core.encoding import b64decode_strict, b64encode
from uid2.core.enums import AdvertisingTokenVersion, DecryptionStatus
from uid2.core.keys import Keyring
from uid2.core.tokens.codec import TokenCodec
from uid2.core.tokens.fields import RAW_UID_SIZES, InnerLayer, OuterLayer, TokenFields

VERSION_BYTE = 2
_V2 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V2
HEADER = struct.Struct(">BI")  # 0x02, master key id
MASTER_HEAD = struct.Struct(">qI")  # expires_ms, site key id; then IV2 || CBC(site)
IDENTITY_HEAD = struct.Struct(">iI")  # site_id, id_len; then base64 text of the raw UID
IDENTITY_TAIL = struct.Struct(">iq")  # privacy_bits, established_ms
_BLOCK = 16
MIN_TOKEN = HEADER.size + CBC_IV_SIZE + _BLOCK
_MIN_MASTER_PAYLOAD = MASTER_HEAD.size + CBC_IV_SIZE + _BLOCK
_INVALID = DecryptionStatus.INVALID_PAYLOAD


def open_outer(data: bytes, keyring: Keyring) -> OuterLayer | DecryptionStatus:
    """Decrypt the master layer (sdk.md §3.7: key id at 1..5, IV1 at 5..21)."""
    if len(data) < MIN_TOKEN or data[0] != VERSION_BYTE:
        return _INVALID
    master_key_id = HEADER.unpack_from(data)[1]
    master_key = keyring.get(master_key_id)
    if master_key is None:
        return DecryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY
    payload = cbc_open(master_key.secret, data[HEADER.size :])
    if payload is None or len(payload) < _MIN_MASTER_PAYLOAD:
        return _INVALID
    expires_ms, site_key_id = MASTER_HEAD.unpack_from(payload)
    sealed = payload[MASTER_HEAD.size :]
    return OuterLayer(_V2, None, None, VERSION_BYTE, master_key_id, expires_ms, None, None,
                      site_key_id, sealed)  # fmt: skip


def open_inner(outer: OuterLayer, site_secret: bytes) -> InnerLayer | DecryptionStatus:
    """Decrypt the identity; its length must add up exactly and the id must be base64."""
    identity = cbc_open(site_secret, outer.sealed_site_payload)
    if identity is None or len(identity) < IDENTITY_HEAD.size:
        return _INVALID
    site_id, id_len = IDENTITY_HEAD.unpack_from(identity)
    tail_at = IDENTITY_HEAD.size + id_len
    if len(identity) != tail_at + IDENTITY_TAIL.size:
        return _INVALID
    raw_uid = b64decode_strict(identity[IDENTITY_HEAD.size : tail_at])
    if raw_uid is None or len(raw_uid) not in RAW_UID_SIZES:
        return _INVALID
    privacy_bits, established_ms = IDENTITY_TAIL.unpack_from(identity, tail_at)
    return InnerLayer(site_id, 0, 0, privacy_bits, established_ms, None, raw_uid)


def encode(
    fields: TokenFields,
    *,
    master_secret: bytes,
    site_secret: bytes,
    master_nonce: bytes,
    site_nonce: bytes,
) -> str:
    """Build a v2 token; the nonces are the two 16-byte CBC IVs (master IV1, identity IV2).

    :raises ValueError: wrong version, IV size, or a field that does not fit its slot.
    """
    if fields.version is not _V2:
        raise ValueError("v2.encode needs fields.version == ADVERTISING_TOKEN_V2")
    id_text = b64encode(fields.raw_uid).encode("ascii")
    try:
        identity = (
            IDENTITY_HEAD.pack(fields.site_id, len(id_text))
            + id_text
            + IDENTITY_TAIL.pack(fields.privacy_bits, fields.established_ms)
        )
        master_head = MASTER_HEAD.pack(fields.expires_ms, fields.site_key_id)
        header = HEADER.pack(VERSION_BYTE, fields.master_key_id)
    except struct.error as exc:
        raise ValueError(f"token field out of range: {exc}") from exc
    master_payload = master_head + cbc_seal(site_secret, site_nonce, identity)
    return b64encode(header + cbc_seal(master_secret, master_nonce, master_payload))


CODEC = TokenCodec(
    version=_V2,
    decode_text=b64decode_strict,
    open_outer=open_outer,
    open_inner=open_inner,
    encode=encode,
)

"""One-function success path for v3/v4 tokens, for bid loops (sdk.md §10, §11.14).

The general path (:mod:`.decrypt` over the codecs) is layered for clarity and computes the
exact status of any input; its dozen calls and intermediate tuples cost several times more
than the two AES-GCM decryptions. This path does the same checks inline and returns a
result only when every one passes; on anything else it returns ``None`` and the caller runs
the general path, which then decides the status. So it can only ever speed up a SUCCESS:
a test checks that both paths agree on every token it produces.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag

from uid2.core.aead import GCM_NONCE_SIZE, cbc_open, cipher_for
from uid2.core.encoding import b64decode_any, b64decode_strict
from uid2.core.enums import AdvertisingTokenVersion, ClientType, DecryptionStatus
from uid2.core.keys import Keyring
from uid2.core.tokens import v2
from uid2.core.tokens.fields import (
    PRIVACY_CSTG,
    RAW_UID_SIZES,
    SCOPE_AND_TYPE_BY_BYTE0,
    SCOPE_TYPE_MASK,
)
from uid2.core.tokens.gcm_token import GCM_VERSIONS, HEADER, MASTER_HEAD, MIN_TOKEN, SITE_HEAD
from uid2.core.tokens.result import DecryptResult, b64, has_valid_lifetime, make_result

_SUCCESS = DecryptionStatus.SUCCESS
_V2 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V2
_BIDSTREAM = ClientType.BIDSTREAM
_RAW_UID_AT = SITE_HEAD.size
# layer offsets: each sealed layer is nonce(12) || ciphertext || tag (sdk.md §2.3)
_MASTER_NONCE = slice(HEADER.size, HEADER.size + GCM_NONCE_SIZE)
_MASTER_SEALED = slice(HEADER.size + GCM_NONCE_SIZE, None)
_SITE_NONCE = slice(MASTER_HEAD.size, MASTER_HEAD.size + GCM_NONCE_SIZE)
_SITE_SEALED = slice(MASTER_HEAD.size + GCM_NONCE_SIZE, None)


def _token_bytes(text: str) -> bytes | None:
    # The second base64 character shows the version digit (operator.md §3.6, byte0 | 3).
    digit = text[1:2]
    if digit == "4":
        return b64decode_any(text)
    return b64decode_strict(text) if digit == "3" else None


def try_fast_decrypt(
    text: str, keyring: Keyring, now_ms: int, client_type: ClientType, name: str | None
) -> DecryptResult | None:
    if text.startswith("Ag"):  # byte0 == 2: a legacy v2 token
        return _try_v2(text, keyring, now_ms, client_type)
    data = _token_bytes(text)
    if data is None or len(data) < MIN_TOKEN:
        return None
    byte0, version_byte, master_key_id = HEADER.unpack_from(data)
    keys = keyring.keys
    master_key = keys.get(master_key_id)
    if master_key is None or version_byte not in GCM_VERSIONS:
        return None
    try:
        payload = cipher_for(master_key.secret).decrypt(
            data[_MASTER_NONCE], data[_MASTER_SEALED], None
        )
        expires, generated, _, _, _, _, site_key_id = MASTER_HEAD.unpack_from(payload)
        site_key = keys.get(site_key_id)
        if expires < now_ms or site_key is None:
            return None
        site = cipher_for(site_key.secret).decrypt(
            payload[_SITE_NONCE], payload[_SITE_SEALED], None
        )
    except (InvalidTag, ValueError, struct.error):
        return None
    raw_uid = site[_RAW_UID_AT:]
    scope, identity_type = SCOPE_AND_TYPE_BY_BYTE0[byte0]
    if len(raw_uid) not in RAW_UID_SIZES or (
        len(raw_uid) == 33 and (raw_uid[0] ^ byte0) & SCOPE_TYPE_MASK
    ):
        return None
    site_id, _, _, privacy, established, _ = SITE_HEAD.unpack_from(site)
    if (
        scope is not keyring.identity_scope
        or (privacy & PRIVACY_CSTG and client_type is _BIDSTREAM)  # domain check: general path
        or not has_valid_lifetime(keyring, client_type, generated, expires, now_ms)
    ):
        return None
    return make_result(
        _SUCCESS, b64(raw_uid), established, site_id, site_key.site_id, scope, identity_type,
        GCM_VERSIONS[version_byte], bool(privacy & PRIVACY_CSTG), expires, generated,
    )  # fmt: skip


def _try_v2(
    text: str, keyring: Keyring, now_ms: int, client_type: ClientType
) -> DecryptResult | None:
    data = b64decode_strict(text)
    if data is None or len(data) < v2.MIN_TOKEN or data[0] != v2.VERSION_BYTE:
        return None
    master_key = keyring.keys.get(v2.HEADER.unpack_from(data)[1])
    payload = cbc_open(master_key.secret, data[v2.HEADER.size :]) if master_key else None
    if payload is None or len(payload) < v2.MASTER_HEAD.size:
        return None
    expires, site_key_id = v2.MASTER_HEAD.unpack_from(payload)
    site_key = keyring.keys.get(site_key_id)
    if expires < now_ms or site_key is None:
        return None
    identity = cbc_open(site_key.secret, payload[v2.MASTER_HEAD.size :])
    if identity is None or len(identity) < v2.IDENTITY_HEAD.size:
        return None
    site_id, id_len = v2.IDENTITY_HEAD.unpack_from(identity)
    tail_at = v2.IDENTITY_HEAD.size + id_len
    raw_uid = b64decode_strict(identity[v2.IDENTITY_HEAD.size : tail_at])
    if (
        len(identity) != tail_at + v2.IDENTITY_TAIL.size
        or raw_uid is None
        or len(raw_uid) not in RAW_UID_SIZES
    ):
        return None
    privacy, established = v2.IDENTITY_TAIL.unpack_from(identity, tail_at)
    if (privacy & PRIVACY_CSTG and client_type is _BIDSTREAM) or not has_valid_lifetime(
        keyring,
        client_type,
        now_ms,
        expires,
        now_ms,  # v2: remaining lifetime (sdk.md §3.3)
    ):
        return None
    return make_result(
        _SUCCESS, b64(raw_uid), established, site_id, site_key.site_id, keyring.identity_scope,
        None, _V2, bool(privacy & PRIVACY_CSTG), expires, None,
    )  # fmt: skip

"""Sharing tokens: a raw UID encrypted locally into a v4 token (sdk.md §2.4, §4.4).

Check order follows the SDK's ``encrypt`` (sdk.md §4.4): keyring present, keyring not stale,
master key, caller site id, site key, then the raw UID. Fixes (sdk.md §11.6-§11.8):

* keys are chosen by :class:`~uid2.core.keys.Keyring` (latest ``activates <= now``, whatever
  the JSON order);
* the identity type comes from the raw UID's bytes, not its first base64 character; raw UIDs
  that are not 32 or 33 bytes of base64 are INVALID_RAW_UID, and so is a 33-byte id whose
  own scope is not the token's scope (the operator would reject that token, operator.md §3.6);
* a missing ``caller_site_id`` is MISSING_CALLER_SITE_ID instead of ``None``;
* timestamps keep milliseconds. The SDK truncates them to whole seconds; both decrypt the
  other's tokens, since tokens carry milliseconds either way.
"""

from __future__ import annotations

from typing import NamedTuple

from uid2.core.aead import GCM_NONCE_SIZE
from uid2.core.encoding import b64decode_any, b64url_encode
from uid2.core.enums import (
    AdvertisingTokenVersion,
    EncryptionStatus,
    IdentityScope,
    IdentityType,
)
from uid2.core.keys import Key, Keyring
from uid2.core.tokens.fields import (
    RAW_UID_SIZES,
    OperatorIdentity,
    identity_scope_from_byte0,
)
from uid2.core.tokens.gcm_token import pack_payloads, seal_payloads

DEFAULT_TOKEN_EXPIRY_SECONDS = 30 * 24 * 3600  # when the keys omit token_expiry_seconds
_V4 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V4
_new_tuple = tuple.__new__  # positional construction, once per encrypt (sdk.md §10)
_SDK_OPERATOR = OperatorIdentity()  # site 0, type Service, version 0, key id 0 (sdk.md §2.4)
_E = EncryptionStatus


class EncryptResult(NamedTuple):
    status: EncryptionStatus
    token: str | None = None

    @property
    def success(self) -> bool:
        return self.status is EncryptionStatus.SUCCESS


def raw_uid_identity(
    raw_uid_b64: object, scope: IdentityScope
) -> tuple[bytes, IdentityType] | None:
    """Decode a raw UID and read its type; ``None`` if it is not a usable raw UID."""
    raw = b64decode_any(raw_uid_b64) if isinstance(raw_uid_b64, str) else None
    if raw is None or len(raw) not in RAW_UID_SIZES:
        return None
    if len(raw) == 32:
        return raw, IdentityType.Email  # raw UID v2 carries no type; Email by convention
    type_bits = (raw[0] & 0x0F) >> 2
    if type_bits > IdentityType.Phone or identity_scope_from_byte0(raw[0]) is not scope:
        return None
    return raw, IdentityType(type_bits)


_Sealing = tuple[Key, Key, int]  # master key, site key, caller site id


def _pick_keys(keyring: Keyring, keyset_id: int | None, now_ms: int) -> _Sealing | EncryptionStatus:
    master = keyring.master_key(now_ms)
    if master is None:
        return _E.NOT_AUTHORIZED_FOR_MASTER_KEY
    if keyring.caller_site_id is None:
        return _E.MISSING_CALLER_SITE_ID
    if keyset_id is None:
        site_key = keyring.default_keyset_key(now_ms)
    else:
        site_key = keyring.active_keyset_key(keyset_id, now_ms)
    if site_key is None:
        return _E.NOT_AUTHORIZED_FOR_KEY
    return master, site_key, keyring.caller_site_id


def encrypt_raw_uid(
    raw_uid_b64: str,
    keyring: Keyring | None,
    *,
    now_ms: int,
    master_nonce: bytes,
    site_nonce: bytes,
    keyset_id: int | None = None,
    identity_scope: IdentityScope | None = None,
) -> EncryptResult:
    """Encrypt a raw UID (base64) into a v4 sharing token.

    :param keyset_id: encrypt for this keyset instead of ``keyring.default_keyset_id``.
    :param identity_scope: defaults to ``keyring.identity_scope``.
    :raises ValueError: a nonce is not 12 bytes (a programming error, not a status).
    """
    if len(master_nonce) != GCM_NONCE_SIZE or len(site_nonce) != GCM_NONCE_SIZE:
        raise ValueError("master_nonce and site_nonce must be 12 bytes")
    if keyring is None:
        return EncryptResult(_E.NOT_INITIALIZED)
    if not keyring.is_valid(now_ms):
        return EncryptResult(_E.KEYS_NOT_SYNCED)
    keys = _pick_keys(keyring, keyset_id, now_ms)
    if isinstance(keys, EncryptionStatus):
        return EncryptResult(keys)
    scope = keyring.identity_scope if identity_scope is None else identity_scope
    identity = raw_uid_identity(raw_uid_b64, scope)
    if identity is None:
        return EncryptResult(_E.INVALID_RAW_UID)
    return _seal(keyring, keys, identity, scope, now_ms, master_nonce, site_nonce)


def _seal(
    keyring: Keyring,
    keys: _Sealing,
    identity: tuple[bytes, IdentityType],
    scope: IdentityScope,
    now_ms: int,
    master_nonce: bytes,
    site_nonce: bytes,
) -> EncryptResult:
    master, site_key, site_id = keys
    raw_uid, identity_type = identity
    expiry_seconds = keyring.token_expiry_seconds
    if expiry_seconds is None:
        expiry_seconds = DEFAULT_TOKEN_EXPIRY_SECONDS
    byte0 = scope << 4 | identity_type << 2 | 3
    try:
        payloads = pack_payloads(
            byte0, _V4, master.key_id, now_ms + expiry_seconds * 1000, now_ms, _SDK_OPERATOR,
            site_key.key_id, site_id, 0, 0, 0, now_ms, now_ms, raw_uid,
        )  # fmt: skip
    except ValueError:  # a field out of range, e.g. a caller site id over 2**31
        return EncryptResult(_E.ENCRYPTION_FAILURE)
    sealed = seal_payloads(payloads, master.secret, site_key.secret, master_nonce, site_nonce)
    return _new_tuple(EncryptResult, (_E.SUCCESS, b64url_encode(sealed)))

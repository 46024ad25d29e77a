"""The result of decrypting a token, and the lifetime rule (sdk.md §3.3).

Shared by the general decryption path (:mod:`.decrypt`) and the fast path (:mod:`.fast_path`).
"""

from __future__ import annotations

import binascii
from typing import NamedTuple

from uid2.core.enums import (
    AdvertisingTokenVersion,
    ClientType,
    DecryptionStatus,
    IdentityScope,
    IdentityType,
)
from uid2.core.keys import Keyring


class DecryptResult(NamedTuple):
    """The outcome of :func:`decrypt_token`; times are epoch milliseconds.

    ``uid`` is the raw UID in standard base64. ``is_client_side_generated`` is ``None`` when
    a v3/v4 token failed before its site layer was read (and ``False`` for v2), as in the SDK.
    An immutable tuple rather than a frozen dataclass: it is built once per decrypt, and a
    tuple costs a fraction of a frozen ``__init__`` (sdk.md §10).
    """

    status: DecryptionStatus
    uid: str | None = None
    established_ms: int | None = None
    site_id: int | None = None
    site_key_site_id: int | None = None
    identity_scope: IdentityScope | None = None
    identity_type: IdentityType | None = None
    advertising_token_version: AdvertisingTokenVersion | None = None
    is_client_side_generated: bool | None = None
    expiry_ms: int | None = None
    generated_ms: int | None = None  # v3/v4 only: v2 tokens carry no generated time

    @property
    def success(self) -> bool:
        return self.status is DecryptionStatus.SUCCESS


def b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")  # standard, padded


STATUS_ONLY = {status: DecryptResult(status) for status in DecryptionStatus}
_new_tuple = tuple.__new__


def make_result(
    status: DecryptionStatus,
    uid: str | None,
    established_ms: int | None,
    site_id: int,
    site_key_site_id: int,
    identity_scope: IdentityScope,
    identity_type: IdentityType | None,
    version: AdvertisingTokenVersion,
    is_client_side_generated: bool,
    expiry_ms: int,
    generated_ms: int | None,
) -> DecryptResult:
    """A fully filled result (positional, so it skips the NamedTuple keyword handling)."""
    return _new_tuple(DecryptResult, (
        status, uid, established_ms, site_id, site_key_site_id, identity_scope, identity_type,
        version, is_client_side_generated, expiry_ms, generated_ms,
    ))  # fmt: skip


def has_valid_lifetime(
    keyring: Keyring, client_type: ClientType, generated_ms: int, expires_ms: int, now_ms: int
) -> bool:
    """sdk.md §3.3: total lifetime within the maximum, and not generated too far ahead."""
    if client_type is ClientType.BIDSTREAM:
        max_seconds = keyring.max_bidstream_lifetime_seconds
    elif client_type is ClientType.SHARING:
        max_seconds = keyring.max_sharing_lifetime_seconds
    else:
        return True  # LEGACY_WITHOUT_DOMAIN_CHECK skips both checks (§3.6)
    if max_seconds is not None and expires_ms - generated_ms > max_seconds * 1000:
        return False
    if generated_ms <= now_ms:
        return True
    return generated_ms - now_ms <= keyring.allow_clock_skew_seconds * 1000

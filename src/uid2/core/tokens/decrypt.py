"""The SDK's token-decryption policy as one pure function (sdk.md §3).

Order of checks (sdk.md §3.1-§3.2): keyring present, keyring not stale, length, version,
master key, master layer, expiry, site key, site layer, then policy (scope, domain/app name,
lifetime). Which result fields are filled for each status follows the SDK (sdk.md §3.2,
§3.7) so results compare field by field with ``uid2_client``. Deliberate departures, each a
fault listed in sdk.md §11:

* it never raises: malformed input is INVALID_PAYLOAD, not ``EncryptionError`` (§11.4);
* ``is_client_side_generated`` reads privacy bit 0x2 (§11.2);
* BIDSTREAM + client-side-generated tokens must name a domain or app of the token's site
  in ``keyring.site_data`` (case-insensitive; ``None`` fails) (§11.1, §3.4);
* v3/v4 report the scope written in the token, and a token whose scope differs from the
  keyring's is INVALID_IDENTITY_SCOPE; so is a header that disagrees with a 33-byte raw
  UID's own scope/type (§11.5, operator.md §3.6). Keys JSON without ``identity_scope``
  means UID2, as in the SDK, so EUID tokens then need an EUID keyring.
"""

from __future__ import annotations

from uid2.core.enums import (
    AdvertisingTokenVersion,
    ClientType,
    DecryptionStatus,
    IdentityScope,
)
from uid2.core.keys import Keyring
from uid2.core.tokens.codec import TokenCodec
from uid2.core.tokens.fast_path import try_fast_decrypt
from uid2.core.tokens.fields import PRIVACY_CSTG, InnerLayer, OuterLayer
from uid2.core.tokens.registry import MAX_TOKEN_CHARS, MIN_TOKEN_CHARS, split_token
from uid2.core.tokens.result import STATUS_ONLY, DecryptResult, b64, has_valid_lifetime, make_result

_V2 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V2
_S = DecryptionStatus


def decrypt_token(
    token: object,
    keyring: Keyring | None,
    *,
    now_ms: int,
    client_type: ClientType,
    domain_or_app_name: str | None = None,
) -> DecryptResult:
    """Decrypt an advertising or sharing token under the SDK's rules; never raises.

    :param token: token text (``str``, or ASCII ``bytes``); anything else is INVALID_PAYLOAD.
    :param keyring: keys from ``/v2/key/bidstream`` or ``/v2/key/sharing``; ``None`` if
        never refreshed (NOT_INITIALIZED).
    :param now_ms: the caller's clock, epoch milliseconds.
    :param client_type: BIDSTREAM and SHARING check lifetimes; LEGACY skips them (§3.6).
    :param domain_or_app_name: where a bidstream token was seen (only checked for
        client-side generated tokens).
    """
    if keyring is None:
        return STATUS_ONLY[_S.NOT_INITIALIZED]
    if keyring.latest_expiry_ms <= now_ms:  # keyring.is_valid(now_ms), inlined
        return STATUS_ONLY[_S.KEYS_NOT_SYNCED]
    if type(token) is str and MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS:
        fast = try_fast_decrypt(token, keyring, now_ms, client_type, domain_or_app_name)
        if fast is not None:
            return fast
    return decrypt_general(token, keyring, now_ms, client_type, domain_or_app_name)


def decrypt_general(
    token: object, keyring: Keyring, now_ms: int, client_type: ClientType, name: str | None
) -> DecryptResult:
    """The layered path: decides the exact status of any input (a valid keyring given)."""
    split = split_token(token)
    if isinstance(split, DecryptionStatus):
        return STATUS_ONLY[split]
    codec, data = split
    outer = codec.open_outer(data, keyring)
    if isinstance(outer, DecryptionStatus):
        return STATUS_ONLY[outer]
    return _decrypt_site_layer(codec, outer, keyring, now_ms, client_type, name)


def _decrypt_site_layer(
    codec: TokenCodec,
    outer: OuterLayer,
    keyring: Keyring,
    now_ms: int,
    client_type: ClientType,
    name: str | None,
) -> DecryptResult:
    if outer.expires_ms < now_ms:  # strict: a token expiring exactly now is valid (§3.2.4)
        return _header_result(_S.EXPIRED_TOKEN, outer, keyring)
    site_key = keyring.get(outer.site_key_id)
    if site_key is None:
        return _header_result(_S.NOT_AUTHORIZED_FOR_KEY, outer, keyring)
    inner = codec.open_inner(outer, site_key.secret)
    if isinstance(inner, DecryptionStatus):
        return STATUS_ONLY[inner]
    status = _policy_status(outer, inner, keyring, now_ms, client_type, name)
    return _full_result(status, outer, inner, site_key.site_id, keyring)


def _scope(outer: OuterLayer, keyring: Keyring) -> IdentityScope:
    # v2 tokens carry no scope: report the keyring's, as the SDK does for every version.
    return keyring.identity_scope if outer.identity_scope is None else outer.identity_scope


def _header_result(status: DecryptionStatus, outer: OuterLayer, keyring: Keyring) -> DecryptResult:
    """EXPIRED_TOKEN / NOT_AUTHORIZED_FOR_KEY: only what the master layer told us."""
    return DecryptResult(
        status,
        identity_scope=_scope(outer, keyring),
        identity_type=outer.identity_type,
        advertising_token_version=outer.version,
        is_client_side_generated=False if outer.version is _V2 else None,
        expiry_ms=outer.expires_ms,
    )


def _policy_status(
    outer: OuterLayer,
    inner: InnerLayer,
    keyring: Keyring,
    now_ms: int,
    client_type: ClientType,
    name: str | None,
) -> DecryptionStatus:
    if outer.identity_scope is not None and outer.identity_scope is not keyring.identity_scope:
        return _S.INVALID_IDENTITY_SCOPE
    if (
        client_type is ClientType.BIDSTREAM
        and inner.privacy_bits & PRIVACY_CSTG
        and not _is_name_allowed(keyring, inner.site_id, name)
    ):
        return _S.DOMAIN_NAME_CHECK_FAILED
    # v2 has no generated time: the SDK checks the remaining lifetime instead (§3.3).
    generated_ms = now_ms if outer.generated_ms is None else outer.generated_ms
    if not has_valid_lifetime(keyring, client_type, generated_ms, outer.expires_ms, now_ms):
        return _S.INVALID_TOKEN_LIFETIME
    return _S.SUCCESS


def _is_name_allowed(keyring: Keyring, site_id: int, name: object) -> bool:
    """sdk.md §3.4: the name must be one of the site's domains or app names."""
    if not isinstance(name, str):
        return False
    return name.lower() in keyring.site_data.get(site_id, frozenset())


# Which statuses reveal the uid and the established time (sdk.md §3.2 steps 7-9, §3.7).
_HIDES_ESTABLISHED = frozenset({_S.DOMAIN_NAME_CHECK_FAILED, _S.INVALID_IDENTITY_SCOPE})


def _full_result(
    status: DecryptionStatus,
    outer: OuterLayer,
    inner: InnerLayer,
    site_key_site_id: int,
    keyring: Keyring,
) -> DecryptResult:
    shows_uid = status is _S.SUCCESS or (
        status is _S.INVALID_TOKEN_LIFETIME and outer.version is _V2
    )
    return make_result(
        status,
        b64(inner.raw_uid) if shows_uid else None,
        None if status in _HIDES_ESTABLISHED else inner.established_ms,
        inner.site_id,
        site_key_site_id,
        _scope(outer, keyring),
        outer.identity_type,
        outer.version,
        bool(inner.privacy_bits & PRIVACY_CSTG),
        outer.expires_ms,
        outer.generated_ms,
    )

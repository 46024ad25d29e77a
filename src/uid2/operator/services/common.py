"""What several endpoints share: reading one identity, raw UIDs, opt-out rules, issuing tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple

import orjson

from uid2.core.dii import DiiKind, dii_hash_for
from uid2.core.encoding import b64encode, b64url_encode
from uid2.core.enums import AdvertisingTokenVersion, IdentityType
from uid2.core.rawuid import bucket_index, first_level_hash, raw_uid_v2, raw_uid_v3
from uid2.core.refresh import seal_refresh_token, wrap_refresh_token
from uid2.core.tokens import OperatorIdentity
from uid2.core.tokens.gcm_token import pack_payloads, seal_payloads
from uid2.operator.errors import client_error, no_active_key
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot

RandomBytes = Callable[[int], bytes]
ALL_KINDS: Final = (DiiKind.EMAIL, DiiKind.EMAIL_HASH, DiiKind.PHONE, DiiKind.PHONE_HASH)
EMAIL_KINDS: Final = (DiiKind.EMAIL, DiiKind.EMAIL_HASH)
_FIELDS: Final = tuple((kind, kind.value) for kind in ALL_KINDS)
_EMAIL_FIELDS: Final = tuple((kind, kind.value) for kind in EMAIL_KINDS)
EXACTLY_ONE = (
    "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash]"
    " must be specified"
)
EXACTLY_ONE_EMAIL = (
    "Required Parameter Missing: exactly one of email or email_hash must be specified"
)
INVALID_IDENTIFIER = "Invalid Identifier"
FLH_ALWAYS_OPTED_OUT: Final = bytes(32)  # operator.md §6.1
FLH_NEVER_OPTED_OUT: Final = b"\xff" * 32
_OPERATOR = OperatorIdentity()
_RANDOM_PER_IDENTITY = 12 * 4 + 32  # 4 GCM nonces + the refresh_response_key
_V4 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V4

SUCCESS_TRUE: Final = b'{"status":"success","body":true}'
SUCCESS_FALSE: Final = b'{"status":"success","body":false}'
OPTOUT: Final = b'{"status":"optout"}'
INSUFFICIENT_CONSENT: Final = b'{"status":"insufficient_user_consent"}'


def success(body: object) -> bytes:
    document = {"status": "success", "body": body}
    try:
        return orjson.dumps(document)
    except TypeError:
        # Echoed input orjson refuses (lone surrogates, integers beyond 64 bits): the stdlib
        # escapes them instead of failing the request.
        return json.dumps(document, separators=(",", ":")).encode("ascii")


def success_raw(body_json: bytes) -> bytes:
    """A success answer around a body already serialised (cached key bodies)."""
    return b'{"status":"success","body":' + body_json + b"}"


# ---------------------------------------------------------------------------- identities


class Identity(NamedTuple):
    kind: DiiKind
    value: object  # as sent, for messages that quote it
    identity_type: IdentityType
    dii_hash: bytes | None  # None: present but invalid


def identity_kinds(settings: Settings) -> tuple[DiiKind, ...]:
    return ALL_KINDS if settings.enable_phone_support else EMAIL_KINDS


def exactly_one_message(settings: Settings) -> str:
    return EXACTLY_ONE if settings.enable_phone_support else EXACTLY_ONE_EMAIL


def find_identity(request: Mapping[str, object] | None, settings: Settings) -> Identity | None:
    """The single identity field of a request; None if there are zero or several."""
    if request is None:
        return None
    found: tuple[DiiKind, object] | None = None
    for kind, name in _FIELDS if settings.enable_phone_support else _EMAIL_FIELDS:
        value = request.get(name)
        if value is None:
            continue
        if found is not None:
            return None
        found = (kind, value)
    if found is None:
        return None
    kind, value = found
    return Identity(kind, value, kind.identity_type, dii_hash_for(kind, value))


def require_identity(request: Mapping[str, object] | None, settings: Settings) -> Identity:
    """generate / validate input rules (operator.md §1.5); non-strings are invalid, not 500."""
    identity = find_identity(request, settings)
    if identity is None:
        raise client_error(exactly_one_message(settings))
    if identity.dii_hash is None:
        raise client_error(INVALID_IDENTIFIER)
    return identity


# ---------------------------------------------------------------------------- raw UIDs


def flh_of(snapshot: Snapshot, dii_hash: bytes) -> bytes:
    return first_level_hash(dii_hash, snapshot.salts.first_level_salt)


def current_raw_uid(
    snapshot: Snapshot, settings: Settings, flh: bytes, identity_type: IdentityType
) -> bytes:
    salts = snapshot.salts
    salt = salts.current[bucket_index(flh, salts.bucket_count)]
    if settings.uses_raw_uid_v3:
        return raw_uid_v3(flh, salt, snapshot.identity_scope, identity_type)
    return raw_uid_v2(flh, salt)


# ---------------------------------------------------------------------------- opt-out rules


def opted_out_for_generate(snapshot: Snapshot, identity_type: IdentityType, flh: bytes) -> bool:
    """generate, CSTG and identity map (operator.md §6.2, §6.3)."""
    key = (identity_type, flh)
    tests = snapshot.test_identities
    if key in tests.validate or key in tests.on_refresh or flh == FLH_NEVER_OPTED_OUT:
        return False
    if key in tests.always or flh == FLH_ALWAYS_OPTED_OUT:
        return True
    return snapshot.optouts.flh_opted_out_since(flh) is not None


def opted_out_for_refresh(snapshot: Snapshot, identity_type: IdentityType, flh: bytes) -> bool:
    """Refresh: any record counts, whatever its time; refresh-optout identities always do."""
    key = (identity_type, flh)
    tests = snapshot.test_identities
    if key in tests.always or key in tests.on_refresh or flh == FLH_ALWAYS_OPTED_OUT:
        return True
    if key in tests.validate or flh == FLH_NEVER_OPTED_OUT:
        return False
    return snapshot.optouts.flh_opted_out_since(flh) is not None


# ---------------------------------------------------------------------------- issuing


class IdentitySpec(NamedTuple):
    """Who an identity is for and what it carries (operator.md §3.5)."""

    site_id: int
    identity_type: IdentityType
    flh: bytes
    privacy_bits: int
    established_ms: int


def issue_identity(
    snapshot: Snapshot, settings: Settings, spec: IdentitySpec, now_ms: int, random: RandomBytes
) -> dict[str, object]:
    """The ``body`` of a generate/refresh/CSTG success (operator.md §1.5, fields in order).

    This is the hottest path of the operator, so it packs the token layers with the core's
    low-level functions instead of building ``TokenFields``/``IdentityResponse`` values; the
    bytes are the same (the tests decode them with the core decoders).
    """
    master = snapshot.master_key(now_ms)
    site_key = snapshot.site_key(spec.site_id, now_ms)
    refresh_key = snapshot.refresh_key(now_ms)
    if master is None or site_key is None or refresh_key is None:
        raise no_active_key()
    scope = snapshot.identity_scope
    identity_expires = now_ms + settings.identity_token_expires_after_seconds * 1000
    refresh_expires = now_ms + settings.refresh_token_expires_after_seconds * 1000
    r = random(_RANDOM_PER_IDENTITY)
    raw_uid = current_raw_uid(snapshot, settings, spec.flh, spec.identity_type)
    payloads = pack_payloads(
        (scope << 4) | (spec.identity_type << 2) | 3, _V4, master.key_id, identity_expires,
        now_ms, _OPERATOR, site_key.key_id, spec.site_id, 0, 0, spec.privacy_bits,
        spec.established_ms, now_ms, raw_uid,
    )  # fmt: skip
    advertising_token = b64url_encode(
        seal_payloads(payloads, master.secret, site_key.secret, r[0:12], r[12:24])
    )
    inner = seal_refresh_token(
        (scope << 4) | (spec.identity_type << 2) | 3, refresh_key, r[24:36], refresh_expires,
        now_ms, spec.site_id, spec.privacy_bits, spec.established_ms, spec.flh,
    )  # fmt: skip
    response_key = r[48:80]
    return {
        "advertising_token": advertising_token,
        "refresh_token": wrap_refresh_token(
            inner, response_key, refresh_key, scope, nonce=r[36:48]
        ),
        "identity_expires": identity_expires,
        "refresh_expires": refresh_expires,
        "refresh_from": now_ms + settings.refresh_identity_token_after_seconds * 1000,
        "refresh_response_key": b64encode(response_key),
    }

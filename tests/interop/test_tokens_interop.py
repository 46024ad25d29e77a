"""Advertising and sharing tokens against the official SDK (uid2-client 2.9.0) as oracle.

Both directions: the SDK's token generator and sharing encryption feed our decoder, and our
encoders feed the SDK's Bidstream/Sharing clients and ``encryption.decrypt_token``. For
each status of sdk.md §3 both sides decrypt the same token to the same status, except where
the SDK raises ``EncryptionError`` (we return INVALID_PAYLOAD) and the documented departures
of ``uid2.core.tokens.decrypt`` (sdk.md §11).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
import uid2_client
from uid2_client import encryption as sdk_encryption

from uid2.core.enums import (
    AdvertisingTokenVersion,
    ClientType,
    DecryptionStatus,
    IdentityScope,
    IdentityType,
)
from uid2.core.keyjson import parse_key_response
from uid2.core.keys import Keyring
from uid2.core.tokens import (
    DecryptResult,
    OperatorIdentity,
    TokenFields,
    decode_token_fields,
    decrypt_token,
    encode_token,
    encrypt_raw_uid,
)

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

MASTER_SECRET = base64.b64decode("iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=")
SITE_SECRET = base64.b64decode("IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=")
SITE_ID = 9000
NOW_S = 1_704_067_200  # 2024-01-01T00:00:00Z
NOW_MS = NOW_S * 1000
NOW = dt.datetime.fromtimestamp(NOW_S, tz=dt.UTC)
HOUR = dt.timedelta(hours=1)
V2, V3, V4 = (
    AdvertisingTokenVersion.ADVERTISING_TOKEN_V2,
    AdvertisingTokenVersion.ADVERTISING_TOKEN_V3,
    AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
)
EMAIL = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
UID2_PHONE = "BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"
EUID_PHONE = "FEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"
UID2_EMAIL_V3 = "AKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"
EUID_EMAIL_V3 = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"
IDS = {  # scope -> (email-like id, phone id)
    IdentityScope.UID2: (EMAIL, UID2_PHONE),
    IdentityScope.EUID: (EUID_EMAIL_V3, EUID_PHONE),
}


def key_json(
    key_id: int,
    secret: bytes,
    keyset_id: int,
    site_id: int = -1,
    activates: int = NOW_S - 86400,
    expires: int = NOW_S + 86400,
) -> dict[str, Any]:
    return {
        "id": key_id,
        "keyset_id": keyset_id,
        "site_id": site_id,
        "created": activates,
        "activates": activates,
        "expires": expires,
        "secret": base64.b64encode(secret).decode(),
    }


def body(
    scope: IdentityScope = IdentityScope.UID2,
    keys: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "keys": keys
        if keys is not None
        else [key_json(164, MASTER_SECRET, 1), key_json(165, SITE_SECRET, 99999, SITE_ID)],
        "identity_scope": scope.name,
        "caller_site_id": SITE_ID,
        "master_keyset_id": 1,
        "default_keyset_id": 99999,
        "token_expiry_seconds": "2592000",
        "max_bidstream_lifetime_seconds": 3 * 86400 + 10,
        "max_sharing_lifetime_seconds": 30 * 86400 + 10,
        "allow_clock_skew_seconds": 1800,
    }
    doc.update(extra)
    return doc


class Both:
    """The same key response loaded into the SDK's clients and into our keyring."""

    def __init__(self, doc: dict[str, Any]) -> None:
        text = json.dumps({"body": doc})
        self.bidstream = uid2_client.BidstreamClient(
            "http://x", "k", base64.b64encode(b"s" * 32).decode()
        )
        self.sharing = uid2_client.SharingClient(
            "http://x", "k", base64.b64encode(b"s" * 32).decode()
        )
        assert (
            self.bidstream._refresh_json(text).success and self.sharing._refresh_json(text).success
        )
        self.keyring: Keyring = parse_key_response(text)


def sdk_key(key_id: int, site_id: int, secret: bytes, keyset_id: int) -> Any:
    return uid2_client.EncryptionKey(
        key_id, site_id, NOW - 86400 * HOUR / 3600, NOW - HOUR, NOW + 24 * HOUR, secret, keyset_id
    )


SDK_MASTER = sdk_key(164, -1, MASTER_SECRET, 1)
SDK_SITE = sdk_key(165, SITE_ID, SITE_SECRET, 99999)


def generate(
    uid: str,
    version: AdvertisingTokenVersion,
    scope: IdentityScope = IdentityScope.UID2,
    expiry: dt.datetime = NOW + HOUR,
    generated: dt.datetime = NOW,
) -> str:
    return uid2_client.UID2TokenGenerator.generate_uid_token(
        uid,
        SDK_MASTER,
        SITE_ID,
        SDK_SITE,
        scope.value,
        version.value,
        identity_established=NOW - 24 * HOUR,
        token_generated=generated,
        token_expiry=expiry,
    )


def ours(
    token: str, both: Both, client: ClientType = ClientType.BIDSTREAM, now_ms: int = NOW_MS
) -> DecryptResult:
    return decrypt_token(token, both.keyring, now_ms=now_ms, client_type=client)


def theirs(
    token: str, both: Both, client: ClientType = ClientType.BIDSTREAM, now: dt.datetime = NOW
) -> Any:
    if client is ClientType.SHARING:
        return both.sharing._decrypt_token_into_raw_uid(token, now)
    return both.bidstream._decrypt_token_into_raw_uid(token, None, now)


def ms(value: dt.datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


def assert_same(our: DecryptResult, their: Any) -> None:
    """Field-by-field equality of our DecryptResult and the SDK's DecryptedToken."""
    assert our.status.name == their.status.name
    assert our.uid == their.uid
    assert our.established_ms == ms(their.established)
    assert our.site_id == their.site_id
    assert our.site_key_site_id == their.site_key_site_id
    assert (our.identity_scope, our.identity_type) == (
        None if their.identity_scope is None else IdentityScope(their.identity_scope),
        None if their.identity_type is None else IdentityType(their.identity_type),
    )
    their_version = their.advertising_token_version
    assert our.advertising_token_version == (None if their_version is None else their_version.value)
    assert our.is_client_side_generated == their.is_client_side_generated
    assert our.expiry_ms == ms(their.expiry)


def our_token(
    version: AdvertisingTokenVersion,
    uid: str = EMAIL,
    scope: IdentityScope = IdentityScope.UID2,
    **overrides: Any,
) -> str:
    raw = base64.b64decode(uid)
    itype = IdentityType.Phone if len(raw) == 33 and raw[0] & 0x0C else IdentityType.Email
    gcm = version is not V2
    fields = TokenFields(
        version=version,
        identity_scope=scope,
        identity_type=itype if gcm else None,
        master_key_id=164,
        site_key_id=165,
        expires_ms=NOW_MS + 3_600_000,
        site_id=SITE_ID,
        established_ms=NOW_MS - 86_400_000,
        raw_uid=raw,
        generated_ms=NOW_MS if gcm else None,
        refreshed_ms=NOW_MS if gcm else None,
        operator=OperatorIdentity() if gcm else None,
    )
    fields = dataclasses.replace(fields, **overrides)
    size = 16 if version is V2 else 12
    return encode_token(
        fields,
        master_secret=MASTER_SECRET,
        site_secret=SITE_SECRET,
        master_nonce=b"\x02" * size,
        site_nonce=b"\x01" * size,
    )


MATRIX = [
    (scope, version, kind) for scope in IdentityScope for version in (V2, V3, V4) for kind in (0, 1)
]
MATRIX_IDS = [f"{s.name}-{v.name[-2:]}-{'phone' if k else 'email'}" for s, v, k in MATRIX]


# --- SDK-made tokens, our decoder -------------------------------------------------------------


@pytest.mark.parametrize(("scope", "version", "kind"), MATRIX, ids=MATRIX_IDS)
def test_generator_tokens_decrypt_identically(
    scope: IdentityScope, version: AdvertisingTokenVersion, kind: int
) -> None:
    both = Both(body(scope))
    token = generate(IDS[scope][kind], version, scope)
    our, their = ours(token, both), theirs(token, both)
    assert our.status is DecryptionStatus.SUCCESS and our.uid == IDS[scope][kind]
    assert_same(our, their)


# --- our tokens, the SDK's decoder ------------------------------------------------------------


@pytest.mark.parametrize(("scope", "version", "kind"), MATRIX, ids=MATRIX_IDS)
def test_our_tokens_decrypt_identically_in_the_sdk(
    scope: IdentityScope, version: AdvertisingTokenVersion, kind: int
) -> None:
    both = Both(body(scope))
    token = our_token(version, IDS[scope][kind], scope)
    for client in (ClientType.BIDSTREAM, ClientType.SHARING):
        assert_same(ours(token, both, client), theirs(token, both, client))


@pytest.mark.parametrize("version", [V2, V3, V4])
def test_module_level_sdk_decrypt_token_agrees(version: AdvertisingTokenVersion) -> None:
    both = Both(body())
    token = our_token(version)
    their = sdk_encryption.decrypt_token(
        token, both.bidstream._keys, "example.com", uid2_client.ClientType.BIDSTREAM, NOW
    )
    assert_same(ours(token, both), their)


@pytest.mark.parametrize("version", [V2, V3, V4])
def test_legacy_sdk_decrypt_accepts_our_tokens(version: AdvertisingTokenVersion) -> None:
    both = Both(body())
    their = sdk_encryption.decrypt(our_token(version), both.bidstream._keys, NOW)
    assert their.uid == EMAIL and their.site_id == SITE_ID


# --- sharing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("now_ms", [NOW_MS, NOW_MS + 789], ids=["whole second", "with ms"])
@pytest.mark.parametrize("uid", [EMAIL, UID2_PHONE, UID2_EMAIL_V3])
def test_our_sharing_tokens_decrypt_in_the_sdk_sharing_client(uid: str, now_ms: int) -> None:
    both = Both(body())
    result = encrypt_raw_uid(
        uid, both.keyring, now_ms=now_ms, master_nonce=b"\x07" * 12, site_nonce=b"\x08" * 12
    )
    now = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC)
    their = theirs(result.token, both, ClientType.SHARING, now)  # type: ignore[arg-type]
    assert their.status.name == "SUCCESS" and their.uid == uid
    assert ms(their.established) == now_ms and ms(their.expiry) == now_ms + 2_592_000_000
    assert_same(ours(result.token, both, ClientType.SHARING, now_ms), their)  # type: ignore[arg-type]


@pytest.mark.parametrize("scope", list(IdentityScope))
@pytest.mark.parametrize("kind", [0, 1], ids=["email", "phone"])
def test_sdk_sharing_tokens_decrypt_with_our_core(scope: IdentityScope, kind: int) -> None:
    both = Both(body(scope))
    uid = IDS[scope][kind]
    made = both.sharing._encrypt_raw_uid_into_token(uid, None, NOW)
    assert made.success
    our = ours(made.encrypted_data, both, ClientType.SHARING)
    assert (our.status, our.uid, our.identity_scope) == (DecryptionStatus.SUCCESS, uid, scope)
    assert_same(our, theirs(made.encrypted_data, both, ClientType.SHARING))


def test_same_inputs_make_the_same_sharing_token_bytes_apart_from_nonces_and_ms() -> None:
    """At a whole second the SDK's token and ours carry the same fields, except that the SDK
    takes ``established`` from the wall clock rather than from ``now`` (its Params default)."""
    both = Both(body())
    their = both.sharing._encrypt_raw_uid_into_token(EMAIL, None, NOW).encrypted_data
    mine = encrypt_raw_uid(
        EMAIL, both.keyring, now_ms=NOW_MS, master_nonce=b"\x01" * 12, site_nonce=b"\x01" * 12
    ).token
    their_fields = decode_token_fields(their, both.keyring)
    assert isinstance(their_fields, TokenFields)
    assert dataclasses.replace(their_fields, established_ms=NOW_MS) == (
        decode_token_fields(mine, both.keyring)
    )


# --- statuses ---------------------------------------------------------------------------------


def _status_cases() -> list[tuple[str, dict[str, Any], str, dt.timedelta]]:
    only_master = body(keys=[key_json(164, MASTER_SECRET, 1)])
    only_site = body(keys=[key_json(165, SITE_SECRET, 99999, SITE_ID)])
    stale = body(
        keys=[
            key_json(164, MASTER_SECRET, 1, expires=NOW_S - 1),
            key_json(165, SITE_SECRET, 99999, SITE_ID, expires=NOW_S - 1),
        ]
    )
    return [
        ("expired", body(), "expired", dt.timedelta(hours=2)),
        ("expiry boundary", body(), "valid", HOUR),
        ("one second late", body(), "valid", HOUR + dt.timedelta(seconds=1)),
        ("missing master key", only_site, "valid", dt.timedelta()),
        ("missing site key", only_master, "valid", dt.timedelta()),
        ("keys not synced", stale, "valid", dt.timedelta()),
        ("too long lifetime", body(), "long", dt.timedelta()),
        ("generated 31 min ahead", body(), "ahead31", dt.timedelta()),
        ("generated 29 min ahead", body(), "ahead29", dt.timedelta()),
        (
            "no lifetime limits in keys",
            body(max_bidstream_lifetime_seconds=None, max_sharing_lifetime_seconds=None),
            "long",
            dt.timedelta(),
        ),
    ]


def _token_kind(kind: str, version: AdvertisingTokenVersion) -> str:
    if kind == "expired":
        return generate(EMAIL, version, expiry=NOW + HOUR)
    if kind == "long":
        return generate(EMAIL, version, expiry=NOW + dt.timedelta(days=40))
    if kind.startswith("ahead"):
        ahead = NOW + dt.timedelta(minutes=int(kind[5:]))
        return generate(EMAIL, version, generated=ahead, expiry=ahead + HOUR)
    return generate(EMAIL, version)


@pytest.mark.parametrize("version", [V2, V3, V4], ids=["v2", "v3", "v4"])
@pytest.mark.parametrize(
    ("name", "doc", "kind", "later"), _status_cases(), ids=[c[0] for c in _status_cases()]
)
@pytest.mark.parametrize("client", [ClientType.BIDSTREAM, ClientType.SHARING])
def test_both_sides_agree_on_every_status(
    version: AdvertisingTokenVersion,
    name: str,
    doc: dict[str, Any],
    kind: str,
    later: dt.timedelta,
    client: ClientType,
) -> None:
    both = Both(doc)
    token = _token_kind(kind, version)
    when = NOW + later
    assert_same(ours(token, both, client, ms(when) or 0), theirs(token, both, client, when))


def test_not_initialized_agrees() -> None:
    fresh = uid2_client.BidstreamClient("http://x", "k", base64.b64encode(b"s" * 32).decode())
    token = generate(EMAIL, V4)
    their = fresh._decrypt_token_into_raw_uid(token, None, NOW)
    our = decrypt_token(token, None, now_ms=NOW_MS, client_type=ClientType.BIDSTREAM)
    assert_same(our, their)


@pytest.mark.parametrize("token", ["invalid-token", "AQAAAAAAAAAA", "abc", ""])
def test_short_and_unknown_version_tokens_agree(token: str) -> None:
    both = Both(body())
    assert_same(ours(token, both), theirs(token, both))


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-3], lambda t: t[:40], lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB")],
    ids=["minus 3", "first 40", "last chars"],
)
@pytest.mark.parametrize("version", [V3, V4])
def test_where_the_sdk_raises_we_return_invalid_payload(
    mangle: Any, version: AdvertisingTokenVersion
) -> None:
    both = Both(body())
    token = mangle(generate(EMAIL, version))
    with pytest.raises(sdk_encryption.EncryptionError):
        theirs(token, both)
    assert ours(token, both).status is DecryptionStatus.INVALID_PAYLOAD


def test_v4_as_padded_standard_base64_decrypts_on_both_sides() -> None:
    both = Both(body())
    t4 = generate(EMAIL, V4)
    std = base64.b64encode(base64.urlsafe_b64decode(t4 + "==")).decode()
    assert_same(ours(std, both), theirs(std, both))
    assert ours(std, both).success


def test_documented_departure_euid_token_under_uid2_keys() -> None:
    """sdk.md §3.5/§11.5: the SDK says SUCCESS with scope UID2; we say INVALID_IDENTITY_SCOPE.
    Keys JSON without identity_scope means UID2 on both sides."""
    doc = body()
    del doc["identity_scope"]
    both = Both(doc)
    token = generate(EUID_EMAIL_V3, V4, IdentityScope.EUID)
    their = theirs(token, both)
    assert their.status.name == "SUCCESS" and their.identity_scope == IdentityScope.UID2.value
    assert ours(token, both).status is DecryptionStatus.INVALID_IDENTITY_SCOPE
    assert ours(token, Both(body(IdentityScope.EUID))).success


def test_documented_departure_client_side_flag() -> None:
    """sdk.md §2.3/§11.2: privacy bits 3 (a CSTG token) — the SDK says not client-side."""
    both = Both(body(site_data=[{"id": SITE_ID, "domain_names": ["example.com"]}]))
    token = our_token(V4, privacy_bits=3)
    their = both.bidstream._decrypt_token_into_raw_uid(token, "example.com", NOW)
    our = decrypt_token(
        token,
        both.keyring,
        now_ms=NOW_MS,
        client_type=ClientType.BIDSTREAM,
        domain_or_app_name="example.com",
    )
    assert their.is_client_side_generated is False and our.is_client_side_generated is True
    assert our.uid == their.uid == EMAIL

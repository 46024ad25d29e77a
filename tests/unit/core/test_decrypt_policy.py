"""The SDK decryption policy, rule by rule. Reference: sdk.md §3.1-§3.7, §9.5, §11."""

from __future__ import annotations

import base64

import pytest
import token_fixtures as tf

from uid2.core.enums import (
    AdvertisingTokenVersion,
    ClientType,
    DecryptionStatus,
    IdentityScope,
    IdentityType,
)
from uid2.core.tokens import PRIVACY_CSTG, PRIVACY_LEGACY, DecryptResult, decrypt_token

S = DecryptionStatus
BID = ClientType.BIDSTREAM
SHARE = ClientType.SHARING
LEGACY = ClientType.LEGACY_WITHOUT_DOMAIN_CHECK
ALL_VERSIONS = pytest.mark.parametrize("version", tf.ALL, ids=lambda v: v.name[-2:])
GCM_VERSIONS = pytest.mark.parametrize("version", tf.GCM, ids=lambda v: v.name[-2:])


def decrypt(
    token: object,
    keys: object = None,
    *,
    now: int = tf.NOW_MS,
    client: ClientType = BID,
    name: str | None = None,
) -> DecryptResult:
    keyring = tf.keyring() if keys is None else keys
    return decrypt_token(
        token,
        keyring,
        now_ms=now,
        client_type=client,  # type: ignore[arg-type]
        domain_or_app_name=name,
    )


def status_only(result: DecryptResult) -> bool:
    return result == DecryptResult(result.status)


# --- §3.1 order of checks ------------------------------------------------------------------


def test_no_keyring_is_not_initialized() -> None:
    result = decrypt_token(tf.token(), None, now_ms=tf.NOW_MS, client_type=BID)
    assert result.status is S.NOT_INITIALIZED and status_only(result)


def test_keyring_whose_keys_all_expired_is_keys_not_synced() -> None:
    expired = tf.keyring([tf.master_key(expires_s=tf.NOW_S), tf.site_key(expires_s=tf.NOW_S - 1)])
    assert decrypt(tf.token(), expired).status is S.KEYS_NOT_SYNCED


def test_keyring_checks_come_before_the_token_is_looked_at() -> None:
    assert decrypt_token(12345, None, now_ms=tf.NOW_MS, client_type=BID).status is (
        S.NOT_INITIALIZED
    )


@pytest.mark.parametrize("token", ["", "abc", b"", b"A4A"], ids=repr)
def test_tokens_shorter_than_four_characters_are_invalid_payload(token: object) -> None:
    assert decrypt(token).status is S.INVALID_PAYLOAD


@pytest.mark.parametrize("token", ["invalid-token", "AQAAAAAAAAAA", "BBBBBBBB"])
def test_unknown_version_bytes_are_version_not_supported(token: str) -> None:
    result = decrypt(token)
    assert result.status is S.VERSION_NOT_SUPPORTED and status_only(result)


@ALL_VERSIONS
def test_version_byte_1_is_not_supported(version: AdvertisingTokenVersion) -> None:
    """sdk.md §9.5 'invalid version byte (1) fails'."""
    raw = bytearray(base64.b64decode(tf.token(tf.V3 if version is tf.V4 else version)))
    raw[0 if version is tf.V2 else 1] = 1
    assert decrypt(base64.b64encode(bytes(raw)).decode()).status is S.VERSION_NOT_SUPPORTED


def test_bytes_tokens_are_read_as_ascii_text() -> None:
    assert decrypt(tf.token().encode()).status is S.SUCCESS


# --- success ---------------------------------------------------------------------------------


@ALL_VERSIONS
def test_a_valid_token_decrypts_with_every_field(version: AdvertisingTokenVersion) -> None:
    result = decrypt(tf.token(version))
    assert result == DecryptResult(
        S.SUCCESS,
        uid=tf.EMAIL_UID,
        established_ms=tf.NOW_MS - tf.DAY,
        site_id=tf.SITE_ID,
        site_key_site_id=tf.SITE_ID,
        identity_scope=IdentityScope.UID2,
        identity_type=None if version is tf.V2 else IdentityType.Email,
        advertising_token_version=version,
        is_client_side_generated=False,
        expiry_ms=tf.NOW_MS + tf.HOUR,
        generated_ms=None if version is tf.V2 else tf.NOW_MS,
    )
    assert result.success


@GCM_VERSIONS
def test_phone_tokens_report_phone(version: AdvertisingTokenVersion) -> None:
    token = tf.token(
        version, identity_type=IdentityType.Phone, raw_uid=base64.b64decode(tf.PHONE_UID)
    )
    result = decrypt(token)
    assert (result.status, result.identity_type, result.uid) == (
        S.SUCCESS,
        IdentityType.Phone,
        tf.PHONE_UID,
    )


def test_v4_reencoded_as_padded_standard_base64_decrypts() -> None:
    t4 = tf.token(tf.V4)
    std = base64.b64encode(base64.urlsafe_b64decode(t4 + "==")).decode()
    assert "=" in std and decrypt(std).uid == tf.EMAIL_UID


# --- keys -------------------------------------------------------------------------------------


@ALL_VERSIONS
def test_missing_master_key_fills_nothing(version: AdvertisingTokenVersion) -> None:
    result = decrypt(tf.token(version), tf.keyring([tf.site_key()]))
    assert result.status is S.NOT_AUTHORIZED_FOR_MASTER_KEY and status_only(result)


@ALL_VERSIONS
def test_missing_site_key_fills_the_master_layer_fields(version: AdvertisingTokenVersion) -> None:
    result = decrypt(tf.token(version), tf.keyring([tf.master_key()]))
    assert result == DecryptResult(
        S.NOT_AUTHORIZED_FOR_KEY,
        identity_scope=IdentityScope.UID2,
        identity_type=None if version is tf.V2 else IdentityType.Email,
        advertising_token_version=version,
        is_client_side_generated=False if version is tf.V2 else None,
        expiry_ms=tf.NOW_MS + tf.HOUR,
    )


@ALL_VERSIONS
def test_keys_are_found_by_id_even_if_expired_or_not_yet_active(
    version: AdvertisingTokenVersion,
) -> None:
    """sdk.md §3.2.2: decryption does not check key activity (only the keyring's validity)."""
    keys = tf.keyring(
        [
            tf.master_key(expires_s=tf.NOW_S - 10),
            tf.site_key(activates_s=tf.NOW_S + 10, expires_s=tf.NOW_S + 99),
        ]
    )
    assert decrypt(tf.token(version), keys).status is S.SUCCESS


# --- expiry -----------------------------------------------------------------------------------


@ALL_VERSIONS
@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-tf.SECOND, S.SUCCESS), (0, S.SUCCESS), (1, S.EXPIRED_TOKEN), (tf.SECOND, S.EXPIRED_TOKEN)],
)
def test_expiry_boundary(version: AdvertisingTokenVersion, offset: int, expected: S) -> None:
    """A token expiring exactly now is still valid (strict comparison, sdk.md §3.2.4)."""
    expires = tf.NOW_MS + tf.HOUR
    assert decrypt(tf.token(version), now=expires + offset, client=LEGACY).status is expected


@ALL_VERSIONS
def test_expired_token_reports_expiry_scope_type_and_version(
    version: AdvertisingTokenVersion,
) -> None:
    result = decrypt(tf.token(version, expires_ms=tf.NOW_MS - 1))
    assert result == DecryptResult(
        S.EXPIRED_TOKEN,
        identity_scope=IdentityScope.UID2,
        identity_type=None if version is tf.V2 else IdentityType.Email,
        advertising_token_version=version,
        is_client_side_generated=False if version is tf.V2 else None,
        expiry_ms=tf.NOW_MS - 1,
    )


def test_expiry_is_checked_before_the_site_key_is_looked_up() -> None:
    result = decrypt(tf.token(expires_ms=tf.NOW_MS - 1), tf.keyring([tf.master_key()]))
    assert result.status is S.EXPIRED_TOKEN


# --- lifetime (§3.3) --------------------------------------------------------------------------

LIFETIME_CASES = [
    (30 * tf.SECOND, S.INVALID_TOKEN_LIFETIME),
    (1 * tf.SECOND, S.INVALID_TOKEN_LIFETIME),
    (tf.DAY, S.INVALID_TOKEN_LIFETIME),
    (0, S.SUCCESS),
    (-30 * tf.SECOND, S.SUCCESS),
]


@GCM_VERSIONS
@pytest.mark.parametrize(
    ("client", "max_s"), [(BID, tf.BIDSTREAM_MAX_S), (SHARE, tf.SHARING_MAX_S)]
)
@pytest.mark.parametrize(("over_max", "expected"), LIFETIME_CASES)
def test_total_lifetime_over_the_maximum_is_invalid(
    version: AdvertisingTokenVersion,
    client: ClientType,
    max_s: int,
    over_max: int,
    expected: S,
) -> None:
    generated = tf.NOW_MS - tf.MINUTE
    token = tf.token(
        version, generated_ms=generated, expires_ms=generated + max_s * 1000 + over_max
    )
    result = decrypt(token, client=client)
    assert result.status is expected
    if expected is S.INVALID_TOKEN_LIFETIME:  # v3/v4 hide the uid, keep the rest
        assert result.uid is None and result.established_ms == tf.NOW_MS - tf.DAY
        assert result.site_id == tf.SITE_ID and result.expiry_ms is not None


@pytest.mark.parametrize(
    ("client", "max_s"), [(BID, tf.BIDSTREAM_MAX_S), (SHARE, tf.SHARING_MAX_S)]
)
@pytest.mark.parametrize(("over_max", "expected"), LIFETIME_CASES)
def test_v2_checks_the_remaining_lifetime(
    client: ClientType, max_s: int, over_max: int, expected: S
) -> None:
    token = tf.token(tf.V2, expires_ms=tf.NOW_MS + max_s * 1000 + over_max)
    result = decrypt(token, client=client)
    assert result.status is expected
    assert result.uid == tf.EMAIL_UID  # v2 fills the uid even for INVALID_TOKEN_LIFETIME


def test_a_long_lived_v4_fails_where_a_v2_with_short_remaining_time_passes() -> None:
    """sdk.md §9.5: lifetime 3 d + 1 min fails for v3/v4; v2 only sees the remaining time."""
    generated = tf.NOW_MS - 2 * tf.DAY
    expires = generated + 3 * tf.DAY + tf.MINUTE
    assert decrypt(tf.token(tf.V4, generated_ms=generated, expires_ms=expires)).status is (
        S.INVALID_TOKEN_LIFETIME
    )
    assert decrypt(tf.token(tf.V2, expires_ms=expires)).status is S.SUCCESS


@GCM_VERSIONS
@pytest.mark.parametrize(
    ("ahead_min", "expected"), [(31, S.INVALID_TOKEN_LIFETIME), (29, S.SUCCESS)]
)
def test_clock_skew_allows_29_minutes_not_31(
    version: AdvertisingTokenVersion, ahead_min: int, expected: S
) -> None:
    generated = tf.NOW_MS + ahead_min * tf.MINUTE
    token = tf.token(version, generated_ms=generated, expires_ms=generated + tf.HOUR)
    assert decrypt(token).status is expected


def test_legacy_skips_lifetime_and_skew_checks() -> None:
    generated = tf.NOW_MS + 2 * tf.HOUR
    token = tf.token(generated_ms=generated, expires_ms=generated + 300 * tf.DAY)
    assert decrypt(token).status is S.INVALID_TOKEN_LIFETIME
    assert decrypt(token, client=LEGACY).status is S.SUCCESS


def test_no_maximum_in_the_keys_means_no_lifetime_limit() -> None:
    """Keys JSON from old operators lacks the lifetime fields (sdk.md §9.5)."""
    keys = tf.keyring(max_bidstream_lifetime_seconds=None, max_sharing_lifetime_seconds=None)
    token = tf.token(expires_ms=tf.NOW_MS + 3000 * tf.DAY)
    assert decrypt(token, keys).status is S.SUCCESS
    assert decrypt(token, keys, client=SHARE).status is S.SUCCESS


# --- §11 faults that we fix -------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        tf.token(tf.V4)[:-3],
        tf.token(tf.V3)[:-4],
        tf.token(tf.V2)[:100],
        tf.token(tf.V4)[:-1] + ("A" if tf.token(tf.V4)[-1] != "A" else "B"),
        tf.token(tf.V4, master_secret=b"\x05" * 32),
        tf.token(tf.V4, site_secret=b"\x05" * 32),
        tf.token(tf.V4) + "!",
        "A4AA" + "\u00e9" * 10,
        "A4" + "A" * 100_000,
        "A3AA====",
    ],
    ids=[
        "v4 minus 3",
        "v3 minus 4",
        "v2 cut",
        "last char",
        "master secret",
        "site secret",
        "junk char",
        "non-ascii",
        "100 kB",
        "bad padding",
    ],
)
def test_fault_11_4_malformed_tokens_return_invalid_payload_instead_of_raising(token: str) -> None:
    result = decrypt(token)
    assert result.status is S.INVALID_PAYLOAD and status_only(result)


@pytest.mark.parametrize("token", [None, 12345, 1.5, ["A4AA"], {"t": 1}, bytearray(b"\xff" * 8)])
def test_fault_11_4_non_text_tokens_return_invalid_payload(token: object) -> None:
    assert decrypt(token).status is S.INVALID_PAYLOAD


@pytest.mark.parametrize("client", [BID, SHARE, LEGACY])
def test_fault_11_4_legacy_clients_also_return_a_status(client: ClientType) -> None:
    assert decrypt(tf.token(expires_ms=tf.NOW_MS - 1), client=client).status is S.EXPIRED_TOKEN


@ALL_VERSIONS
@pytest.mark.parametrize(
    ("bits", "csg"),
    [
        (0, False),
        (PRIVACY_LEGACY, False),
        (PRIVACY_LEGACY | PRIVACY_CSTG, True),
        (0x40000000, False),
    ],
)
def test_fault_11_2_client_side_generated_reads_privacy_bit_0x2(
    version: AdvertisingTokenVersion, bits: int, csg: bool
) -> None:
    result = decrypt(tf.token(version, privacy_bits=bits), client=SHARE)
    assert result.status is S.SUCCESS and result.is_client_side_generated is csg


CSTG_KEYS = {"site_data": {tf.SITE_ID: frozenset({"example.com", "com.example.app"})}}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example.com", S.SUCCESS),
        ("EXAMPLE.com", S.SUCCESS),
        ("com.example.app", S.SUCCESS),
        ("other.com", S.DOMAIN_NAME_CHECK_FAILED),
        ("", S.DOMAIN_NAME_CHECK_FAILED),
        (None, S.DOMAIN_NAME_CHECK_FAILED),
    ],
)
def test_fault_11_1_bidstream_cstg_tokens_must_come_from_a_listed_domain_or_app(
    name: str | None, expected: S
) -> None:
    token = tf.token(privacy_bits=PRIVACY_LEGACY | PRIVACY_CSTG)
    assert decrypt(token, tf.keyring(**CSTG_KEYS), name=name).status is expected


def test_fault_11_1_domain_check_failure_fills_site_fields_but_not_uid() -> None:
    token = tf.token(privacy_bits=PRIVACY_CSTG)
    result = decrypt(token, tf.keyring(**CSTG_KEYS), name="evil.com")
    assert result == DecryptResult(
        S.DOMAIN_NAME_CHECK_FAILED,
        None,
        None,
        tf.SITE_ID,
        tf.SITE_ID,
        IdentityScope.UID2,
        IdentityType.Email,
        tf.V4,
        True,
        tf.NOW_MS + tf.HOUR,
        tf.NOW_MS,
    )


def test_fault_11_1_site_without_site_data_fails_the_check() -> None:
    token = tf.token(privacy_bits=PRIVACY_CSTG)
    assert decrypt(token, name="example.com").status is S.DOMAIN_NAME_CHECK_FAILED


@pytest.mark.parametrize("client", [SHARE, LEGACY])
def test_fault_11_1_domain_check_is_for_bidstream_only(client: ClientType) -> None:
    token = tf.token(privacy_bits=PRIVACY_CSTG)
    assert decrypt(token, client=client).status is S.SUCCESS


def test_fault_11_1_server_side_tokens_need_no_domain() -> None:
    assert decrypt(tf.token(privacy_bits=PRIVACY_LEGACY), name=None).status is S.SUCCESS


@GCM_VERSIONS
def test_fault_11_5_token_scope_is_reported_from_the_token(
    version: AdvertisingTokenVersion,
) -> None:
    token = tf.token(version, identity_scope=IdentityScope.EUID)
    result = decrypt(token, tf.keyring(identity_scope=IdentityScope.EUID))
    assert (result.status, result.identity_scope) == (S.SUCCESS, IdentityScope.EUID)


@GCM_VERSIONS
def test_fault_11_5_a_token_of_the_other_scope_is_invalid_identity_scope(
    version: AdvertisingTokenVersion,
) -> None:
    """The SDK reports SUCCESS with the keys' scope (sdk.md §3.5); we refuse."""
    result = decrypt(tf.token(version, identity_scope=IdentityScope.EUID))
    assert result.status is S.INVALID_IDENTITY_SCOPE
    assert result.uid is None and result.identity_scope is IdentityScope.EUID


def test_fault_11_5_expired_token_of_another_scope_reports_its_own_scope() -> None:
    result = decrypt(tf.token(identity_scope=IdentityScope.EUID, expires_ms=tf.NOW_MS - 1))
    assert (result.status, result.identity_scope) == (S.EXPIRED_TOKEN, IdentityScope.EUID)


def test_fault_11_5_v2_tokens_report_the_keyring_scope() -> None:
    result = decrypt(tf.token(tf.V2), tf.keyring(identity_scope=IdentityScope.EUID))
    assert (result.status, result.identity_scope) == (S.SUCCESS, IdentityScope.EUID)


def test_fault_11_5_flipped_header_type_bit_is_rejected_for_33_byte_ids() -> None:
    phone = tf.token(identity_type=IdentityType.Phone, raw_uid=base64.b64decode(tf.PHONE_UID))
    assert phone[0] == "B"
    assert decrypt("A" + phone[1:]).status is S.INVALID_IDENTITY_SCOPE


def test_result_is_frozen() -> None:
    result = decrypt(tf.token())
    with pytest.raises(AttributeError):
        result.uid = "x"  # type: ignore[misc]

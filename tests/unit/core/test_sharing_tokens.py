"""Sharing-token encryption.

Reference: sdk.md §2.4, §4.4, §9.5 (test_sharing_client), §11.6-§11.8.
"""

from __future__ import annotations

import base64

import pytest
import token_fixtures as tf

from uid2.core.enums import (
    ClientType,
    DecryptionStatus,
    EncryptionStatus,
    IdentityScope,
    IdentityType,
)
from uid2.core.keys import Keyring
from uid2.core.tokens import (
    DEFAULT_TOKEN_EXPIRY_SECONDS,
    EncryptResult,
    TokenFields,
    decode_token_fields,
    decrypt_token,
    encrypt_raw_uid,
)

E = EncryptionStatus
NONCES = {"master_nonce": b"\x02" * 12, "site_nonce": b"\x01" * 12}
RAW_V4_PHONE = "JB6EgkYDFpSB0mPL1P1irkxnHvGn0qi0ENrDEt7r6o8D"  # operator.md §3.4, byte0 0x24


def encrypt(uid: str = tf.EMAIL_UID, keys: Keyring | None = None, **kw: object) -> EncryptResult:
    keyring = tf.keyring() if keys is None else keys
    return encrypt_raw_uid(uid, keyring, now_ms=kw.pop("now_ms", tf.NOW_MS), **{**NONCES, **kw})  # type: ignore[arg-type]


def fields_of(token: str | None, keys: Keyring | None = None) -> TokenFields:
    decoded = decode_token_fields(token, tf.keyring() if keys is None else keys)
    assert isinstance(decoded, TokenFields), decoded
    return decoded


def test_sharing_token_is_v4_with_sdk_field_values() -> None:
    result = encrypt()
    assert result.success and result.token is not None
    assert result.token.startswith("A4") and not set("+/=") & set(result.token)
    assert fields_of(result.token) == tf.fields(
        tf.V4,
        expires_ms=tf.NOW_MS + DEFAULT_TOKEN_EXPIRY_SECONDS * 1000,
        established_ms=tf.NOW_MS,
        generated_ms=tf.NOW_MS,
        refreshed_ms=tf.NOW_MS,
    )


def test_sharing_token_round_trips_through_the_sharing_policy() -> None:
    token = encrypt().token
    result = decrypt_token(token, tf.keyring(), now_ms=tf.NOW_MS, client_type=ClientType.SHARING)
    assert (result.status, result.uid, result.site_id) == (
        DecryptionStatus.SUCCESS,
        tf.EMAIL_UID,
        tf.SITE_ID,
    )


def test_same_nonces_and_time_give_the_same_token() -> None:
    assert encrypt().token == encrypt().token
    assert encrypt().token != encrypt(master_nonce=b"\x03" * 12).token


def test_milliseconds_are_kept_unlike_the_sdk() -> None:
    """sdk.md §2.4/§11.8: the SDK truncates to whole seconds; we keep the clock's ms."""
    decoded = fields_of(encrypt(now_ms=tf.NOW_MS + 123).token)
    assert decoded.established_ms == decoded.generated_ms == tf.NOW_MS + 123


def test_euid_keyring_makes_euid_tokens() -> None:
    keys = tf.keyring(identity_scope=IdentityScope.EUID)
    token = encrypt(keys=keys).token
    assert token is not None and token.startswith("E4")
    assert fields_of(token, keys).identity_scope is IdentityScope.EUID


def test_explicit_scope_overrides_the_keyring() -> None:
    token = encrypt(identity_scope=IdentityScope.EUID).token
    assert token is not None and token[0] == "E"


@pytest.mark.parametrize(
    ("uid", "prefix", "itype"),
    [
        (tf.EMAIL_UID, "A4", IdentityType.Email),
        (tf.UID2_EMAIL_V3, "A4", IdentityType.Email),
        (tf.PHONE_UID, "B4", IdentityType.Phone),
        (RAW_V4_PHONE, "B4", IdentityType.Phone),
    ],
)
def test_fault_11_7_identity_type_comes_from_the_raw_uid_bytes(
    uid: str, prefix: str, itype: IdentityType
) -> None:
    token = encrypt(uid).token
    assert token is not None and token.startswith(prefix)
    assert fields_of(token).identity_type is itype


@pytest.mark.parametrize(
    "uid",
    [
        "not base64!",
        base64.b64encode(b"\x00" * 31).decode(),
        base64.b64encode(b"\x00" * 34).decode(),
        "",
        tf.EUID_EMAIL_V3,  # an EUID raw UID under a UID2 keyring
        base64.b64encode(b"\x08" + b"\x00" * 32).decode(),  # type bits 2: no such type
    ],
    ids=["junk", "31 bytes", "34 bytes", "empty", "other scope", "type 2"],
)
def test_fault_11_7_ids_that_are_not_raw_uids_are_invalid_raw_uid(uid: str) -> None:
    assert encrypt(uid).status is E.INVALID_RAW_UID


def test_fault_11_7_missing_caller_site_id_is_a_status_not_none() -> None:
    assert encrypt(keys=tf.keyring(caller_site_id=None)).status is E.MISSING_CALLER_SITE_ID


def test_not_initialized_and_keys_not_synced() -> None:
    assert encrypt_raw_uid(tf.EMAIL_UID, None, now_ms=tf.NOW_MS, **NONCES).status is (
        E.NOT_INITIALIZED
    )
    stale = tf.keyring([tf.master_key(expires_s=tf.NOW_S), tf.site_key(expires_s=tf.NOW_S)])
    assert encrypt(keys=stale).status is E.KEYS_NOT_SYNCED


def test_no_master_key_comes_before_the_site_key_and_caller_checks() -> None:
    keys = tf.keyring([tf.site_key()], caller_site_id=None)
    assert encrypt(keys=keys).status is E.NOT_AUTHORIZED_FOR_MASTER_KEY
    assert encrypt(keys=tf.keyring(master_keyset_id=None)).status is E.NOT_AUTHORIZED_FOR_MASTER_KEY


@pytest.mark.parametrize(
    "keys",
    [
        tf.keyring(default_keyset_id=None),
        tf.keyring([tf.master_key()]),
        tf.keyring([tf.master_key(), tf.site_key(expires_s=tf.NOW_S)]),
        tf.keyring([tf.master_key(), tf.site_key(activates_s=tf.NOW_S + 1)]),
    ],
    ids=["no default keyset", "no site key", "expired site key", "inactive site key"],
)
def test_no_usable_site_key_is_not_authorized_for_key(keys: Keyring) -> None:
    assert encrypt(keys=keys).status is E.NOT_AUTHORIZED_FOR_KEY


def test_caller_site_id_is_checked_before_the_site_key() -> None:
    assert encrypt(keys=tf.keyring(caller_site_id=None, default_keyset_id=None)).status is (
        E.MISSING_CALLER_SITE_ID
    )


def test_explicit_keyset_id_picks_that_keysets_key() -> None:
    other = tf.key(300, b"\x03" * 32, site_id=4874, keyset_id=555)
    keys = tf.keyring([tf.master_key(), tf.site_key(), other])
    assert fields_of(encrypt(keys=keys, keyset_id=555).token, keys).site_key_id == 300
    assert encrypt(keys=keys, keyset_id=556).status is E.NOT_AUTHORIZED_FOR_KEY


def _keyset_keys(*activates_offsets: int) -> list:  # type: ignore[type-arg]
    return [
        tf.key(
            200 + i,
            bytes([i + 1]) * 32,
            site_id=tf.SITE_ID,
            keyset_id=tf.DEFAULT_KEYSET_ID,
            activates_s=tf.NOW_S + off,
            expires_s=tf.NOW_S + 86400,
        )
        for i, off in enumerate(activates_offsets)
    ]


@pytest.mark.parametrize(
    ("offsets", "expected_key"),
    [((-200, -100), 201), ((-100, -200), 200), ((+100, +200, -100), 202)],
    ids=["[old, new]", "[new, old]", "[future, future, active]"],
)
def test_fault_11_6_the_newest_active_key_wins_whatever_the_json_order(
    offsets: tuple[int, ...], expected_key: int
) -> None:
    keys = tf.keyring([tf.master_key(), *_keyset_keys(*offsets)])
    result = encrypt(keys=keys)
    assert result.success
    assert fields_of(result.token, keys).site_key_id == expected_key


def test_token_expiry_seconds_2_is_valid_for_two_seconds() -> None:
    """sdk.md §9.5 (test_sharing_client)."""
    keys = tf.keyring(token_expiry_seconds=2)
    token = encrypt(keys=keys).token

    def at(now: int) -> tuple[DecryptionStatus, int | None]:
        r = decrypt_token(token, keys, now_ms=now, client_type=ClientType.SHARING)
        return r.status, r.expiry_ms

    assert at(tf.NOW_MS + 1000)[0] is DecryptionStatus.SUCCESS
    assert at(tf.NOW_MS + 3000) == (DecryptionStatus.EXPIRED_TOKEN, tf.NOW_MS + 2000)


def test_another_site_with_the_keys_can_decrypt() -> None:
    token = encrypt().token
    receiver = tf.keyring(caller_site_id=4874, default_keyset_id=None)
    result = decrypt_token(token, receiver, now_ms=tf.NOW_MS, client_type=ClientType.SHARING)
    assert (result.status, result.site_id) == (DecryptionStatus.SUCCESS, tf.SITE_ID)


def test_values_that_do_not_fit_the_token_are_encryption_failure() -> None:
    assert encrypt(keys=tf.keyring(caller_site_id=2**40)).status is E.ENCRYPTION_FAILURE


def test_nonces_must_be_12_bytes() -> None:
    with pytest.raises(ValueError, match="12 bytes"):
        encrypt(master_nonce=b"\x00" * 16)

"""Our SDK clients against the official SDK (uid2-client 2.9.0), both directions, at the level
users call: BidstreamClient / SharingClient / Uid2Client with the same key response."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import uid2_client as official
from uid2_client import EncryptionKey, Params, UID2TokenGenerator

import uid2

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

MASTER_SECRET = base64.b64decode("iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=")
SITE_SECRET = base64.b64decode("IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=")
EMAIL_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
PHONE_UID_V3 = "BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"
SITE_ID = 9000
NOW = datetime.now(UTC).replace(microsecond=0)
CREATED = int((NOW - timedelta(days=1)).timestamp())
EXPIRES = int((NOW + timedelta(days=365)).timestamp())
CREDS = ("http://127.0.0.1:9", "key", base64.b64encode(bytes(32)).decode())


def official_key(key_id: int, site_id: int, secret: bytes, keyset_id: int) -> EncryptionKey:
    created = datetime.fromtimestamp(CREATED, UTC)
    expires = datetime.fromtimestamp(EXPIRES, UTC)
    return EncryptionKey(key_id, site_id, created, created, expires, secret, keyset_id=keyset_id)


MASTER = official_key(164, -1, MASTER_SECRET, 9999999)
SITE = official_key(165, SITE_ID, SITE_SECRET, 99999)


def key_response(*, keys: tuple[EncryptionKey, ...] = (MASTER, SITE), **header: object) -> str:
    entries = [
        {
            "id": k.key_id,
            "keyset_id": k.keyset_id,
            "created": CREATED,
            "activates": CREATED,
            "expires": EXPIRES,
            "secret": base64.b64encode(k.secret).decode(),
        }
        for k in keys
    ]
    body = {
        "caller_site_id": SITE_ID,
        "master_keyset_id": 9999999,
        "default_keyset_id": 99999,
        "token_expiry_seconds": "2592000",
        "identity_scope": "UID2",
        "max_bidstream_lifetime_seconds": 3 * 86400 + 10,
        "max_sharing_lifetime_seconds": 30 * 86400 + 10,
        "keys": entries,
        **header,
    }
    return json.dumps({"body": body})


def both_sharing(response: str | None = None) -> tuple[uid2.SharingClient, official.SharingClient]:
    ours = uid2.SharingClient(*CREDS)
    theirs = official.SharingClient(*CREDS)
    ours.refresh_json(response or key_response())
    theirs._refresh_json(response or key_response())
    return ours, theirs


def both_bidstream(
    response: str | None = None,
) -> tuple[uid2.BidstreamClient, official.BidstreamClient]:
    ours = uid2.BidstreamClient(*CREDS)
    theirs = official.BidstreamClient(*CREDS)
    ours.refresh_json(response or key_response())
    theirs._refresh_json(response or key_response())
    return ours, theirs


def their_token(version: int, uid: str = EMAIL_UID, **params: object) -> str:
    p = Params(**params)  # type: ignore[arg-type]
    if version == 2:
        return UID2TokenGenerator.generate_uid2_token_v2(uid, MASTER, SITE_ID, SITE, p)
    return UID2TokenGenerator.generate_uid2_token_with_debug_info(
        uid, MASTER, SITE_ID, SITE, p, version
    )


def same_result(ours: uid2.DecryptedToken, theirs: official.DecryptedToken) -> None:
    assert ours.status.value == theirs.status.value
    if theirs.status.value == "success":
        assert ours.uid == theirs.uid
        assert ours.site_id == theirs.site_id
        assert ours.established == theirs.established
        assert ours.advertising_token_version == theirs.advertising_token_version
        if theirs.identity_type is not None:
            assert int(ours.identity_type) == int(theirs.identity_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [2, 112, 128])
@pytest.mark.parametrize("uid", [EMAIL_UID, PHONE_UID_V3])
def test_their_tokens_decrypt_the_same_through_our_bidstream_client(version: int, uid: str) -> None:
    ours, theirs = both_bidstream()
    token = their_token(version, uid)
    same_result(
        ours.decrypt_token_into_raw_uid(token, None), theirs.decrypt_token_into_raw_uid(token, None)
    )


@pytest.mark.parametrize("uid", [EMAIL_UID, PHONE_UID_V3])
def test_our_sharing_tokens_decrypt_through_their_sharing_client(uid: str) -> None:
    ours, theirs = both_sharing()
    token = ours.encrypt_raw_uid_into_token(uid).encrypted_data
    assert token is not None
    result = theirs.decrypt_token_into_raw_uid(token)
    assert result.success and result.uid == uid and result.site_id == SITE_ID


def test_their_sharing_tokens_decrypt_through_our_sharing_client() -> None:
    ours, theirs = both_sharing()
    token = theirs.encrypt_raw_uid_into_token(EMAIL_UID).encrypted_data
    result = ours.decrypt_token_into_raw_uid(token)
    assert result.success and result.uid == EMAIL_UID


def test_our_legacy_client_and_theirs_agree() -> None:
    ours = uid2.Uid2ClientFactory.create(*CREDS)
    theirs = official.Uid2ClientFactory.create(*CREDS)
    ours.refresh_json(key_response())
    theirs.refresh_json(key_response())
    assert theirs.decrypt(ours.encrypt(EMAIL_UID)).uid == EMAIL_UID
    assert ours.decrypt(theirs.encrypt(EMAIL_UID)).uid == EMAIL_UID


def _statuses(token: str, response: str | None, now: datetime | None = None) -> tuple[str, str]:
    ours, theirs = both_bidstream(response)
    # NOW, not the wall clock: the cases are built around NOW, and in a long run the wall clock
    # can be minutes past it (a "31 minutes ahead" token would then be within the skew)
    at = now or NOW
    mine = ours._decrypt_token_into_raw_uid(token, None, at).status.value
    try:
        official_status = theirs._decrypt_token_into_raw_uid(token, None, at).status.value
    except official.EncryptionError:
        official_status = "raised"
    return mine, official_status


STATUS_CASES = {
    "success": (lambda: their_token(128), None, None, "success"),
    "expired": (
        lambda: their_token(128, expiry=NOW - timedelta(seconds=1)),
        None,
        None,
        "token expired",
    ),
    "no_site_key": (
        lambda: their_token(128),
        key_response(keys=(MASTER,)),
        None,
        "not authorized for key",
    ),
    "no_master_key": (
        lambda: their_token(128),
        key_response(keys=(SITE,)),
        None,
        "not authorized for master key",
    ),
    "all_keys_expired": (
        lambda: their_token(128),
        None,
        NOW + timedelta(days=400),
        uid2.DecryptionStatus.KEYS_NOT_SYNCED.value,
    ),
    "too_long_lifetime": (
        lambda: their_token(128, expiry=NOW + timedelta(days=4)),
        None,
        None,
        "invalid token lifetime",
    ),
    "generated_in_future": (
        lambda: their_token(128, token_generated=NOW + timedelta(minutes=31)),
        None,
        None,
        "invalid token lifetime",
    ),
    "skew_within_limit": (
        lambda: their_token(128, token_generated=NOW + timedelta(minutes=29)),
        None,
        None,
        "success",
    ),
    "v2_success": (lambda: their_token(2), None, None, "success"),
    "v2_expired": (
        lambda: their_token(2, expiry=NOW - timedelta(seconds=1)),
        None,
        None,
        "token expired",
    ),
    "version_not_supported": (lambda: "invalid-token", None, None, "token version not supported"),
}


@pytest.mark.parametrize("case", sorted(STATUS_CASES))
def test_every_status_case_gives_the_same_status(case: str) -> None:
    make, response, now, expected = STATUS_CASES[case]
    mine, theirs = _statuses(make(), response, now)
    assert mine == theirs == expected


@pytest.mark.parametrize("cut", [3, 10, 50])
def test_truncated_tokens_are_invalid_payload_where_theirs_raises(cut: int) -> None:
    mine, theirs = _statuses(their_token(128)[:-cut], None)
    assert (mine, theirs) == ("invalid payload", "raised")


def test_both_reject_tokens_before_keys_are_loaded() -> None:
    ours = uid2.BidstreamClient(*CREDS)
    theirs = official.BidstreamClient(*CREDS)
    token = their_token(128)
    assert (
        ours.decrypt_token_into_raw_uid(token, None).status.value
        == theirs.decrypt_token_into_raw_uid(token, None).status.value
    )


def test_cstg_flag_reads_the_right_bit_where_theirs_does_not() -> None:
    """sdk.md §11.2: the official SDK tests bit 0x40000000, so real CSTG tokens read False."""
    from uid2.core.enums import AdvertisingTokenVersion, IdentityScope, IdentityType
    from uid2.core.tokens import TokenFields, encode_token

    now_ms = int(time.time() * 1000)
    token = encode_token(
        TokenFields(
            version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
            identity_scope=IdentityScope.UID2,
            identity_type=IdentityType.Email,
            master_key_id=164,
            site_key_id=165,
            expires_ms=now_ms + 3_600_000,
            generated_ms=now_ms,
            refreshed_ms=now_ms,
            site_id=SITE_ID,
            established_ms=now_ms,
            privacy_bits=3,
            raw_uid=base64.b64decode(EMAIL_UID),
        ),
        master_secret=MASTER_SECRET,
        site_secret=SITE_SECRET,
        master_nonce=bytes(12),
        site_nonce=bytes(12),
    )
    site_data = [{"id": SITE_ID, "domain_names": ["example.com"]}]
    ours, theirs = both_bidstream(key_response(site_data=site_data))
    mine = ours.decrypt_token_into_raw_uid(token, "example.com")
    official_result = theirs.decrypt_token_into_raw_uid(token, "example.com")
    assert mine.success and official_result.success and mine.uid == official_result.uid
    assert (
        mine.is_client_side_generated is True and official_result.is_client_side_generated is False
    )
    assert not ours.decrypt_token_into_raw_uid(token, "evil.com").success
    assert theirs.decrypt_token_into_raw_uid(token, "evil.com").success  # theirs never checks

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from fake_operator import (
    CREDENTIALS,
    MASTER_KEY,
    SITE_ID,
    SITE_KEY,
    FakeOperator,
    make_key,
    sharing_body,
)

from uid2 import (
    BidstreamClient,
    DecryptionStatus,
    EncryptionStatus,
    IdentityType,
    SharingClient,
    Uid2Client,
    Uid2ClientFactory,
)
from uid2.core.encoding import b64encode
from uid2.sdk.errors import EncryptionError, Uid2Error

RAW_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
PHONE_RAW_UID_V3 = "BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"


@pytest.fixture
def sharing(client_args: dict[str, object]) -> SharingClient:
    client = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    assert client.refresh().success
    return client


def test_sharing_round_trip(sharing: SharingClient) -> None:
    encrypted = sharing.encrypt_raw_uid_into_token(RAW_UID)
    assert encrypted.success and encrypted.encrypted_data.startswith("A4")  # type: ignore[union-attr]
    decrypted = sharing.decrypt_token_into_raw_uid(encrypted.encrypted_data)  # type: ignore[arg-type]
    assert decrypted.success and decrypted.uid == RAW_UID and decrypted.uid2 == RAW_UID
    assert decrypted.site_id == SITE_ID


def test_sharing_types_a_v3_phone_raw_uid_from_its_bytes(sharing: SharingClient) -> None:
    token = sharing.encrypt_raw_uid_into_token(PHONE_RAW_UID_V3).encrypted_data
    assert token is not None and token.startswith("B4")
    assert sharing.decrypt_token_into_raw_uid(token).identity_type is IdentityType.Phone


@pytest.mark.parametrize("token", ["", "abc", "A4" + "A" * 300, "\x00\xff" * 40, "x" * 100_000])
def test_malformed_tokens_return_a_status_and_never_raise(
    sharing: SharingClient, token: str
) -> None:
    assert not sharing.decrypt_token_into_raw_uid(token).success


def test_truncated_token_is_invalid_payload(sharing: SharingClient) -> None:
    token = sharing.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
    result = sharing.decrypt_token_into_raw_uid(token[:-3])  # type: ignore[index]
    assert result.status is DecryptionStatus.INVALID_PAYLOAD


def test_before_any_refresh_decrypt_is_not_initialized(client_args: dict[str, object]) -> None:
    client = BidstreamClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    assert (
        client.decrypt_token_into_raw_uid("A4AAAA", None).status is DecryptionStatus.NOT_INITIALIZED
    )
    assert client.keys is None


def test_refresh_failure_keeps_the_old_keys(sharing: SharingClient, operator: FakeOperator) -> None:
    keys = sharing.keys
    operator.fail("/v2/key/sharing", 500, 500, 500, 500)
    response = sharing.refresh()
    assert not response.success and response.reason and "500" in response.reason
    assert sharing.keys is keys


def test_refresh_json_loads_keys_without_http(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    client = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    assert client.refresh_json(json.dumps({"body": sharing_body()})).success
    assert client._refresh_json(json.dumps({"body": sharing_body()})).success
    assert not client.refresh_json("{not json").success
    assert operator.calls == []


def test_active_key_is_chosen_whatever_the_json_order(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    """sdk.md §11.6: the official SDK picks an older key for [new, old]."""
    now = int(time.time())
    old = make_key(20, 10, activates=now - 7200)
    new = make_key(21, 10, activates=now - 3600)
    future = make_key(22, 10, activates=now + 3600)
    for order in ([old, new, future], [future, new, old], [new, old, future]):
        operator.keys_body = sharing_body([MASTER_KEY, *order])
        client = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
        client.refresh()
        assert client.keys is not None
        assert client.keys.default_keyset_key(now * 1000).key_id == 21  # type: ignore[union-attr]


def test_unknown_key_triggers_one_rate_limited_refresh(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    """A new sharing grant works without waiting for the hourly refresh."""
    sender_body = sharing_body([MASTER_KEY, SITE_KEY])
    sender = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    sender.refresh_json(json.dumps({"body": sender_body}))
    token = sender.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
    assert token is not None

    operator.keys_body = sharing_body([MASTER_KEY])  # the receiver has no grant yet
    receiver = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    receiver.refresh()
    calls_before = len(operator.calls)
    assert (
        receiver.decrypt_token_into_raw_uid(token).status is DecryptionStatus.NOT_AUTHORIZED_FOR_KEY
    )
    assert len(operator.calls) == calls_before + 1  # refreshed once on demand

    operator.keys_body = sharing_body([MASTER_KEY, SITE_KEY])  # the grant arrives
    # rate limited: the second miss inside the interval does not call out again
    assert not receiver.decrypt_token_into_raw_uid(token).success
    assert len(operator.calls) == calls_before + 1

    fresh = SharingClient(*CREDENTIALS, on_demand_interval=0.0, **client_args)  # type: ignore[arg-type]
    fresh.refresh_json(json.dumps({"body": sharing_body([MASTER_KEY])}))
    fresh._holder.mark_success()  # behaves as a client that has fetched over HTTP
    assert fresh.decrypt_token_into_raw_uid(token).success


def test_air_gapped_client_never_calls_out(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    client = SharingClient(*CREDENTIALS, on_demand_interval=0.0, **client_args)  # type: ignore[arg-type]
    client.refresh_json(json.dumps({"body": sharing_body([MASTER_KEY])}))
    client.decrypt_token_into_raw_uid("A4AAAAAA" * 30)
    assert operator.calls == []


def test_background_refresh_swaps_keys(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    client = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    client.start_auto_refresh(interval_seconds=0.05)
    try:
        deadline = time.monotonic() + 5
        while operator.calls.count("/v2/key/sharing") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        client.close()
    assert operator.calls.count("/v2/key/sharing") >= 3 and client.keys is not None


def test_encrypt_statuses(client_args: dict[str, object]) -> None:
    client = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    assert client.encrypt_raw_uid_into_token(RAW_UID).status is EncryptionStatus.NOT_INITIALIZED
    client.refresh_json(json.dumps({"body": sharing_body([MASTER_KEY])}))
    assert (
        client.encrypt_raw_uid_into_token(RAW_UID).status is EncryptionStatus.NOT_AUTHORIZED_FOR_KEY
    )
    body = sharing_body()
    del body["caller_site_id"]
    client.refresh_json(json.dumps({"body": body}))
    assert (
        client.encrypt_raw_uid_into_token(RAW_UID).status is EncryptionStatus.MISSING_CALLER_SITE_ID
    )
    client.refresh_json(json.dumps({"body": sharing_body()}))
    assert (
        client.encrypt_raw_uid_into_token(b64encode(b"short")).status
        is EncryptionStatus.INVALID_RAW_UID
    )


def test_bidstream_checks_the_domain_of_client_side_tokens(client_args: dict[str, object]) -> None:
    """sdk.md §11.1/§11.2: the official SDK never checks site_data and reads the wrong bit."""
    from uid2.core.enums import AdvertisingTokenVersion, IdentityScope
    from uid2.core.tokens import TokenFields, encode_token

    now = int(time.time() * 1000)
    fields = TokenFields(
        version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
        identity_scope=IdentityScope.UID2,
        identity_type=IdentityType.Email,
        master_key_id=MASTER_KEY.key_id,
        site_key_id=SITE_KEY.key_id,
        expires_ms=now + 3_600_000,
        generated_ms=now,
        refreshed_ms=now,
        site_id=SITE_ID,
        established_ms=now,
        privacy_bits=3,
        raw_uid=bytes(32),
    )
    token = encode_token(
        fields,
        master_secret=MASTER_KEY.secret,
        site_secret=SITE_KEY.secret,
        master_nonce=bytes(12),
        site_nonce=bytes(12),
    )
    client = BidstreamClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    body = sharing_body(
        site_data=[{"id": SITE_ID, "domain_names": ["example.com", "com.example.app"]}]
    )
    client.refresh_json(json.dumps({"body": body}))
    ok = client.decrypt_token_into_raw_uid(token, "Example.COM")
    assert ok.success and ok.is_client_side_generated is True
    assert client.decrypt_token_into_raw_uid(token, "com.example.app").success
    for name in ("other.com", None):
        result = client.decrypt_token_into_raw_uid(token, name)
        assert result.status is DecryptionStatus.DOMAIN_NAME_CHECK_FAILED


def test_legacy_client(client_args: dict[str, object], operator: FakeOperator) -> None:
    client = Uid2Client(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    with pytest.raises(EncryptionError):
        client.encrypt(RAW_UID)
    client.refresh_keys()
    token = client.encrypt(RAW_UID)
    assert client.decrypt(token).uid2 == RAW_UID
    with pytest.raises(EncryptionError) as info:
        client.decrypt("A4" + "A" * 200)
    assert str(info.value) in {s.value for s in DecryptionStatus}
    operator.fail("/v2/key/sharing", 401)
    with pytest.raises(Uid2Error):
        Uid2Client(
            *CREDENTIALS, http_settings=client_args["http_settings"], transport=operator.transport()
        ).refresh_keys()  # type: ignore[arg-type]


def test_factories_fix_the_scope() -> None:
    client = Uid2ClientFactory.create(*CREDENTIALS)
    body = sharing_body(identity_scope="EUID")
    client.refresh_json(json.dumps({"body": body}))
    assert client.encrypt(RAW_UID).startswith("A4")  # UID2 factory wins over the keys' EUID


def test_expired_token_reports_expiry(sharing: SharingClient) -> None:
    later = datetime.now(UTC) + timedelta(days=31)
    token = sharing.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
    result = sharing._decrypt_token_into_raw_uid(token, later)  # type: ignore[arg-type]
    assert result.status is DecryptionStatus.EXPIRED_TOKEN and result.expiry is not None


def test_decrypting_while_keys_are_swapped_never_fails(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    """Refresh races: readers see the old or the new keyring, never a half-built one."""
    import threading

    client = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    client.refresh()
    token = client.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
    assert token is not None
    failures: list[object] = []
    stop = threading.Event()

    def decrypt_loop() -> None:
        while not stop.is_set():
            result = client.decrypt_token_into_raw_uid(token)
            if not result.success or result.uid != RAW_UID:
                failures.append(result.status)

    readers = [threading.Thread(target=decrypt_loop) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(200):
            assert client.refresh().success
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []


def test_concurrent_on_demand_refreshes_collapse_into_one(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    import threading

    client = SharingClient(*CREDENTIALS, on_demand_interval=60.0, **client_args)  # type: ignore[arg-type]
    client.refresh_json(json.dumps({"body": sharing_body([MASTER_KEY])}))
    client._holder.mark_success()
    sender = SharingClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    sender.refresh_json(json.dumps({"body": sharing_body()}))
    token = sender.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
    threads = [
        threading.Thread(target=client.decrypt_token_into_raw_uid, args=(token,)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert operator.calls.count("/v2/key/sharing") == 1

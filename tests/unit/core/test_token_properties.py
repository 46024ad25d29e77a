"""Property tests: decrypt_token never raises, and tampered GCM tokens never succeed.

Reference: sdk.md §3.1 step 6 and §11.4 (the SDK raises for malformed tokens; we return a
status). GCM authenticates everything after the 6-byte header, nonce included; the header
is unauthenticated (sdk.md §2), so header mutations only have to be handled, not rejected.
v2 (CBC) has no MAC at all: tampering may still parse, so for v2 we only require no raise.
"""

from __future__ import annotations

import base64

import token_fixtures as tf
from hypothesis import given
from hypothesis import strategies as st

from uid2.core.enums import AdvertisingTokenVersion, ClientType, DecryptionStatus
from uid2.core.tokens import decode_token_fields, decrypt_token

KEYS = tf.keyring(site_data={tf.SITE_ID: frozenset({"example.com"})})
TOKENS = {v: tf.token(v) for v in tf.ALL}
TOKEN_BYTES = {
    v: base64.b64decode(TOKENS[v] + "=" * (-len(TOKENS[v]) % 4), altchars=b"-_") for v in tf.ALL
}
HEADER_SIZE = 6  # v3/v4: byte0, byte1, master key id
B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_="
versions = st.sampled_from(tf.ALL)
gcm_versions = st.sampled_from(tf.GCM)
clients = st.sampled_from(list(ClientType))


def _text(version: AdvertisingTokenVersion, data: bytes) -> str:
    if version is tf.V4:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    return base64.b64encode(data).decode()


def _decrypt(token: object, client: ClientType = ClientType.BIDSTREAM) -> DecryptionStatus:
    result = decrypt_token(
        token, KEYS, now_ms=tf.NOW_MS, client_type=client, domain_or_app_name="example.com"
    )
    return result.status


@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)), clients)
def test_random_input_never_raises(token: str | bytes, client: ClientType) -> None:
    assert _decrypt(token, client) is not DecryptionStatus.SUCCESS


@given(st.sampled_from(["A4AA", "A3AA", "AgAA", "E4AA", "AIAA"]), st.text(B64_CHARS, max_size=300))
def test_random_bodies_behind_valid_headers_never_raise(header: str, body: str) -> None:
    assert _decrypt(header + body) is not DecryptionStatus.SUCCESS
    assert decode_token_fields(header + body, KEYS) is not None


@given(gcm_versions, st.data())
def test_any_single_byte_change_after_the_gcm_header_fails(
    version: AdvertisingTokenVersion, data: st.DataObject
) -> None:
    raw = bytearray(TOKEN_BYTES[version])
    position = data.draw(st.integers(HEADER_SIZE, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    assert _decrypt(_text(version, bytes(raw))) is not DecryptionStatus.SUCCESS


@given(versions, st.data(), clients)
def test_any_single_byte_change_never_raises(
    version: AdvertisingTokenVersion, data: st.DataObject, client: ClientType
) -> None:
    raw = bytearray(TOKEN_BYTES[version])
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    _decrypt(_text(version, bytes(raw)), client)
    decode_token_fields(_text(version, bytes(raw)), KEYS)


@given(gcm_versions, st.data())
def test_header_changes_never_yield_another_uid(
    version: AdvertisingTokenVersion, data: st.DataObject
) -> None:
    raw = bytearray(TOKEN_BYTES[version])
    position = data.draw(st.integers(0, HEADER_SIZE - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    result = decrypt_token(
        _text(version, bytes(raw)), KEYS, now_ms=tf.NOW_MS, client_type=ClientType.BIDSTREAM
    )
    assert result.uid in (None, tf.EMAIL_UID)


@given(versions, st.data())
def test_truncations_never_raise_and_never_succeed(
    version: AdvertisingTokenVersion, data: st.DataObject
) -> None:
    text = TOKENS[version]
    cut = data.draw(st.integers(0, len(text) - 1))
    status = _decrypt(text[:cut])
    if version is not tf.V2:
        assert status is not DecryptionStatus.SUCCESS


@given(versions, st.integers(1, 64))
def test_byte_truncations_of_whole_blocks_never_succeed(
    version: AdvertisingTokenVersion, drop: int
) -> None:
    """Cutting bytes (not characters) keeps the text well-formed base64."""
    status = _decrypt(_text(version, TOKEN_BYTES[version][:-drop]))
    if version is not tf.V2:
        assert status is not DecryptionStatus.SUCCESS


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_any_clock_value_never_raises(now_ms: int) -> None:
    for version in tf.ALL:
        decrypt_token(TOKENS[version], KEYS, now_ms=now_ms, client_type=ClientType.SHARING)

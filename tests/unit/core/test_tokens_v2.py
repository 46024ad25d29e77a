"""v2 tokens (AES-CBC): layout, vectors, strict padding. Reference: sdk.md §2.2, §3.7."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import token_fixtures as tf

from uid2.core.aead import cbc_seal
from uid2.core.enums import DecryptionStatus, IdentityScope
from uid2.core.tokens import TokenFields, decode_token_fields, encode_token, v2

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "advertising_tokens.json").read_text()
)
V2_VECTORS = [v for v in VECTORS["generate"] if v["version"] == "V2"]


def _vector_fields(vector: dict[str, Any]) -> TokenFields:
    return tf.fields(
        tf.V2,
        identity_scope=IdentityScope[vector["identity_scope"]],
        raw_uid=base64.b64decode(vector["raw_uid"]),
        site_id=vector["site_id"],
        established_ms=vector["established_ms"],
        expires_ms=vector["expires_ms"],
    )


@pytest.mark.parametrize("vector", V2_VECTORS, ids=lambda v: v["name"])
def test_encoding_the_vector_fields_gives_the_exact_token(vector: dict[str, Any]) -> None:
    token = encode_token(
        _vector_fields(vector),
        master_secret=tf.MASTER_SECRET,
        site_secret=tf.SITE_SECRET,
        master_nonce=bytes.fromhex(vector["master_nonce_hex"]),
        site_nonce=bytes.fromhex(vector["site_nonce_hex"]),
    )
    assert token == vector["token"]


@pytest.mark.parametrize("vector", V2_VECTORS, ids=lambda v: v["name"])
def test_decoding_the_vector_gives_its_fields(vector: dict[str, Any]) -> None:
    scope = IdentityScope[vector["identity_scope"]]
    decoded = decode_token_fields(vector["token"], tf.keyring(identity_scope=scope))
    assert decoded == _vector_fields(vector)


def test_a_v2_token_for_a_32_or_33_byte_id_is_180_characters() -> None:
    assert len(tf.token(tf.V2)) == 180
    assert len(tf.token(tf.V2, raw_uid=base64.b64decode(tf.PHONE_UID))) == 180


def test_v2_round_trip_keeps_privacy_bits_and_reports_no_type_or_generated_time() -> None:
    decoded = decode_token_fields(tf.token(tf.V2, privacy_bits=3), tf.keyring())
    assert isinstance(decoded, TokenFields)
    assert decoded.privacy_bits == 3
    assert decoded.is_client_side_generated
    assert decoded.identity_type is None
    assert decoded.generated_ms is None and decoded.operator is None


def test_v2_takes_its_scope_from_the_keyring() -> None:
    decoded = decode_token_fields(tf.token(tf.V2), tf.keyring(identity_scope=IdentityScope.EUID))
    assert isinstance(decoded, TokenFields)
    assert decoded.identity_scope is IdentityScope.EUID


def _v2_with_identity(identity: bytes) -> str:
    """A v2 token whose (site-encrypted) identity block is exactly ``identity``."""
    master_payload = (
        (tf.NOW_MS + tf.HOUR).to_bytes(8, "big")
        + tf.SITE_KEY_ID.to_bytes(4, "big")
        + cbc_seal(tf.SITE_SECRET, b"\x01" * 16, identity)
    )
    body = b"\x02" + tf.MASTER_KEY_ID.to_bytes(4, "big")
    return base64.b64encode(
        body + cbc_seal(tf.MASTER_SECRET, b"\x02" * 16, master_payload)
    ).decode()


def _identity(id_text: bytes, *, declared_len: int | None = None, extra: bytes = b"") -> bytes:
    length = len(id_text) if declared_len is None else declared_len
    return (
        tf.SITE_ID.to_bytes(4, "big")
        + length.to_bytes(4, "big")
        + id_text
        + (0).to_bytes(4, "big")
        + tf.NOW_MS.to_bytes(8, "big")
        + extra
    )


def test_a_hand_built_identity_decodes() -> None:
    token = _v2_with_identity(_identity(tf.EMAIL_UID.encode()))
    decoded = decode_token_fields(token, tf.keyring())
    assert isinstance(decoded, TokenFields) and decoded.uid == tf.EMAIL_UID


@pytest.mark.parametrize(
    "identity",
    [
        _identity(tf.EMAIL_UID.encode(), extra=b"trailing"),
        _identity(tf.EMAIL_UID.encode(), declared_len=400),
        _identity(b"not base64 at all!!!"),
        _identity(base64.b64encode(b"\x00" * 20)),  # base64, but not a 32/33-byte raw UID
        b"\x00\x00",
    ],
    ids=["trailing bytes", "length past the end", "id not base64", "id of 20 bytes", "short"],
)
def test_identity_blocks_that_do_not_add_up_are_invalid_payload(identity: bytes) -> None:
    assert decode_token_fields(_v2_with_identity(identity), tf.keyring()) is (
        DecryptionStatus.INVALID_PAYLOAD
    )


def test_bad_pkcs7_padding_is_rejected_unlike_the_sdk() -> None:
    """sdk.md §2.2: the SDK trusts the last byte; flipping the final ciphertext block's
    predecessor changes the padding byte, which we must notice."""
    raw = bytearray(base64.b64decode(tf.token(tf.V2)))
    raw[-17] ^= 0x01  # the last plaintext byte (a padding byte) changes through CBC
    tampered = base64.b64encode(bytes(raw)).decode()
    assert decode_token_fields(tampered, tf.keyring()) is DecryptionStatus.INVALID_PAYLOAD


def test_unknown_master_and_site_keys_have_their_own_statuses() -> None:
    only_site = tf.keyring([tf.site_key()])
    only_master = tf.keyring([tf.master_key()])
    assert decode_token_fields(tf.token(tf.V2), only_site) is (
        DecryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY
    )
    assert decode_token_fields(tf.token(tf.V2), only_master) is (
        DecryptionStatus.NOT_AUTHORIZED_FOR_KEY
    )


def test_a_wrong_master_secret_is_invalid_payload_not_an_exception() -> None:
    token = tf.token(tf.V2, master_secret=b"\x07" * 32)
    assert decode_token_fields(token, tf.keyring()) is DecryptionStatus.INVALID_PAYLOAD


def test_encode_rejects_the_wrong_version_and_out_of_range_fields() -> None:
    with pytest.raises(ValueError, match="v2"):
        v2.encode(
            tf.fields(tf.V4),
            master_secret=b"k" * 32,
            site_secret=b"k" * 32,
            master_nonce=b"\x00" * 16,
            site_nonce=b"\x00" * 16,
        )
    with pytest.raises(ValueError, match="out of range"):
        tf.token(tf.V2, site_id=2**40)
    with pytest.raises(ValueError):
        encode_token(
            tf.fields(tf.V2),
            master_secret=tf.MASTER_SECRET,
            site_secret=tf.SITE_SECRET,
            master_nonce=b"short",
            site_nonce=b"\x00" * 16,
        )

"""v3/v4 tokens (AES-GCM): layout, vectors, header rules.

Reference: sdk.md §2.1, §2.3, §9.2, §9.4; operator.md §3.6.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import token_fixtures as tf

from uid2.core.enums import AdvertisingTokenVersion, DecryptionStatus, IdentityScope, IdentityType
from uid2.core.tokens import (
    CODECS,
    OperatorIdentity,
    TokenFields,
    build_registry,
    decode_token_fields,
    encode_token,
    read_version_unverified,
    v3,
    v4,
)

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "advertising_tokens.json").read_text()
)
GCM_VECTORS = [v for v in VECTORS["generate"] if v["version"] != "V2"]
VERSIONS = {"V3": tf.V3, "V4": tf.V4}


def _vector_fields(v: dict[str, Any]) -> TokenFields:
    return tf.fields(
        VERSIONS[v["version"]],
        identity_scope=IdentityScope[v["identity_scope"]],
        identity_type=IdentityType[v["identity_type"]],
        raw_uid=base64.b64decode(v["raw_uid"]),
        site_id=v["site_id"],
        established_ms=v["established_ms"],
        generated_ms=v["generated_ms"],
        refreshed_ms=v["generated_ms"],
        expires_ms=v["expires_ms"],
    )


@pytest.mark.parametrize("vector", GCM_VECTORS, ids=lambda v: v["name"])
def test_encoding_the_vector_fields_gives_the_exact_token(vector: dict[str, Any]) -> None:
    token = encode_token(
        _vector_fields(vector),
        master_secret=tf.MASTER_SECRET,
        site_secret=tf.SITE_SECRET,
        master_nonce=bytes.fromhex(vector["master_nonce_hex"]),
        site_nonce=bytes.fromhex(vector["site_nonce_hex"]),
    )
    assert token == vector["token"]


@pytest.mark.parametrize("vector", GCM_VECTORS, ids=lambda v: v["name"])
def test_decoding_the_vector_gives_its_fields(vector: dict[str, Any]) -> None:
    scope = IdentityScope[vector["identity_scope"]]
    assert decode_token_fields(vector["token"], tf.keyring(identity_scope=scope)) == (
        _vector_fields(vector)
    )


@pytest.mark.parametrize("vector", VECTORS["verify"], ids=lambda v: v["name"])
def test_the_cross_platform_token_decodes_to_every_listed_field(vector: dict[str, Any]) -> None:
    expected = vector["fields"]
    decoded = decode_token_fields(vector["token"], tf.keyring())
    assert isinstance(decoded, TokenFields)
    assert decoded.version is AdvertisingTokenVersion[f"ADVERTISING_TOKEN_{expected['version']}"]
    assert decoded.identity_scope is IdentityScope[expected["identity_scope"]]
    assert decoded.identity_type is IdentityType[expected["identity_type"]]
    assert decoded.operator == OperatorIdentity(*expected["operator"])
    assert decoded.uid == expected["raw_uid"]
    for name in (
        "master_key_id",
        "site_key_id",
        "expires_ms",
        "generated_ms",
        "site_id",
        "publisher_id",
        "client_key_id",
        "privacy_bits",
        "established_ms",
        "refreshed_ms",
    ):
        assert getattr(decoded, name) == expected[name], name


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_give_their_status(vector: dict[str, Any]) -> None:
    keys = tf.keyring(identity_scope=IdentityScope[vector["keyring_scope"]])
    assert decode_token_fields(vector["token"], keys) is DecryptionStatus[vector["status"]]


@pytest.mark.parametrize(
    ("scope", "itype", "uid", "prefix"),
    [
        (IdentityScope.UID2, IdentityType.Email, tf.EMAIL_UID, "A"),
        (IdentityScope.UID2, IdentityType.Phone, tf.PHONE_UID, "B"),
        (IdentityScope.EUID, IdentityType.Email, tf.EUID_EMAIL_V3, "E"),
        (
            IdentityScope.EUID,
            IdentityType.Phone,
            "FEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ",
            "F",
        ),
    ],
)
@pytest.mark.parametrize(("version", "digit"), [(tf.V3, "3"), (tf.V4, "4")])
def test_prefix_shows_scope_type_and_version(
    scope: IdentityScope,
    itype: IdentityType,
    uid: str,
    prefix: str,
    version: AdvertisingTokenVersion,
    digit: str,
) -> None:
    """sdk.md §2.1 / operator.md §3.6: A/B/E/F then the version digit."""
    token = tf.token(
        version, identity_scope=scope, identity_type=itype, raw_uid=base64.b64decode(uid)
    )
    assert token[:2] == prefix + digit


def test_v4_is_url_safe_without_padding_and_v3_is_standard_base64() -> None:
    t4 = tf.token(tf.V4, identity_type=IdentityType.Phone, raw_uid=base64.b64decode(tf.PHONE_UID))
    assert not set("+/=") & set(t4) and len(t4) == 219
    assert len(tf.token(tf.V4)) == 218
    assert len(tf.token(tf.V3)) == 220 and tf.token(tf.V3).endswith("=")


def test_v4_reencoded_as_padded_standard_base64_decodes() -> None:
    """sdk.md §9.5 (test_bidstream_client): accepted, as the SDK does."""
    t4 = tf.token(tf.V4)
    std = base64.b64encode(base64.urlsafe_b64decode(t4 + "=" * (-len(t4) % 4))).decode()
    assert decode_token_fields(std, tf.keyring()) == tf.fields(tf.V4)


def test_v3_must_be_standard_base64() -> None:
    t3 = tf.token(tf.V3)
    url = base64.urlsafe_b64encode(base64.b64decode(t3)).decode()
    assert url != t3
    assert decode_token_fields(url, tf.keyring()) is DecryptionStatus.INVALID_PAYLOAD


def test_all_fields_round_trip() -> None:
    full = tf.fields(
        tf.V4,
        operator=OperatorIdentity(site_id=7, type=17, version=3, key_id=9),
        publisher_id=2**40,
        client_key_id=77,
        privacy_bits=3,
        refreshed_ms=tf.NOW_MS - 5,
    )
    token = encode_token(
        full, master_secret=tf.MASTER_SECRET, site_secret=tf.SITE_SECRET, **tf.nonces(tf.V4)
    )
    decoded = decode_token_fields(token, tf.keyring())
    assert decoded == full
    assert isinstance(decoded, TokenFields) and decoded.is_client_side_generated


def test_header_scope_that_disagrees_with_a_33_byte_raw_uid_is_rejected() -> None:
    """operator.md §3.6; the header is unauthenticated (sdk.md §2), so a flipped scope bit
    must not produce a token for the other scope."""
    raw = bytearray(
        base64.urlsafe_b64decode(
            tf.token(
                tf.V4, identity_type=IdentityType.Phone, raw_uid=base64.b64decode(tf.PHONE_UID)
            )
            + "="
        )
    )
    raw[0] ^= 0x10
    flipped = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert decode_token_fields(flipped, tf.keyring()) is DecryptionStatus.INVALID_IDENTITY_SCOPE


def test_encode_refuses_scope_or_type_that_disagree_with_the_raw_uid() -> None:
    with pytest.raises(ValueError, match="disagree"):
        tf.token(tf.V4, raw_uid=base64.b64decode(tf.PHONE_UID))  # fields say Email
    with pytest.raises(ValueError, match="disagree"):
        tf.token(
            tf.V4, identity_scope=IdentityScope.EUID, raw_uid=base64.b64decode(tf.UID2_EMAIL_V3)
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"identity_type": None},
        {"generated_ms": None},
        {"raw_uid": b"\x00" * 31},
        {"site_key_id": -1},
    ],
    ids=["no type", "no generated", "short raw uid", "negative key id"],
)
def test_encode_raises_value_error_for_unusable_fields(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        tf.token(tf.V4, **overrides)


def test_each_module_encodes_only_its_version() -> None:
    args: dict[str, Any] = {
        "master_secret": tf.MASTER_SECRET,
        "site_secret": tf.SITE_SECRET,
        **tf.nonces(tf.V4),
    }
    with pytest.raises(ValueError, match="v3"):
        v3.encode(tf.fields(tf.V4), **args)
    with pytest.raises(ValueError, match="v4"):
        v4.encode(tf.fields(tf.V3), **args)
    with pytest.raises(ValueError, match="12 bytes"):
        encode_token(
            tf.fields(tf.V4),
            master_secret=tf.MASTER_SECRET,
            site_secret=tf.SITE_SECRET,
            master_nonce=b"x",
            site_nonce=b"y" * 12,
        )


def test_v3_and_v4_bytes_are_identical_except_byte1() -> None:
    b3 = base64.b64decode(tf.token(tf.V3))
    b4 = base64.urlsafe_b64decode(tf.token(tf.V4) + "==")
    assert (b3[1], b4[1]) == (112, 128)
    assert b3[:1] + b3[2:] == b4[:1] + b4[2:]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AgAAAKQ", AdvertisingTokenVersion.ADVERTISING_TOKEN_V2),
        ("A3AAAACk", AdvertisingTokenVersion.ADVERTISING_TOKEN_V3),
        ("A4AAAACk", AdvertisingTokenVersion.ADVERTISING_TOKEN_V4),
        ("AIAA", AdvertisingTokenVersion.ADVERTISING_TOKEN_V4),
        ("invalid-token", DecryptionStatus.VERSION_NOT_SUPPORTED),
        ("AQAA", DecryptionStatus.VERSION_NOT_SUPPORTED),
        ("A=AA", DecryptionStatus.INVALID_PAYLOAD),
        ("é4AA", DecryptionStatus.INVALID_PAYLOAD),
    ],
)
def test_version_dispatch_reads_the_first_four_characters(
    text: str, expected: AdvertisingTokenVersion | DecryptionStatus
) -> None:
    assert read_version_unverified(text) == expected


def test_registry_rejects_a_second_codec_for_a_version() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_registry([CODECS[tf.V4], CODECS[tf.V4]])


def test_decode_honours_the_allowed_versions() -> None:
    only_v4 = frozenset({tf.V4})
    assert decode_token_fields(tf.token(tf.V3), tf.keyring(), versions=only_v4) is (
        DecryptionStatus.VERSION_NOT_SUPPORTED
    )
    assert isinstance(
        decode_token_fields(tf.token(tf.V4), tf.keyring(), versions=only_v4), TokenFields
    )

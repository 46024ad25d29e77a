"""Unit tests for uid2.core.rawuid against tests/vectors/raw_uid.json (operator.md §3.2-§3.4)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uid2.core.aead import ctr_transform
from uid2.core.dii import hash_dii, normalize_email
from uid2.core.enums import IdentityEnvironment, IdentityScope, IdentityType
from uid2.core.rawuid import (
    MS_PER_DAY,
    PRODUCTION_BUCKET_COUNT,
    RawUidMetadata,
    RawUidVersion,
    bucket_index,
    decode_raw_uid_metadata,
    first_level_hash,
    previous_uid_visible,
    raw_uid_identity,
    raw_uid_v2,
    raw_uid_v3,
    raw_uid_v4,
    refresh_from_for,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "raw_uid.json").read_text("utf-8")
)
FIRST_LEVEL = VECTORS["first_level_salt"]
ROTATING = VECTORS["rotating_salt"]
KEY = VECTORS["v4_key_material"]
IDENTITIES = VECTORS["identities"]
METADATA = VECTORS["metadata_bytes"]
UID2, EUID = IdentityScope.UID2, IdentityScope.EUID
TEST_ENV = IdentityEnvironment.TEST


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _flh(vector: dict[str, Any]) -> bytes:
    return base64.b64decode(vector["flh_b64"])


def _v4(flh: bytes, scope: IdentityScope, kind: IdentityType, env: IdentityEnvironment) -> bytes:
    return raw_uid_v4(flh, KEY["key_id"], KEY["key"], KEY["salt"], scope, kind, env)


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["dii"] for v in vectors]


# --- vectors -----------------------------------------------------------------------------------


def test_vector_file_has_provenance() -> None:
    assert "operator.md" in VECTORS["provenance"]


@pytest.mark.parametrize("vector", IDENTITIES, ids=_ids(IDENTITIES))
def test_dii_hash_and_flh(vector: dict[str, Any]) -> None:
    dii: str = vector["dii"]
    normalized = normalize_email(dii) if "@" in dii else dii
    assert normalized is not None
    dii_hash = hash_dii(normalized)
    assert _b64(dii_hash) == vector["dii_hash_b64"]
    assert _b64(first_level_hash(dii_hash, FIRST_LEVEL)) == vector["flh_b64"]


@pytest.mark.parametrize("vector", IDENTITIES, ids=_ids(IDENTITIES))
def test_bucket_index(vector: dict[str, Any]) -> None:
    flh = _flh(vector)
    assert bucket_index(flh, PRODUCTION_BUCKET_COUNT) == vector["bucket_index_20bit"]
    assert bucket_index(flh, 5) == vector["bucket_index_mod_5"]


@pytest.mark.parametrize("vector", IDENTITIES, ids=_ids(IDENTITIES))
def test_raw_uid_v2_and_v3(vector: dict[str, Any]) -> None:
    flh = _flh(vector)
    kind = IdentityType[vector["identity_type"]]
    assert _b64(raw_uid_v2(flh, ROTATING)) == vector["raw_v2_b64"]
    assert _b64(raw_uid_v3(flh, ROTATING, UID2, kind)) == vector["raw_v3_uid2_b64"]


@pytest.mark.parametrize("vector", IDENTITIES, ids=_ids(IDENTITIES))
def test_raw_uid_v4(vector: dict[str, Any]) -> None:
    kind = IdentityType[vector["identity_type"]]
    assert _b64(_v4(_flh(vector), UID2, kind, TEST_ENV)) == vector["raw_v4_uid2_test_b64"]


def _metadata_args(v: dict[str, Any]) -> tuple[IdentityScope, IdentityType]:
    return IdentityScope[v["scope"]], IdentityType[v["identity_type"]]


@pytest.mark.parametrize("vector", METADATA, ids=[hex(v["byte"]) for v in METADATA])
def test_metadata_byte(vector: dict[str, Any]) -> None:
    scope, kind = _metadata_args(vector)
    flh = _flh(IDENTITIES[0])
    if vector["version"] == 3:
        raw = raw_uid_v3(flh, ROTATING, scope, kind)
        expected = RawUidMetadata(RawUidVersion.V3, scope, kind)
    else:
        env = IdentityEnvironment[vector["environment"]]
        raw = _v4(flh, scope, kind, env)
        expected = RawUidMetadata(RawUidVersion.V4, scope, kind, env, KEY["key_id"])
    assert raw[0] == vector["byte"]
    assert decode_raw_uid_metadata(raw) == expected
    assert raw_uid_identity(raw) == (scope, kind)


# --- v4 structure ------------------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32), st.sampled_from(IdentityEnvironment))
def test_v4_decrypts_back_to_flh_tail(flh: bytes, env: IdentityEnvironment) -> None:
    raw = _v4(flh, EUID, IdentityType.Phone, env)
    assert len(raw) == 33
    assert int.from_bytes(raw[1:4], "big") == KEY["key_id"]
    plain = ctr_transform(KEY["key"].encode(), raw[4:16] + bytes(4), raw[16:32])
    assert plain == flh[16:]


def test_v4_checksum_is_xor_of_body() -> None:
    raw = _v4(_flh(IDENTITIES[0]), UID2, IdentityType.Email, TEST_ENV)
    checksum = 0
    for byte in raw[:32]:
        checksum ^= byte
    assert raw[32] == checksum


def test_v4_rejects_key_id_over_24_bits() -> None:
    with pytest.raises(ValueError):
        raw_uid_v4(bytes(32), 1 << 24, KEY["key"], KEY["salt"], UID2, IdentityType.Email, TEST_ENV)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_wrong_sizes_raise(size: int) -> None:
    with pytest.raises(ValueError):
        first_level_hash(bytes(size), FIRST_LEVEL)
    with pytest.raises(ValueError):
        raw_uid_v2(bytes(size), ROTATING)
    with pytest.raises(ValueError):
        _v4(bytes(size), UID2, IdentityType.Email, TEST_ENV)


# --- reading metadata back ---------------------------------------------------------------------

V4_EMAIL = base64.b64decode(IDENTITIES[0]["raw_v4_uid2_test_b64"])
V3_PHONE = base64.b64decode(IDENTITIES[1]["raw_v3_uid2_b64"])


@pytest.mark.parametrize("size", [0, 16, 31, 32, 34, 64])
def test_metadata_needs_33_bytes(size: int) -> None:
    assert decode_raw_uid_metadata(bytes(size)) is None
    assert raw_uid_identity(bytes(size)) is None


@pytest.mark.parametrize("first", [0x01, 0x02, 0x08, 0x0C, 0x40, 0x80, 0xC0, 0xE0])
def test_metadata_rejects_reserved_bits(first: int) -> None:
    assert decode_raw_uid_metadata(bytes([first]) + V3_PHONE[1:]) is None


def test_metadata_rejects_bad_v4_checksum() -> None:
    corrupted = V4_EMAIL[:-1] + bytes([V4_EMAIL[-1] ^ 1])
    assert decode_raw_uid_metadata(corrupted) is None


def test_v4_phone_is_typed_phone() -> None:
    # The official SDK types v4 phone ids as Email (sdk.md §11 item 7); we read the byte.
    raw = base64.b64decode(IDENTITIES[1]["raw_v4_uid2_test_b64"])
    assert raw_uid_identity(raw) == (UID2, IdentityType.Phone)


@given(st.binary(max_size=40))
def test_metadata_never_raises(raw: bytes) -> None:
    meta = decode_raw_uid_metadata(raw)
    assert meta is None or len(raw) == 33


# --- bucket index ------------------------------------------------------------------------------


def test_bucket_index_uses_low_nibble_of_byte_2() -> None:
    flh = bytes([0xAB, 0xCD, 0xEF]) + bytes(29)
    assert bucket_index(flh, PRODUCTION_BUCKET_COUNT) == 0xABCDF


def test_bucket_index_single_bucket_and_bad_count() -> None:
    assert bucket_index(bytes([0xFF] * 32), 1) == 0
    with pytest.raises(ValueError):
        bucket_index(bytes(32), 0)


@given(st.binary(min_size=32, max_size=32), st.integers(min_value=1, max_value=1 << 21))
def test_bucket_index_in_range(flh: bytes, count: int) -> None:
    assert 0 <= bucket_index(flh, count) < min(count, PRODUCTION_BUCKET_COUNT)


# --- time rules --------------------------------------------------------------------------------


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def test_refresh_from_in_future_is_kept() -> None:
    now = _ms(2024, 5, 1, 13, 30)
    assert refresh_from_for(now + 1, now) == now + 1
    assert refresh_from_for(now, now) == now  # not strictly in the past


def test_refresh_from_in_past_is_next_utc_midnight() -> None:
    now = _ms(2024, 5, 1, 13, 30)
    assert refresh_from_for(now - 1, now) == _ms(2024, 5, 2)
    assert refresh_from_for(0, _ms(2024, 5, 1)) == _ms(2024, 5, 2)


@given(st.integers(0, 1 << 45), st.integers(0, 1 << 45))
def test_refresh_from_never_in_past(refresh_from: int, now: int) -> None:
    result = refresh_from_for(refresh_from, now)
    assert result >= now
    assert result == refresh_from or result % MS_PER_DAY == 0


def test_previous_uid_visible_uses_whole_days() -> None:
    updated = _ms(2024, 1, 1)
    assert previous_uid_visible(updated, updated + 90 * MS_PER_DAY - 1)
    assert not previous_uid_visible(updated, updated + 90 * MS_PER_DAY)
    assert previous_uid_visible(updated, updated)
    assert previous_uid_visible(updated + MS_PER_DAY, updated)  # future timestamps stay visible

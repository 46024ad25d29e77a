from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from fake_operator import CREDENTIALS, FakeOperator, raw_uid_for

from uid2 import (
    IdentityMapClient,
    IdentityMapInput,
    IdentityMapV3Client,
    IdentityMapV3Input,
    IdentityMapV3Response,
    UnmappedIdentityReason,
)
from uid2.core.dii import hash_dii
from uid2.core.encoding import b64encode
from uid2.sdk.identity_map import since_timestamp_text

GMAIL_VARIANTS = ["JANE.SAOIRSE@gmail.com", "Jane.Saoirse@gmail.com", "janesaoirse+work@gmail.com"]


def uid_of(email: str) -> str:
    return b64encode(raw_uid_for(hash_dii(email)))


@pytest.fixture
def v2(client_args: dict[str, object]) -> IdentityMapClient:
    return IdentityMapClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]


@pytest.fixture
def v3(client_args: dict[str, object]) -> IdentityMapV3Client:
    return IdentityMapV3Client(*CREDENTIALS, **client_args)  # type: ignore[arg-type]


def test_v2_maps_duplicates_back_to_every_input(v2: IdentityMapClient) -> None:
    response = v2.generate_identity_map(
        IdentityMapInput.from_emails([*GMAIL_VARIANTS, "optout@example.com"])
    )
    assert response.is_success()
    assert set(response.mapped_identities) == set(GMAIL_VARIANTS)
    assert {m.get_raw_uid() for m in response.mapped_identities.values()} == {
        uid_of("janesaoirse@gmail.com")
    }
    assert response.unmapped_identities["optout@example.com"].get_reason() == "optout"


def test_v2_hashed_input_keys_results_by_the_hash(v2: IdentityMapClient) -> None:
    hashed = b64encode(hash_dii("a@b.com"))
    response = v2.generate_identity_map(IdentityMapInput.from_hashed_emails([hashed, "bogus"]))
    assert response.mapped_identities[hashed].get_bucket_id() == "b1"
    assert response.unmapped_identities["bogus"].get_reason() == "invalid identifier"


def test_v2_request_sends_the_other_type_as_null(v2: IdentityMapClient) -> None:
    assert IdentityMapInput.from_phones(["+12345678901"]).as_request()["email_hash"] is None


def test_v3_maps_mixed_types_positionally(v3: IdentityMapV3Client, operator: FakeOperator) -> None:
    request = (
        IdentityMapV3Input.from_emails(["a@b.com", "optout@example.com"])
        .with_phone("+12345678901")
        .with_hashed_email("bogus")
    )
    response = v3.generate_identity_map(request)
    assert operator.requests[-1].headers["Content-Type"] == "application/octet-stream"
    mapped = response.mapped_identities
    assert mapped["a@b.com"].current_raw_uid == uid_of("a@b.com")
    assert mapped["a@b.com"].previous_raw_uid is None
    assert mapped["a@b.com"].refresh_from == datetime.fromtimestamp(1_900_000_000, UTC)
    assert "+12345678901" in mapped
    unmapped = response.unmapped_identities
    assert unmapped["optout@example.com"].reason is UnmappedIdentityReason.OPTOUT
    assert unmapped["bogus"].reason is UnmappedIdentityReason.INVALID_IDENTIFIER


def test_v3_empty_input_maps_to_nothing(v3: IdentityMapV3Client) -> None:
    response = v3.generate_identity_map(IdentityMapV3Input())
    assert response.mapped_identities == {} and response.unmapped_identities == {}


def test_v3_ignores_unknown_body_keys_and_reasons() -> None:
    """sdk.md §11.12: a new key in the answer must not break old clients."""
    request = IdentityMapV3Input.from_hashed_emails(["h"])
    answer = '{"status":"success","body":{"email_hash":[{"e":"brand new reason"}],"future":[]}}'
    result = IdentityMapV3Response(answer, request).unmapped_identities["h"]
    assert (
        result.reason is UnmappedIdentityReason.UNKNOWN and result.raw_reason == "brand new reason"
    )


def test_v3_rejects_misaligned_or_incomplete_answers() -> None:
    request = IdentityMapV3Input.from_hashed_emails(["h1", "h2"])
    with pytest.raises(ValueError):
        IdentityMapV3Response('{"status":"success","body":{"email_hash":[]}}', request)
    with pytest.raises(ValueError):
        IdentityMapV3Response(
            '{"status":"success","body":{"email_hash":[{"u":"x"},{"e":"optout"}]}}', request
        )
    with pytest.raises(ValueError, match="error"):
        IdentityMapV3Response('{"status":"error"}', request)


def test_buckets(v2: IdentityMapClient, operator: FakeOperator) -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    buckets = v2.get_identity_buckets(since).buckets
    assert [(b.get_bucket_id(), b.get_last_updated()) for b in buckets] == [
        ("b1", "2024-01-02T03:04:05.678")
    ]
    assert v2.get_identity_buckets(since + timedelta(days=3)).buckets == []


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 7, 2, 14, 30, 15, 123456, tzinfo=UTC),
        datetime(2024, 7, 2, 16, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 7, 2, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_since_timestamp_is_utc_local_iso(moment: datetime) -> None:
    assert since_timestamp_text(moment) == "2024-07-02T14:30:15.123456"

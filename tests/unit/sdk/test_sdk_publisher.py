from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fake_operator import CREDENTIALS, FakeOperator, raw_uid_for

from uid2 import (
    BidstreamClient,
    IdentityTokens,
    OperatorError,
    TokenGenerateInput,
    Uid2PublisherClient,
)
from uid2.core.dii import hash_dii
from uid2.core.encoding import b64encode


@pytest.fixture
def publisher(client_args: dict[str, object]) -> Uid2PublisherClient:
    return Uid2PublisherClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]


def test_generate_from_email_sends_only_the_hash(
    publisher: Uid2PublisherClient, operator: FakeOperator
) -> None:
    response = publisher.generate_token(TokenGenerateInput.from_email("User@Example.com"))
    identity = response.get_identity()
    assert response.is_success() and not response.is_optout() and identity is not None
    assert identity.get_advertising_token().startswith("A4")  # type: ignore[union-attr]
    assert b"user@example.com" not in operator.requests[-1].content.lower()


def test_generated_token_decrypts_to_the_raw_uid_of_the_normalised_email(
    publisher: Uid2PublisherClient, client_args: dict[str, object]
) -> None:
    identity = publisher.generate_token(
        TokenGenerateInput.from_email(" User@Example.com")
    ).get_identity()
    bidstream = BidstreamClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    assert bidstream.refresh().success
    decrypted = bidstream.decrypt_token_into_raw_uid(identity.get_advertising_token(), None)  # type: ignore[union-attr,arg-type]
    assert decrypted.success
    assert decrypted.uid == b64encode(raw_uid_for(hash_dii("user@example.com")))


@pytest.mark.parametrize(
    "make_input",
    [
        lambda: TokenGenerateInput.from_phone("+12345678901"),
        lambda: TokenGenerateInput.from_hashed_email(b64encode(hash_dii("a@b.com"))),
        lambda: TokenGenerateInput.from_hashed_phone(b64encode(hash_dii("+12345678901"))),
        lambda: TokenGenerateInput.from_email("a@b.com").do_not_hash(),
    ],
)
def test_generate_accepts_every_input_kind(publisher: Uid2PublisherClient, make_input) -> None:  # type: ignore[no-untyped-def]
    assert publisher.generate_token(make_input()).is_success()


def test_optout_identity_gives_no_tokens(publisher: Uid2PublisherClient) -> None:
    response = publisher.generate_token(TokenGenerateInput.from_email("optout@example.com"))
    assert response.is_optout() and response.get_identity() is None
    assert response.get_identity_json_string() is None


@pytest.mark.parametrize(
    "bad",
    [TokenGenerateInput.from_email("not-an-email@"), TokenGenerateInput.from_phone("555-1234")],
)
def test_invalid_dii_raises_value_error_without_the_value(
    publisher: Uid2PublisherClient, operator: FakeOperator, bad: TokenGenerateInput
) -> None:
    with pytest.raises(ValueError) as info:
        publisher.generate_token(bad)
    assert "not-an-email" not in str(info.value) and "555" not in str(info.value)
    assert operator.calls == []


def test_operator_error_carries_status_and_message(publisher: Uid2PublisherClient) -> None:
    with pytest.raises(OperatorError) as info:
        publisher.generate_token(TokenGenerateInput.from_hashed_email("not-a-hash"))
    assert (info.value.http_status, info.value.status) == (400, "client_error")
    assert info.value.message == "Invalid Identifier"


def test_bad_api_key_is_unauthorized(client_args: dict[str, object]) -> None:
    client = Uid2PublisherClient(CREDENTIALS[0], "wrong", CREDENTIALS[2], **client_args)  # type: ignore[arg-type]
    with pytest.raises(OperatorError) as info:
        client.generate_token(TokenGenerateInput.from_email("a@b.com"))
    assert (info.value.http_status, info.value.status) == (401, "unauthorized")


def test_refresh_returns_a_new_identity(publisher: Uid2PublisherClient) -> None:
    first = publisher.generate_token(TokenGenerateInput.from_email("a@b.com")).get_identity()
    assert first is not None
    refreshed = publisher.refresh_token(first)
    second = refreshed.get_identity()
    assert refreshed.is_success() and second is not None
    assert second.get_refresh_token() != first.get_refresh_token()
    assert second.get_refresh_response_key() != first.get_refresh_response_key()
    # the stored JSON round-trips into an identity that refreshes again
    again = IdentityTokens.from_json_string(refreshed.get_identity_json_string() or "")
    assert again is not None and publisher.refresh_token(again).is_success()


def test_refresh_optout(publisher: Uid2PublisherClient) -> None:
    identity = publisher.generate_token(
        TokenGenerateInput.from_email("refresh-optout@example.com")
    ).get_identity()
    assert identity is not None
    response = publisher.refresh_token(identity)
    assert response.is_optout() and response.get_identity() is None


def test_refresh_of_an_expired_identity_raises_operator_error(
    operator: FakeOperator, client_args: dict[str, object]
) -> None:
    client = Uid2PublisherClient(*CREDENTIALS, **client_args)  # type: ignore[arg-type]
    identity = client.generate_token(TokenGenerateInput.from_email("a@b.com")).get_identity()
    assert identity is not None
    operator.refresh_clock_offset_ms = 31 * 86_400_000
    with pytest.raises(OperatorError) as info:
        client.refresh_token(identity)
    assert info.value.status == "expired_token"


def test_refresh_without_refresh_token_is_a_value_error(publisher: Uid2PublisherClient) -> None:
    with pytest.raises(ValueError):
        publisher.refresh_token(IdentityTokens.from_json({"advertising_token": "x"}))


def test_identity_due_for_refresh_uses_milliseconds(publisher: Uid2PublisherClient) -> None:
    """sdk.md §11.3: the official SDK compares seconds with milliseconds."""
    identity = publisher.generate_token(TokenGenerateInput.from_email("a@b.com")).get_identity()
    assert identity is not None
    now = datetime.now(UTC)
    assert not identity.is_due_for_refresh_impl(now)
    assert identity.is_due_for_refresh_impl(now + timedelta(hours=2))
    assert identity.is_refreshable_impl(now + timedelta(days=29))
    assert not identity.is_refreshable_impl(now + timedelta(days=31))
    assert identity.has_identity_expired(now + timedelta(days=4))

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from uid2 import IdentityTokens, TokenGenerateResponse, TokenRefreshResponse

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
BODY = {
    "advertising_token": "AT",
    "refresh_token": "RT",
    "identity_expires": T0_MS + 3_600_000,
    "refresh_expires": T0_MS + 86_400_000,
    "refresh_from": T0_MS + 900_000,
    "refresh_response_key": "K",
}


def at(offset_ms: int) -> datetime:
    return datetime.fromtimestamp((T0_MS + offset_ms) / 1000, UTC)


def test_getters_and_json_string_round_trip() -> None:
    identity = IdentityTokens.from_json(BODY)
    assert identity.get_advertising_token() == "AT" and identity.get_refresh_token() == "RT"
    assert identity.get_refresh_from() == BODY["refresh_from"]
    assert json.loads(identity.get_json_string()) == BODY
    assert list(json.loads(identity.get_json_string())) == list(BODY)  # order kept


@pytest.mark.parametrize(
    ("offset_ms", "due", "expired", "refreshable"),
    [
        (0, False, False, True),
        (900_000, False, False, True),  # exactly at refresh_from: not yet
        (900_001, True, False, True),
        (3_600_001, True, True, True),
        (86_400_000, True, True, True),
        (86_400_001, True, True, False),
    ],
)
def test_lifetime_predicates_compare_milliseconds(
    offset_ms: int, due: bool, expired: bool, refreshable: bool
) -> None:
    identity = IdentityTokens.from_json(BODY)
    assert identity.is_due_for_refresh_impl(at(offset_ms)) is due
    assert identity.has_identity_expired(at(offset_ms)) is expired
    assert identity.is_refreshable_impl(at(offset_ms)) is refreshable


def test_bad_json_gives_none_and_logs_no_value(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert IdentityTokens.from_json_string("{secret-token") is None
        assert IdentityTokens.from_json_string("[1]") is None
    assert "secret-token" not in caplog.text


def test_generate_response_statuses() -> None:
    ok = TokenGenerateResponse(json.dumps({"status": "success", "body": BODY}))
    assert ok.is_success() and ok.get_identity() is not None
    assert TokenGenerateResponse('{"status":"optout"}').is_optout()
    with pytest.raises(ValueError, match="insufficient_user_consent"):
        TokenGenerateResponse('{"status":"insufficient_user_consent"}')


def test_refresh_response_rejects_an_identity_that_is_already_expired() -> None:
    document = json.dumps({"status": "success", "body": BODY})
    assert TokenRefreshResponse(document, T0).is_success()
    with pytest.raises(ValueError):
        TokenRefreshResponse(document, at(86_400_001))

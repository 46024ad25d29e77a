"""Responses of ``/v2/token/generate`` and ``/v2/token/refresh`` (sdk.md §6.2–§6.3)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from uid2.sdk._json import parse_status_body
from uid2.sdk.identity_tokens import IdentityTokens

SUCCESS = "success"
OPTOUT = "optout"


def _identity_from(status: str, body: object, endpoint: str) -> IdentityTokens | None:
    if status == OPTOUT:
        return None
    if status != SUCCESS:
        raise ValueError(f"Got unexpected token {endpoint} status: {status}")
    if not isinstance(body, Mapping):
        raise ValueError(f"token {endpoint} response has no identity body")
    return IdentityTokens.from_json(body)


class TokenGenerateResponse:
    def __init__(self, response: str | bytes) -> None:
        self.status, body = parse_status_body(response)
        self._identity = _identity_from(self.status, body, "generate")

    def is_success(self) -> bool:
        return self.status == SUCCESS

    def is_optout(self) -> bool:
        return self.status == OPTOUT

    def get_identity(self) -> IdentityTokens | None:
        return self._identity

    def get_identity_json_string(self) -> str | None:
        return self._identity.get_json_string() if self._identity else None


class TokenRefreshResponse:
    def __init__(self, response: str | bytes, timestamp: datetime | None = None) -> None:
        self.status, body = parse_status_body(response)
        self._identity = _identity_from(self.status, body, "refresh")
        now = timestamp or datetime.now(UTC)
        if self._identity is not None and not self._is_usable(self._identity, now):
            raise ValueError("token refresh response holds an identity that is already expired")

    @staticmethod
    def _is_usable(identity: IdentityTokens, now: datetime) -> bool:
        return identity.is_refreshable_impl(now) and not identity.has_identity_expired(now)

    def is_success(self) -> bool:
        return self.status == SUCCESS

    def is_optout(self) -> bool:
        return self.status == OPTOUT

    def get_identity(self) -> IdentityTokens | None:
        return self._identity

    def get_identity_json_string(self) -> str | None:
        return self._identity.get_json_string() if self._identity else None

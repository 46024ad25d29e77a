"""The identity a publisher keeps between requests: tokens plus their lifetimes.

Fixes sdk.md §6.4/§11.3: the operator's times are epoch **milliseconds**, and every comparison
here is done in milliseconds (the official SDK compares them with seconds, so
``is_due_for_refresh`` was never true).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)


def _epoch_ms(timestamp: datetime) -> float:
    return timestamp.timestamp() * 1000


def _now() -> datetime:
    return datetime.now(UTC)


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class IdentityTokens:
    def __init__(
        self,
        advertising_token: str | None,
        refresh_token: str | None,
        refresh_response_key: str | None,
        identity_expires: int | None,
        refresh_expires: int | None,
        refresh_from: int | None,
        json_string: str,
    ) -> None:
        self._advertising_token = advertising_token
        self._refresh_token = refresh_token
        self._refresh_response_key = refresh_response_key
        self._identity_expires = identity_expires
        self._refresh_expires = refresh_expires
        self._refresh_from = refresh_from
        self._json_string = json_string

    @staticmethod
    def from_json_string(json_string: str) -> IdentityTokens | None:
        """Parse a stored identity; None (and a log line without the value) if it is not JSON."""
        try:
            document = json.loads(json_string)
        except (ValueError, TypeError, RecursionError):
            logger.warning("identity JSON could not be parsed")
            return None
        if not isinstance(document, Mapping):
            logger.warning("identity JSON is not an object")
            return None
        return IdentityTokens.from_json(document)

    @staticmethod
    def from_json(json_obj: Mapping[str, Any]) -> IdentityTokens:
        return IdentityTokens(
            _optional_str(json_obj.get("advertising_token")),
            _optional_str(json_obj.get("refresh_token")),
            _optional_str(json_obj.get("refresh_response_key")),
            _optional_int(json_obj.get("identity_expires")),
            _optional_int(json_obj.get("refresh_expires")),
            _optional_int(json_obj.get("refresh_from")),
            json.dumps(dict(json_obj)),
        )

    def get_advertising_token(self) -> str | None:
        return self._advertising_token

    def get_refresh_token(self) -> str | None:
        return self._refresh_token

    def get_refresh_response_key(self) -> str | None:
        return self._refresh_response_key

    def get_identity_expires(self) -> int | None:
        return self._identity_expires

    def get_refresh_expires(self) -> int | None:
        return self._refresh_expires

    def get_refresh_from(self) -> int | None:
        return self._refresh_from

    def get_json_string(self) -> str:
        return self._json_string

    def is_refreshable(self) -> bool:
        return self.is_refreshable_impl(_now())

    def is_due_for_refresh(self) -> bool:
        return self.is_due_for_refresh_impl(_now())

    def is_refreshable_impl(self, timestamp: datetime) -> bool:
        if self._refresh_expires is None or _epoch_ms(timestamp) > self._refresh_expires:
            return False
        return self._refresh_token is not None

    def is_due_for_refresh_impl(self, timestamp: datetime) -> bool:
        if self._refresh_from is not None and _epoch_ms(timestamp) > self._refresh_from:
            return True
        return self.has_identity_expired(timestamp)

    def has_identity_expired(self, timestamp: datetime) -> bool:
        return self._identity_expires is not None and _epoch_ms(timestamp) > self._identity_expires

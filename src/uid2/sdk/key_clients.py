"""Clients that hold keys and decrypt/encrypt tokens locally: Bidstream (DSPs) and Sharing.

Decryption never raises: a malformed token gives ``INVALID_PAYLOAD`` (sdk.md §11.4). Times are
read once per call, as integer milliseconds, and handed to the pure core.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import TracebackType
from typing import Self

import httpx

from uid2.core.enums import ClientType, IdentityScope
from uid2.core.keys import Keyring
from uid2.core.tokens import decrypt_token, encrypt_raw_uid
from uid2.sdk._nonces import nonce_pair
from uid2.sdk.http import HttpSettings, OperatorSession
from uid2.sdk.keyring_holder import (
    DEFAULT_ON_DEMAND_INTERVAL,
    DEFAULT_REFRESH_INTERVAL,
    REFRESHABLE_STATUSES,
    KeyringHolder,
)
from uid2.sdk.results import DecryptedToken, EncryptionDataResponse, RefreshResponse


def now_ms(now: datetime | None = None) -> int:
    return int(now.timestamp() * 1000) if now is not None else time.time_ns() // 1_000_000


class _KeyClient:
    _path: str

    def __init__(
        self,
        base_url: str,
        auth_key: str,
        secret_key: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        on_demand_interval: float = DEFAULT_ON_DEMAND_INTERVAL,
    ) -> None:
        self._session = OperatorSession(
            base_url, auth_key, secret_key, settings=http_settings, transport=transport
        )
        self._holder = KeyringHolder(
            lambda: self._session.post_envelope(self._path, None),
            on_demand_interval=on_demand_interval,
        )

    @property
    def keys(self) -> Keyring | None:
        return self._holder.keyring

    def refresh(self) -> RefreshResponse:
        """Fetch the keys now. Never raises; see ``RefreshResponse.reason`` on failure."""
        return self._holder.refresh()

    def refresh_json(self, json_str: str | bytes) -> RefreshResponse:
        """Load a decrypted key response (``{"body": {...}}``) without calling the operator."""
        return self._holder.load(json_str)

    _refresh_json = refresh_json  # the official SDK's (private) spelling, used by its tests

    def start_auto_refresh(self, interval_seconds: float = DEFAULT_REFRESH_INTERVAL) -> None:
        """Refresh in a daemon thread every ``interval_seconds`` (±10 % jitter)."""
        self._holder.start_background(interval_seconds)

    def stop_auto_refresh(self) -> None:
        self._holder.stop_background()

    def close(self) -> None:
        self.stop_auto_refresh()
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _decrypt(
        self, token: str, client_type: ClientType, name: str | None, now: datetime | None
    ) -> DecryptedToken:
        at = now_ms(now)
        result = decrypt_token(
            token, self._holder.keyring, now_ms=at, client_type=client_type, domain_or_app_name=name
        )
        if result.status in REFRESHABLE_STATUSES and self._holder.try_refresh_on_demand():
            result = decrypt_token(
                token,
                self._holder.keyring,
                now_ms=at,
                client_type=client_type,
                domain_or_app_name=name,
            )
        return DecryptedToken(result)


class BidstreamClient(_KeyClient):
    """For DSPs: decrypts advertising tokens seen in bid requests (``/v2/key/bidstream``)."""

    _path = "/v2/key/bidstream"

    def decrypt_token_into_raw_uid(
        self, token: str, domain_or_app_name: str | None
    ) -> DecryptedToken:
        """Decrypt a bidstream token. For client-side generated tokens, ``domain_or_app_name``
        (where the token was seen) must be one of the publisher's registered names."""
        return self._decrypt(token, ClientType.BIDSTREAM, domain_or_app_name, None)

    def _decrypt_token_into_raw_uid(
        self, token: str, domain_or_app_name: str | None, now: datetime | None = None
    ) -> DecryptedToken:
        return self._decrypt(token, ClientType.BIDSTREAM, domain_or_app_name, now)


class SharingClient(_KeyClient):
    """For sharers: encrypts raw UID2s into tokens and decrypts shared tokens
    (``/v2/key/sharing``)."""

    _path = "/v2/key/sharing"

    def __init__(
        self,
        base_url: str,
        auth_key: str,
        secret_key: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        on_demand_interval: float = DEFAULT_ON_DEMAND_INTERVAL,
        identity_scope: IdentityScope | None = None,
    ) -> None:
        """``identity_scope`` fixes the scope of tokens made here; by default it is the
        scope the operator reports with the keys."""
        super().__init__(
            base_url,
            auth_key,
            secret_key,
            http_settings=http_settings,
            transport=transport,
            on_demand_interval=on_demand_interval,
        )
        self._identity_scope = identity_scope

    def encrypt_raw_uid_into_token(
        self, uid2: str, keyset_id: int | None = None
    ) -> EncryptionDataResponse:
        """Encrypt a raw UID2 (base64) into a v4 token for keyset ``keyset_id`` (default: the
        caller's default keyset)."""
        return self._encrypt_raw_uid_into_token(uid2, keyset_id)

    def _encrypt_raw_uid_into_token(
        self, uid2: str, keyset_id: int | None = None, now: datetime | None = None
    ) -> EncryptionDataResponse:
        nonces = nonce_pair()
        result = encrypt_raw_uid(
            uid2,
            self._holder.keyring,
            now_ms=now_ms(now),
            master_nonce=nonces[:12],
            site_nonce=nonces[12:],
            keyset_id=keyset_id,
            identity_scope=self._identity_scope,
        )
        return EncryptionDataResponse.from_core(result)

    def decrypt_token_into_raw_uid(self, token: str) -> DecryptedToken:
        return self._decrypt(token, ClientType.SHARING, None, None)

    def _decrypt_token_into_raw_uid(
        self, token: str, now: datetime | None = None
    ) -> DecryptedToken:
        return self._decrypt(token, ClientType.SHARING, None, now)

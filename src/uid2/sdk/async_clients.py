"""asyncio variants of every client. Decrypting and encrypting are CPU-only and stay sync;
everything that talks to the operator is a coroutine."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import httpx

from uid2.core.enums import ClientType, IdentityScope
from uid2.core.keys import Keyring
from uid2.core.tokens import decrypt_token, encrypt_raw_uid
from uid2.sdk._nonces import nonce_pair
from uid2.sdk.errors import Uid2Error
from uid2.sdk.http import AsyncOperatorSession, HttpSettings
from uid2.sdk.identity_map import since_timestamp_text
from uid2.sdk.identity_map_results import (
    IdentityBucketsResponse,
    IdentityMapResponse,
    IdentityMapV3Response,
)
from uid2.sdk.identity_tokens import IdentityTokens
from uid2.sdk.inputs import IdentityMapInput, IdentityMapV3Input, TokenGenerateInput
from uid2.sdk.key_clients import now_ms
from uid2.sdk.keyring_holder import (
    DEFAULT_ON_DEMAND_INTERVAL,
    DEFAULT_REFRESH_INTERVAL,
    REFRESHABLE_STATUSES,
    RETRY_AFTER_FAILURE,
    KeyringHolder,
)
from uid2.sdk.publisher import read_refresh_answer, refresh_request_parts
from uid2.sdk.publisher_responses import TokenGenerateResponse, TokenRefreshResponse
from uid2.sdk.results import DecryptedToken, EncryptionDataResponse, RefreshResponse

logger = logging.getLogger("uid2.sdk")


def _no_sync_fetch() -> bytes:
    raise Uid2Error("async clients fetch keys with 'await refresh()'")


class _AsyncBase:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret_key: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._session = AsyncOperatorSession(
            base_url, api_key, secret_key, settings=http_settings, transport=transport
        )

    async def aclose(self) -> None:
        await self._session.aclose()


class _AsyncKeyClient(_AsyncBase):
    _path: str

    def __init__(
        self,
        base_url: str,
        auth_key: str,
        secret_key: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_demand_interval: float = DEFAULT_ON_DEMAND_INTERVAL,
    ) -> None:
        super().__init__(
            base_url, auth_key, secret_key, http_settings=http_settings, transport=transport
        )
        self._holder = KeyringHolder(_no_sync_fetch, on_demand_interval=on_demand_interval)
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def keys(self) -> Keyring | None:
        return self._holder.keyring

    async def refresh(self) -> RefreshResponse:
        try:
            text = await self._session.post_envelope(self._path, None)
        except Uid2Error as exc:
            logger.warning("key refresh failed: %s", exc)
            return RefreshResponse.make_error(str(exc))
        response = self._holder.load(text)
        if response.success:
            self._holder.mark_success()
        return response

    def refresh_json(self, json_str: str | bytes) -> RefreshResponse:
        return self._holder.load(json_str)

    def start_auto_refresh(self, interval_seconds: float = DEFAULT_REFRESH_INTERVAL) -> None:
        """Refresh in a background task of the running loop (±10 % jitter)."""
        self._spawn(self._refresh_forever(interval_seconds))

    async def _refresh_forever(self, interval: float) -> None:
        while True:
            ok = (await self.refresh()).success
            wait = interval if ok else min(interval, RETRY_AFTER_FAILURE)
            await asyncio.sleep(wait * (1 + 0.1 * (2 * random.random() - 1)))

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await super().aclose()

    def _decrypt(
        self, token: str, client_type: ClientType, name: str | None, now: datetime | None
    ) -> DecryptedToken:
        result = decrypt_token(
            token,
            self._holder.keyring,
            now_ms=now_ms(now),
            client_type=client_type,
            domain_or_app_name=name,
        )
        if result.status in REFRESHABLE_STATUSES and self._holder.claim_on_demand_slot():
            # the next token with this key id will find it; this call does not wait
            self._spawn(self.refresh())
        return DecryptedToken(result)


class AsyncBidstreamClient(_AsyncKeyClient):
    _path = "/v2/key/bidstream"

    def decrypt_token_into_raw_uid(
        self, token: str, domain_or_app_name: str | None
    ) -> DecryptedToken:
        return self._decrypt(token, ClientType.BIDSTREAM, domain_or_app_name, None)


class AsyncSharingClient(_AsyncKeyClient):
    _path = "/v2/key/sharing"

    def __init__(
        self,
        base_url: str,
        auth_key: str,
        secret_key: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_demand_interval: float = DEFAULT_ON_DEMAND_INTERVAL,
        identity_scope: IdentityScope | None = None,
    ) -> None:
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
        nonces = nonce_pair()
        result = encrypt_raw_uid(
            uid2,
            self._holder.keyring,
            now_ms=now_ms(),
            master_nonce=nonces[:12],
            site_nonce=nonces[12:],
            keyset_id=keyset_id,
            identity_scope=self._identity_scope,
        )
        return EncryptionDataResponse.from_core(result)

    def decrypt_token_into_raw_uid(self, token: str) -> DecryptedToken:
        return self._decrypt(token, ClientType.SHARING, None, None)


class AsyncUid2PublisherClient(_AsyncBase):
    async def generate_token(
        self, token_generate_input: TokenGenerateInput
    ) -> TokenGenerateResponse:
        request = token_generate_input.as_request()
        answer = await self._session.post_envelope("/v2/token/generate", request)
        return TokenGenerateResponse(answer)

    async def refresh_token(self, current_identity: IdentityTokens) -> TokenRefreshResponse:
        body, key = refresh_request_parts(current_identity)
        response = await self._session.post_plain("/v2/token/refresh", body, "text/plain")
        return read_refresh_answer(response, key)


class AsyncIdentityMapClient(_AsyncBase):
    async def generate_identity_map(
        self, identity_map_input: IdentityMapInput
    ) -> IdentityMapResponse:
        request = identity_map_input.as_request()
        answer = await self._session.post_envelope("/v2/identity/map", request)
        return IdentityMapResponse(answer, identity_map_input)

    async def get_identity_buckets(self, since_timestamp: datetime) -> IdentityBucketsResponse:
        request = {"since_timestamp": since_timestamp_text(since_timestamp)}
        answer = await self._session.post_envelope("/v2/identity/buckets", request)
        return IdentityBucketsResponse(answer)


class AsyncIdentityMapV3Client(_AsyncBase):
    async def generate_identity_map(
        self, identity_map_input: IdentityMapV3Input
    ) -> IdentityMapV3Response:
        request = identity_map_input.as_request()
        answer = await self._session.post_envelope("/v3/identity/map", request, binary=True)
        return IdentityMapV3Response(answer, identity_map_input)

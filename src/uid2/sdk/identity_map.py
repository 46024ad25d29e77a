"""Identity map clients: ``/v2/identity/map`` + buckets, and ``/v3/identity/map``."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from uid2.sdk.http import HttpSettings, OperatorSession
from uid2.sdk.identity_map_results import (
    IdentityBucketsResponse,
    IdentityMapResponse,
    IdentityMapV3Response,
)
from uid2.sdk.inputs import IdentityMapInput, IdentityMapV3Input


def since_timestamp_text(since_timestamp: datetime) -> str:
    """ISO local date-time in UTC, as the operator reads it (sdk.md §7.3).

    A naive datetime is taken as local time, as the official SDK does.
    """
    return since_timestamp.astimezone(UTC).replace(tzinfo=None).isoformat()


class _MapClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        client_secret: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._session = OperatorSession(
            base_url, api_key, client_secret, settings=http_settings, transport=transport
        )

    def close(self) -> None:
        self._session.close()


class IdentityMapClient(_MapClient):
    def generate_identity_map(self, identity_map_input: IdentityMapInput) -> IdentityMapResponse:
        answer = self._session.post_envelope("/v2/identity/map", identity_map_input.as_request())
        return IdentityMapResponse(answer, identity_map_input)

    def get_identity_buckets(self, since_timestamp: datetime) -> IdentityBucketsResponse:
        request = {"since_timestamp": since_timestamp_text(since_timestamp)}
        return IdentityBucketsResponse(self._session.post_envelope("/v2/identity/buckets", request))


class IdentityMapV3Client(_MapClient):
    def generate_identity_map(
        self, identity_map_input: IdentityMapV3Input
    ) -> IdentityMapV3Response:
        answer = self._session.post_envelope(
            "/v3/identity/map", identity_map_input.as_request(), binary=True
        )
        return IdentityMapV3Response(answer, identity_map_input)

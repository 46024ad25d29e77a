"""Publisher client: server-side token generation and refresh (sdk.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from uid2.core.encoding import b64decode_strict
from uid2.core.refresh import open_refresh_response
from uid2.sdk.errors import ResponseError
from uid2.sdk.http import HttpSettings, OperatorSession, raise_for_operator_status
from uid2.sdk.identity_tokens import IdentityTokens
from uid2.sdk.inputs import TokenGenerateInput
from uid2.sdk.publisher_responses import TokenGenerateResponse, TokenRefreshResponse


def refresh_request_parts(identity: IdentityTokens) -> tuple[bytes, bytes]:
    """The refresh body and the key its answer is encrypted with; ValueError if unusable."""
    token = identity.get_refresh_token()
    key = b64decode_strict(identity.get_refresh_response_key() or "")
    if not token or key is None or len(key) != 32:
        raise ValueError("identity has no refresh token or refresh_response_key")
    return token.encode("ascii"), key


def read_refresh_answer(response: httpx.Response, key: bytes) -> TokenRefreshResponse:
    raise_for_operator_status(response)
    plaintext = open_refresh_response(key, response.content)
    if not isinstance(plaintext, bytes):
        raise ResponseError(f"refresh response could not be decrypted: {plaintext.value}")
    return TokenRefreshResponse(plaintext, datetime.now(UTC))


class Uid2PublisherClient:
    def __init__(
        self,
        base_url: str,
        auth_key: str,
        secret_key: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._session = OperatorSession(
            base_url, auth_key, secret_key, settings=http_settings, transport=transport
        )

    def generate_token(self, token_generate_input: TokenGenerateInput) -> TokenGenerateResponse:
        """Raises ValueError for an invalid email/phone, OperatorError for a 4xx/5xx."""
        request = token_generate_input.as_request()
        return TokenGenerateResponse(self._session.post_envelope("/v2/token/generate", request))

    def refresh_token(self, current_identity: IdentityTokens) -> TokenRefreshResponse:
        body, key = refresh_request_parts(current_identity)
        response = self._session.post_plain("/v2/token/refresh", body, "text/plain")
        return read_refresh_answer(response, key)

    def close(self) -> None:
        self._session.close()

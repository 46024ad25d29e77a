"""No token, raw UID2, key, secret or DII ever appears in the SDK's log lines (issue 3)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fake_operator import (
    API_KEY,
    CREDENTIALS,
    NO_WAIT,
    SECRET_B64,
    FakeOperator,
    sharing_body,
)

from uid2 import (
    BidstreamClient,
    IdentityMapV3Client,
    IdentityMapV3Input,
    IdentityTokens,
    OperatorError,
    SharingClient,
    TokenGenerateInput,
    Uid2PublisherClient,
)

RAW_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="


def test_a_busy_session_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    operator = FakeOperator()
    operator.fail("/v2/token/generate", 503, httpx.ConnectError("refused"))
    args = {"transport": operator.transport(), "http_settings": NO_WAIT}
    secrets: list[str] = [API_KEY, SECRET_B64, RAW_UID, "person@example.com"]
    with caplog.at_level(logging.DEBUG):
        publisher = Uid2PublisherClient(*CREDENTIALS, **args)  # type: ignore[arg-type]
        identity = publisher.generate_token(TokenGenerateInput.from_email("person@example.com"))
        tokens = identity.get_identity()
        assert tokens is not None
        secrets += [tokens.get_advertising_token() or "", tokens.get_refresh_token() or ""]
        secrets.append(tokens.get_refresh_response_key() or "")
        publisher.refresh_token(tokens)
        sharing = SharingClient(*CREDENTIALS, **args)  # type: ignore[arg-type]
        sharing.refresh()
        shared = sharing.encrypt_raw_uid_into_token(RAW_UID).encrypted_data or ""
        secrets.append(shared)
        operator.fail("/v2/key/bidstream", 500, 500, 500, 500)
        bidstream = BidstreamClient(*CREDENTIALS, **args)  # type: ignore[arg-type]
        bidstream.refresh()
        bidstream.decrypt_token_into_raw_uid(shared, "example.com")
        IdentityMapV3Client(*CREDENTIALS, **args).generate_identity_map(  # type: ignore[arg-type]
            IdentityMapV3Input.from_emails(["person@example.com"])
        )
        IdentityTokens.from_json_string("{" + shared)
        sharing.refresh_json(json.dumps({"body": {"keys": [{"id": 1, "secret": SECRET_B64}]}}))
        with pytest.raises(OperatorError):
            publisher.generate_token(TokenGenerateInput.from_hashed_email(RAW_UID + "x"))
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert caplog.records, "the scenario should have logged something (retries, failures)"
    for secret in secrets:
        assert secret and secret not in logged
    for key in sharing_body()["keys"]:
        assert key["secret"] not in logged

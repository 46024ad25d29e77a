from __future__ import annotations

import httpx
import pytest
from fake_operator import CREDENTIALS, NO_WAIT, FakeOperator

from uid2 import (
    HttpSettings,
    OperatorError,
    RetryPolicy,
    SharingClient,
    TokenGenerateInput,
    TransportError,
    Uid2PublisherClient,
    Uid2TimeoutError,
)
from uid2.sdk.http import OperatorSession


def publisher(operator: FakeOperator, settings: HttpSettings = NO_WAIT) -> Uid2PublisherClient:
    return Uid2PublisherClient(*CREDENTIALS, transport=operator.transport(), http_settings=settings)


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_retries_transient_statuses(operator: FakeOperator, code: int) -> None:
    operator.fail("/v2/token/generate", code, code)
    assert publisher(operator).generate_token(TokenGenerateInput.from_email("a@b.com")).is_success()
    assert operator.calls.count("/v2/token/generate") == 3


def test_retries_network_errors(operator: FakeOperator) -> None:
    operator.fail("/v2/token/generate", httpx.ConnectError("refused"), httpx.ReadError("reset"))
    assert publisher(operator).generate_token(TokenGenerateInput.from_email("a@b.com")).is_success()


def test_each_retry_uses_a_fresh_envelope(operator: FakeOperator) -> None:
    operator.fail("/v2/token/generate", 503)
    publisher(operator).generate_token(TokenGenerateInput.from_email("a@b.com"))
    first, second = operator.requests[-2:]
    assert first.content != second.content


def test_gives_up_after_the_configured_retries(operator: FakeOperator) -> None:
    operator.fail("/v2/token/generate", 503, 503, 503, 503)
    with pytest.raises(OperatorError) as info:
        publisher(operator).generate_token(TokenGenerateInput.from_email("a@b.com"))
    assert info.value.http_status == 503
    assert operator.calls.count("/v2/token/generate") == 4


def test_network_failure_after_retries_is_a_transport_error(operator: FakeOperator) -> None:
    operator.fail("/v2/token/generate", *[httpx.ConnectError("refused")] * 4)
    with pytest.raises(TransportError) as info:
        publisher(operator).generate_token(TokenGenerateInput.from_email("a@b.com"))
    assert "refused" not in str(info.value) or "/v2/token/generate" in str(info.value)


def test_timeouts_map_to_uid2_timeout_error(operator: FakeOperator) -> None:
    operator.fail("/v2/token/generate", httpx.ReadTimeout("slow"))
    settings = HttpSettings(retry=RetryPolicy(retry_intervals=()))
    with pytest.raises(Uid2TimeoutError):
        publisher(operator, settings).generate_token(TokenGenerateInput.from_email("a@b.com"))


def test_client_errors_are_not_retried(operator: FakeOperator) -> None:
    with pytest.raises(OperatorError):
        publisher(operator).generate_token(TokenGenerateInput.from_hashed_email("bad"))
    assert operator.calls.count("/v2/token/generate") == 1


def test_backoff_waits_grow_honour_retry_after_and_jitter(operator: FakeOperator) -> None:
    waits: list[float] = []
    operator.fail("/v2/key/sharing", 503, 503, 503)
    session = OperatorSession(
        *CREDENTIALS,
        transport=operator.transport(),
        sleep=waits.append,
        settings=HttpSettings(retry=RetryPolicy(retry_intervals=(0.1, 0.2, 0.4), jitter=0.5)),
    )
    session.post_envelope("/v2/key/sharing", None)
    assert len(waits) == 3 and all(0.1 * 2**i <= w <= 0.15 * 2**i for i, w in enumerate(waits))
    policy = RetryPolicy(retry_intervals=(0.1,), jitter=0.0, max_retry_after=5)
    assert policy.wait_before(0, 2.0, 0.0) == 2.0
    assert policy.wait_before(0, 60.0, 0.0) == 5.0


def test_headers_carry_the_key_and_client_version(operator: FakeOperator) -> None:
    publisher(operator).generate_token(TokenGenerateInput.from_email("a@b.com"))
    headers = operator.requests[-1].headers
    assert headers["Authorization"] == f"Bearer {CREDENTIALS[1]}"
    assert headers["X-UID2-Client-Version"].startswith("uid2-python-")
    assert headers["Content-Type"] == "text/plain"


def test_invalid_secret_is_rejected_at_construction() -> None:
    with pytest.raises(ValueError):
        SharingClient(CREDENTIALS[0], CREDENTIALS[1], "not base64!")

"""Opt-out webhook delivery, the pure parts: URL rendering, retry schedule, attempt outcomes.

Upstream's OptOutSender (system.md §2.3): ``${ADVERTISING_ID}`` becomes the raw UID2 in
base64 (URL-quoted here, since base64 holds ``+``, ``/`` and ``=``) and ``${OPTOUT_EPOCH}`` the
opt-out time in **seconds**; 200 and 204 are success; 429, 5xx, timeouts and connection errors
are retried; any other status is a refusal, kept as failed. Time and randomness are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

from uid2.core.encoding import b64encode
from uid2.store.records import DeliveryOutcome, DeliveryState, DueDelivery

ADVERTISING_ID = "${ADVERTISING_ID}"
OPTOUT_EPOCH = "${OPTOUT_EPOCH}"
PLACEHOLDERS = (ADVERTISING_ID, OPTOUT_EPOCH)
SUCCESS_STATUSES = frozenset({200, 204})
TOO_MANY_REQUESTS = 429
MAX_ERROR_LENGTH = 64  # webhook_deliveries.last_error
MAX_SHIFT = 62  # 2**attempts is capped anyway; keep the integer small


def render_url(template: str, advertising_id: bytes, optout_epoch_s: int) -> str:
    """The URL to call for one opt-out. It holds a raw UID2: never log it."""
    identity = quote(b64encode(advertising_id), safe="")
    return template.replace(ADVERTISING_ID, identity).replace(OPTOUT_EPOCH, str(optout_epoch_s))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_ms: int = 1_000
    cap_ms: int = 900_000  # 15 minutes
    max_attempts: int = 50
    jitter_floor: float = 0.5  # each wait is between this fraction and all of the backoff

    def __post_init__(self) -> None:
        if self.base_ms < 1 or self.cap_ms < self.base_ms or self.max_attempts < 1:
            raise ValueError("need 1 <= base_ms <= cap_ms and max_attempts >= 1")
        if not 0.0 <= self.jitter_floor <= 1.0:
            raise ValueError("jitter_floor must be between 0 and 1")


def backoff_ms(attempts: int, unit: float, policy: RetryPolicy) -> int:
    """``min(cap, base * 2**attempts) * jitter``: the wait after ``attempts + 1`` failures.

    ``unit`` is a random number in [0, 1) (the caller's randomness); it scales the wait between
    ``jitter_floor`` and 1 of the exponential backoff, so that retries spread out.
    """
    exponential = min(policy.cap_ms, policy.base_ms << min(max(attempts, 0), MAX_SHIFT))
    jitter = policy.jitter_floor + (1.0 - policy.jitter_floor) * min(max(unit, 0.0), 1.0)
    return max(1, round(exponential * jitter))


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try's result: an HTTP status, or no answer with a short error name."""

    status: int | None
    error: str | None = None  # e.g. "ConnectError", "ReadTimeout": a class name, never a URL
    retryable: bool = True  # for errors: a network problem (True) or a bad request (False)
    retry_after_ms: int | None = None

    @property
    def verdict(self) -> Verdict:
        if self.status is None:
            return Verdict.RETRY if self.retryable else Verdict.REFUSED
        if self.status in SUCCESS_STATUSES:
            return Verdict.DELIVERED
        if self.status == TOO_MANY_REQUESTS or 500 <= self.status <= 599:
            return Verdict.RETRY
        return Verdict.REFUSED

    @property
    def reason(self) -> str | None:
        if self.status is None:
            return (self.error or "no answer")[:MAX_ERROR_LENGTH]
        return None if self.status in SUCCESS_STATUSES else f"HTTP {self.status}"


def parse_retry_after(value: str | None, policy: RetryPolicy) -> int | None:
    """A ``Retry-After`` in whole seconds, in ms and at most the cap; dates are ignored."""
    text = (value or "").strip()
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    return min(int(text) * 1000, policy.cap_ms)


def outcome(
    due: DueDelivery, attempt: Attempt, now_ms: int, unit: float, policy: RetryPolicy
) -> DeliveryOutcome:
    """The row after ``attempt``: delivered, pending again after a backoff, or failed."""
    attempts = due.attempts + 1
    verdict = attempt.verdict
    state = DeliveryState.PENDING
    next_ms = now_ms
    reason = attempt.reason
    if verdict is Verdict.DELIVERED:
        state = DeliveryState.DELIVERED
    elif verdict is Verdict.REFUSED:
        state = DeliveryState.FAILED
    elif attempts >= policy.max_attempts:
        state = DeliveryState.FAILED
        reason = f"{reason}; gave up"[:MAX_ERROR_LENGTH]
    else:
        wait = backoff_ms(attempts - 1, unit, policy)
        next_ms = now_ms + max(wait, attempt.retry_after_ms or 0)
    return DeliveryOutcome(
        webhook_id=due.webhook_id,
        optout_seq=due.optout_seq,
        state=state,
        attempts=attempts,
        next_attempt_ms=next_ms,
        last_attempt_ms=now_ms,
        last_status=attempt.status,
        last_error=reason,
        delivered_ms=now_ms if state is DeliveryState.DELIVERED else None,
    )

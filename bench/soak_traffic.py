"""The requests of a soak run (bench/soak.py): generate, refresh, map and pixel.

Tokens it generates are kept and refreshed later (the newest answer replaces the token); raw
UID2s from its maps go into the sharing tokens its pixels carry. Emails are new in every
request and every run.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

import httpx
from operator_load import Credentials

import uid2
from uid2.pixel.app import GIF
from uid2.sdk.http import NO_RETRY, HttpSettings

MAP_BATCH = 10  # emails per /v3/identity/map request
REQUEST_TIMEOUT = 10.0  # seconds; bounds every request, so every wait for a sender
KEEP = 256  # tokens to refresh and raw UID2s to put in pixels, kept for reuse
SEED_TOKENS = 8  # generated before the first slot, so the first refreshes have tokens


class WrongAnswerError(Exception):
    """An answer arrived, but not the one a working platform gives."""


class Traffic:
    """The four kinds of request, through the SDK without retries (a retry would hide an
    error). Each returns its latency in seconds or raises."""

    def __init__(self, op: str, pixel_url: str, pub: Credentials, adv: Credentials,
                 senders: int) -> None:  # fmt: skip
        settings = HttpSettings(timeout=REQUEST_TIMEOUT, max_connections=senders, retry=NO_RETRY)
        self.publisher = uid2.Uid2PublisherClient(op, pub.key, pub.secret, http_settings=settings)
        self.mapper = uid2.IdentityMapV3Client(op, adv.key, adv.secret, http_settings=settings)
        self.sender = uid2.SharingClient(op, adv.key, adv.secret, http_settings=settings)
        limits = httpx.Limits(max_connections=senders)
        self.pixels = httpx.Client(timeout=REQUEST_TIMEOUT, limits=limits)
        self.pixel_url = pixel_url + "/px/tracking"
        # deque appends, pops and rotations are atomic: the sender threads need no lock
        self.identities: deque[uid2.IdentityTokens] = deque(maxlen=KEEP)
        self.raw_uids: deque[str] = deque(maxlen=KEEP)
        self._numbers = itertools.count()
        self._run = f"{time.time_ns():x}"  # and so every run maps and generates new emails

    def seed(self) -> None:
        """Tokens to refresh and raw UID2s for pixels before the first slot needs them."""
        if not self.sender.refresh().success:
            raise WrongAnswerError("the advertiser could not fetch its sharing keys")
        self.map()
        for _ in range(SEED_TOKENS):
            self.generate()

    def _email(self) -> str:
        return f"soak.{self._run}.{next(self._numbers)}@example.com"

    def generate(self) -> float:
        start = time.perf_counter()
        answer = self.publisher.generate_token(uid2.TokenGenerateInput.from_email(self._email()))
        elapsed = time.perf_counter() - start
        identity = answer.get_identity() if answer.is_success() else None
        if identity is None:
            raise WrongAnswerError("no identity")
        self.identities.append(identity)
        return elapsed

    def refresh(self) -> float:
        try:
            identity = self.identities.popleft()
        except IndexError:
            raise WrongAnswerError("no token left to refresh") from None
        start = time.perf_counter()
        answer = self.publisher.refresh_token(identity)
        elapsed = time.perf_counter() - start
        fresh = answer.get_identity() if answer.is_success() else None
        if fresh is None:
            raise WrongAnswerError("no refreshed identity")
        self.identities.append(fresh)
        return elapsed

    def map(self) -> float:
        emails = [self._email() for _ in range(MAP_BATCH)]
        start = time.perf_counter()
        answer = self.mapper.generate_identity_map(uid2.IdentityMapV3Input.from_emails(emails))
        elapsed = time.perf_counter() - start
        mapped = answer.mapped_identities if answer.is_success() else {}
        if sorted(mapped) != sorted(emails):
            raise WrongAnswerError("not every email mapped")
        self.raw_uids.extend(m.current_raw_uid for m in mapped.values())
        return elapsed

    def pixel(self) -> float:
        raw_uid = self.raw_uids[0]
        self.raw_uids.rotate(-1)  # the next pixel carries another raw UID2
        token = self.sender.encrypt_raw_uid_into_token(raw_uid).encrypted_data
        if token is None:
            raise WrongAnswerError("no sharing token")
        url = uid2.tracking_pixel_url(self.pixel_url, token, "soak")
        start = time.perf_counter()
        answer = self.pixels.get(url)
        elapsed = time.perf_counter() - start
        if answer.status_code != 200:
            raise WrongAnswerError(f"HTTP {answer.status_code}")
        if answer.content != GIF:
            raise WrongAnswerError("not the GIF")
        return elapsed

    def close(self) -> None:
        for client in (self.publisher, self.mapper, self.sender, self.pixels):
            client.close()


def error_kind(exc: Exception) -> str:
    """A short name for a failure, free of tokens and keys (the one seam for exceptions)."""
    if isinstance(exc, uid2.OperatorError):
        return f"HTTP {exc.http_status}"
    if isinstance(exc, uid2.Uid2TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, uid2.TransportError | httpx.HTTPError):
        return "transport"
    if isinstance(exc, WrongAnswerError):
        return str(exc)
    return type(exc).__name__

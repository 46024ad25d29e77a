"""How long ago the receiver's sharing keys were last refreshed, for ``/metrics`` and ``/healthz``.

The SDK's SharingClient refreshes its keys in its own thread (every ``key_refresh_seconds``,
and on demand when a token names an unknown key). A successful refresh replaces its immutable
keyring with a new object; a failed one keeps the old. So a refresh shows as a new keyring
reference, and this class only has to look: on every token the receiver decrypts and whenever
the age is read (a scrape, a health check). With no traffic a refresh is noticed at the next
read, so the age may read low by the time between two reads; it never reads high.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class KeyAge:
    def __init__(
        self,
        current_keys: Callable[[], object | None],
        limit_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limit_seconds`` is the age past which the receiver is unhealthy (0: no limit)."""
        self._current_keys = current_keys
        self._limit_seconds = limit_seconds
        self._clock = clock
        self._seen: object | None = None
        self._since = clock()  # until the first keys arrive, the age counts from the start

    def saw(self, keyring: object | None) -> None:
        """Notes the keyring a decryption used: one identity check, cheap on the pixel path."""
        if keyring is not self._seen and keyring is not None:
            self._seen = keyring
            self._since = self._clock()

    def seconds(self) -> float:
        self.saw(self._current_keys())
        return self._clock() - self._since

    def problem(self) -> str | None:
        """Why the keys are too old to be healthy, or None."""
        age = self.seconds()
        if self._limit_seconds <= 0 or age <= self._limit_seconds:
            return None
        limit = f"limit {self._limit_seconds:g} s"
        if self._seen is None:
            return f"no sharing keys yet, {age:.0f} s after start ({limit})"
        return f"sharing keys last refreshed {age:.0f} s ago ({limit})"

"""A per-address limit on sign-in and link attempts (on top of the per-account lockout).

Counts live in this process's memory; with several workers each enforces its own limit.
The table is bounded: when full, the oldest addresses are forgotten first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

MAX_TRACKED_ADDRESSES = 10_000
WINDOW_MS = 60_000


class AttemptLimiter:
    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._attempts: OrderedDict[str, deque[int]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, address: str, now_ms: int) -> int | None:
        """Records an attempt; None if allowed, else the seconds to wait."""
        with self._lock:
            window = self._attempts.pop(address, None) or deque()
            while window and window[0] <= now_ms - WINDOW_MS:
                window.popleft()
            self._attempts[address] = window
            while len(self._attempts) > MAX_TRACKED_ADDRESSES:
                self._attempts.popitem(last=False)
            if len(window) >= self._per_minute:
                return max(1, -(-(window[0] + WINDOW_MS - now_ms) // 1000))
            window.append(now_ms)
            return None

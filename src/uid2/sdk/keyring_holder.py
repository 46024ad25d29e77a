"""The keyring a Bidstream or Sharing client decrypts with, and how it stays fresh.

A refresh builds a new immutable :class:`~uid2.core.keys.Keyring` and swaps one reference, so
readers never lock. Three things refresh it:

- an explicit ``refresh()`` (or ``refresh_json(text)`` for air-gapped use);
- an optional background thread, hourly by default with jitter (sdk.md §11.9);
- on demand, when a token names a key the keyring lacks (a new sharing grant), at most once per
  ``on_demand_interval`` and only for clients that have fetched keys over HTTP before. The call
  that triggers it does not wait on another thread's refresh.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from uid2.core.enums import DecryptionStatus
from uid2.core.errors import KeyParseError
from uid2.core.keyjson import parse_key_response
from uid2.core.keys import Keyring
from uid2.sdk.errors import Uid2Error
from uid2.sdk.results import RefreshResponse

logger = logging.getLogger("uid2.sdk")

DEFAULT_REFRESH_INTERVAL = 3600.0
DEFAULT_ON_DEMAND_INTERVAL = 30.0
RETRY_AFTER_FAILURE = 60.0

# statuses that a newer keyring could turn into a success
REFRESHABLE_STATUSES = frozenset(
    {
        DecryptionStatus.NOT_INITIALIZED,
        DecryptionStatus.KEYS_NOT_SYNCED,
        DecryptionStatus.NOT_AUTHORIZED_FOR_KEY,
        DecryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY,
    }
)


class KeyringHolder:
    def __init__(
        self,
        fetch: Callable[[], bytes],
        *,
        on_demand_interval: float = DEFAULT_ON_DEMAND_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._on_demand_interval = on_demand_interval
        self._clock = clock
        self.keyring: Keyring | None = None
        self.last_success: float | None = None  # monotonic time of the last HTTP refresh
        self._refresh_lock = threading.Lock()
        self._last_on_demand = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> RefreshResponse:
        try:
            response = self.load(self._fetch())
        except Uid2Error as exc:
            logger.warning("key refresh failed: %s", exc)
            return RefreshResponse.make_error(str(exc))
        if response.success:
            self.mark_success()
        return response

    def load(self, text: str | bytes) -> RefreshResponse:
        try:
            keyring = parse_key_response(text)
        except KeyParseError as exc:
            logger.warning("key response rejected: %s", exc.status.value)
            return RefreshResponse.make_error(str(exc.status.value))
        self.keyring = keyring
        return RefreshResponse.make_success(keyring)

    def claim_on_demand_slot(self) -> bool:
        """True (once per interval) if an on-demand refresh may run now."""
        now = self._clock()
        if self.last_success is None or now - self._last_on_demand < self._on_demand_interval:
            return False
        self._last_on_demand = now
        return True

    def mark_success(self) -> None:
        self.last_success = self._clock()

    def try_refresh_on_demand(self) -> bool:
        """Refresh now if allowed; True if a refresh succeeded (so decrypting again may help)."""
        if not self._refresh_lock.acquire(blocking=False):
            return False
        try:
            if not self.claim_on_demand_slot():
                return False
            logger.info("token names an unknown key; refreshing keys on demand")
            return self.refresh().success
        finally:
            self._refresh_lock.release()

    def start_background(
        self, interval: float = DEFAULT_REFRESH_INTERVAL, jitter: float = 0.1
    ) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval, jitter), name="uid2-key-refresh", daemon=True
        )
        self._thread.start()

    def stop_background(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, interval: float, jitter: float) -> None:
        while not self._stop.is_set():
            ok = self.refresh().success
            wait = interval if ok else min(interval, RETRY_AFTER_FAILURE)
            self._stop.wait(wait * (1 + jitter * (2 * random.random() - 1)))

"""Purges opted-out raw UID2s from the event store, through ``/v2/optout/status``.

Every few seconds the raw UID2s stored since the last check are looked up; now and then every
stored raw UID2 is looked up again, for opt-outs made after an identity's first check. An
opted-out identity's events lose their raw UID2 (status OPTED_OUT), and later events of it are
stored without one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from uid2.pixel.store import SWEPT_SEQ, EventStore

logger = logging.getLogger("uid2.pixel")
BATCH = 5000

Lookup = Callable[[list[str]], dict[str, int]]


class OptOutSweeper:
    def __init__(
        self,
        store: EventStore,
        lookup: Lookup,
        *,
        interval_s: float,
        full_interval_s: float,
        on_purged: Callable[[int], None],
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._interval_s = interval_s
        self._full_interval_s = full_interval_s
        self._on_purged = on_purged
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uid2-pixel-optout", daemon=True)

    def start(self) -> None:
        if self._interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def sweep_new(self) -> int:
        """Checks the raw UID2s stored since the last sweep; returns the events purged."""
        return self._sweep(int(self._store.get_meta(SWEPT_SEQ) or 0), remember=True)

    def sweep_all(self) -> int:
        """Checks every stored raw UID2 again; returns the events purged."""
        return self._sweep(0, remember=False)

    def _sweep(self, seq: int, *, remember: bool) -> int:
        purged = 0
        while True:
            uids, last = self._store.uids_after(seq, BATCH)
            if last == seq:
                return purged
            purged += self._store.purge(self._lookup(uids)) if uids else 0
            if remember:
                self._store.set_meta(SWEPT_SEQ, str(last))
            seq = last

    def _run(self) -> None:
        next_full = time.monotonic() + self._full_interval_s
        while not self._stop.wait(self._interval_s):
            try:
                purged = self.sweep_new()
                if self._full_interval_s > 0 and time.monotonic() >= next_full:
                    purged += self.sweep_all()
                    next_full = time.monotonic() + self._full_interval_s
            except Exception as error:  # operator or database unreachable: try again later
                logger.warning("opt-out sweep failed: %s", type(error).__name__)
                continue
            if purged:
                self._on_purged(purged)

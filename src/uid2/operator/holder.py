"""Keeping a current snapshot: a source to load from, and a holder that polls and swaps.

The holder loads once at start (failing loudly if the control plane cannot be served), then a
daemon thread polls ``source.version()`` and swaps in ``source.load()`` when it moves. Readers
take ``holder.current``: one attribute read, no lock. While the source fails, the last snapshot
keeps serving and :meth:`SnapshotHolder.problems` reports staleness past the configured age.
An outage is logged when it starts, once a minute while it lasts, and when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from uid2.operator.snapshot import ControlPlane, OptOutIndex, Snapshot, build_snapshot
from uid2.store.errors import StoreError
from uid2.store.records import OptOut

log = logging.getLogger(__name__)
_WARN_EVERY_SECONDS = 60.0


def describe_failure(exc: Exception) -> str:
    """The kind of failure, never its message (driver messages can quote URLs and values)."""
    if isinstance(exc, StoreError):
        return f"StoreError({exc.code.value})"
    return type(exc).__name__


class SnapshotSource(Protocol):
    def version(self) -> int:
        """Moves whenever ``load`` would return something new."""
        ...

    def load(self) -> Snapshot: ...


class InMemorySnapshotSource:
    """A source over records held in memory (tests, demos, benchmarks)."""

    def __init__(self, plane: ControlPlane, optouts: OptOutIndex | None = None) -> None:
        self._optouts = optouts or OptOutIndex()
        self._lock = threading.Lock()
        self._version = 1
        self._plane = plane
        self._snapshot: Snapshot | None = None

    @property
    def optouts(self) -> OptOutIndex:
        return self._optouts

    def version(self) -> int:
        return self._version

    def load(self) -> Snapshot:
        with self._lock:
            if self._snapshot is None or self._snapshot.version != self._version:
                self._snapshot = build_snapshot(self._plane, self._optouts, version=self._version)
            return self._snapshot

    def replace(self, plane: ControlPlane) -> None:
        with self._lock:
            self._plane = plane
            self._version += 1

    def add_optouts(self, records: list[OptOut]) -> None:
        self._optouts.add(records)  # shared index: visible at once, no version change


class SnapshotHolder:
    def __init__(
        self,
        source: SnapshotSource,
        *,
        poll_interval_seconds: float,
        stale_after_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._poll_interval = poll_interval_seconds
        self._stale_after = stale_after_seconds
        self._monotonic = monotonic
        self._version = source.version()
        self.current: Snapshot = source.load()
        self._last_success = monotonic()
        self._last_error: str | None = None
        self._last_warning = self._last_success
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> bool:
        """Reload if the version moved; True if a new snapshot was swapped in."""
        try:
            swapped = self._reload_if_moved()
        except Exception as exc:  # keep serving the last snapshot
            self._note_failure(exc)
            return False
        self._note_success()
        return swapped

    def _reload_if_moved(self) -> bool:
        version = self._source.version()
        if version == self._version:
            return False
        snapshot = self._source.load()
        self.current, self._version = snapshot, version
        return True

    def _note_failure(self, exc: Exception) -> None:
        # One warning when an outage starts, then one a minute: a poll fails every second.
        now = self._monotonic()
        first = self._last_error is None
        self._last_error = describe_failure(exc)
        if first or now - self._last_warning >= _WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "control-plane poll failed (%s); serving the snapshot (last good poll %d s ago)",
                self._last_error,
                int(self.age_seconds()),
            )

    def _note_success(self) -> None:
        if self._last_error is not None:
            # the same level as the failures, so that a log read at WARNING shows the outage end
            log.warning("control plane reachable again after %d s", int(self.age_seconds()))
        self._last_success = self._monotonic()
        self._last_error = None

    def age_seconds(self) -> float:
        return self._monotonic() - self._last_success

    def problems(self) -> list[str]:
        """One ``name: reason`` line per unhealthy component (operator.md §1.17)."""
        age = self.age_seconds()
        if age <= self._stale_after:
            return []
        detail = f" (last error: {self._last_error})" if self._last_error else ""
        return [f"snapshot: stale for {int(age)} s{detail}"]

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="uid2-snapshot-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._poll_interval):
            self.poll_once()

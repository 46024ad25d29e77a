"""Group commit: events wait in a bounded queue, a thread stores them a batch per transaction,
and each request learns when its event is durable.

A pixel is answered only after its batch commits, so an answered event survives the process
being killed; batching keeps that to one commit per few milliseconds of traffic. When the
queue is full or the database refuses a batch, the events are counted as dropped and the
requests are answered all the same.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from uid2.pixel.events import PixelEvent
from uid2.pixel.store import EventStore

logger = logging.getLogger("uid2.pixel")
_STOP = object()


@dataclass(frozen=True, slots=True)
class _Pending:
    event: PixelEvent
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bool]


def _settle(futures: list[asyncio.Future[bool]], stored: bool) -> None:
    for future in futures:
        if not future.done():
            future.set_result(stored)


class GroupCommitWriter:
    def __init__(
        self,
        store: EventStore,
        *,
        on_dropped: Callable[[str, int], None],
        max_batch: int = 1000,
        max_queue: int = 50_000,
    ) -> None:
        self._store = store
        self._on_dropped = on_dropped
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="uid2-pixel-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: PixelEvent) -> asyncio.Future[bool] | None:
        """A future that turns True once stored (False if the batch failed); None if the queue
        is full (the event is dropped and counted)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        try:
            self._queue.put_nowait(_Pending(event, loop, future))
        except queue.Full:
            self._on_dropped("queue_full", 1)
            return None
        return future

    def stop(self, timeout: float = 10.0) -> None:
        """Stores what is queued, then ends the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._commit(batch)  # type: ignore[arg-type]
                    return
                batch.append(item)
            self._commit(batch)  # type: ignore[arg-type]

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._store.write([p.event for p in batch])
            stored = True
        except Exception as error:  # any database failure (down, disk full, locked): count
            # the driver's message can quote row values (raw UID2s): name the kind only
            logger.warning("could not store %d pixel events: %s", len(batch), type(error).__name__)
            self._on_dropped("db_error", len(batch))
            stored = False
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
        for pending in batch:
            by_loop.setdefault(pending.loop, []).append(pending.future)
        for loop, futures in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, futures, stored)

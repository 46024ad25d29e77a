"""The opt-out webhook outbox's backlog, read at each scrape of the worker's metrics.

One aggregate over the pending rows only (the ``state, next_attempt_ms`` index finds them), so
a read costs the same however many delivered rows the outbox keeps. It runs in a read-only
transaction: on SQLite a plain ``BEGIN``, which never queues behind the worker's writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, exc, func, select

from uid2.store.database import READ_ONLY_FLAG
from uid2.store.errors import StoreError, StoreErrorCode
from uid2.store.records import DeliveryState
from uid2.store.schema import webhook_deliveries

UNAVAILABLE = "the database is busy or unreachable"


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int  # deliveries not yet delivered nor given up, on every webhook
    oldest_created_ms: int | None  # when the oldest of them was written; None when none is


def read_backlog(engine: Engine) -> Backlog:
    d = webhook_deliveries
    query = select(func.count(), func.min(d.c.created_ms)).where(
        d.c.state == DeliveryState.PENDING.value
    )
    try:
        with engine.connect() as connection:
            connection.info[READ_ONLY_FLAG] = True
            with connection.begin():
                pending, oldest_ms = connection.execute(query).one()
    except exc.OperationalError:  # driver messages can quote row values: not passed on
        raise StoreError(StoreErrorCode.UNAVAILABLE, UNAVAILABLE) from None
    return Backlog(int(pending), None if oldest_ms is None else int(oldest_ms))

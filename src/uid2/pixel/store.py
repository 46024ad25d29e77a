"""The receiver's own event database (SQLite by default, PostgreSQL for several hosts).

It is not the control plane: a receiver (a DSP, an advertiser) keeps its events apart from
the platform. The schema is small and created on first use (``ensure_schema``), under a lock
so that several workers starting at once create it once.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)

from uid2.pixel.events import Extra, PixelEvent, PixelKind
from uid2.store.database import READ_ONLY_FLAG, is_postgresql, make_engine

metadata = MetaData()
AutoId = BigInteger().with_variant(Integer(), "sqlite")
SCHEMA_LOCK_ID = 0x55494450  # "UIDP"

pixel_events = Table(
    "pixel_events",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("received_ms", BigInteger, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("event", String(64), nullable=False, index=True),
    Column("status", String(40), nullable=False),
    Column("sender_site_id", Integer, nullable=True),
    Column("raw_uid2", String(64), nullable=True, index=True),
    Column("established_ms", BigInteger, nullable=True),
    Column("generated_ms", BigInteger, nullable=True),
    Column("params", Text, nullable=False),
    Column("referrer_domain", String(253), nullable=True),
)

pixel_optouts = Table(  # raw UID2s found opted out: their events are purged, new ones not kept
    "pixel_optouts",
    metadata,
    Column("raw_uid2", String(64), primary_key=True),
    Column("opted_out_ms", BigInteger, nullable=False),
)

pixel_meta = Table(
    "pixel_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

SWEPT_SEQ = "optout_swept_seq"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    event: PixelEvent


def open_engine(url: str) -> Engine:
    """An engine for the event store; SQLite gets ``synchronous=NORMAL`` (WAL): a commit
    survives the process being killed, and a batch costs no fsync of its own."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_synchronous)
    return engine


def _sqlite_synchronous(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only. On SQLite it begins a plain (deferred) transaction rather
    than ``BEGIN IMMEDIATE``: a read must neither wait for the writer nor hold it up, which
    would leave pixels answered before their commit (``commit_wait_seconds``)."""
    with engine.connect() as connection:
        connection.info[READ_ONLY_FLAG] = True
        yield connection


def ensure_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        if is_postgresql(engine):
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK_ID})
        metadata.create_all(connection, checkfirst=True)


def _row(e: PixelEvent) -> dict[str, object]:
    return {
        "received_ms": e.received_ms,
        "kind": e.kind.value,
        "event": e.event,
        "status": e.status,
        "sender_site_id": e.sender_site_id,
        "raw_uid2": e.raw_uid2,
        "established_ms": e.established_ms,
        "generated_ms": e.generated_ms,
        "params": e.params,
        "referrer_domain": e.referrer_domain,
    }


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """Queues this process's SQLite writer behind the others'.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so under steady load one
    worker can keep the write lock while another sleeps: p99 latency in the hundreds of ms.
    A blocking flock wakes the next writer as soon as the lock is released.
    """
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def writer_lock_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return Path(f"{database}.writer-lock")


class EventStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock_path = writer_lock_path(engine)

    def write(self, events: Sequence[PixelEvent]) -> None:
        """One transaction: the batch is stored whole or not at all. Events of opted-out raw
        UID2s are kept without their identifier."""
        with _file_lock(self._lock_path), self.engine.begin() as connection:
            uids = {e.raw_uid2 for e in events if e.raw_uid2 is not None}
            opted_out = set()
            if uids:
                query = select(pixel_optouts.c.raw_uid2).where(pixel_optouts.c.raw_uid2.in_(uids))
                opted_out = set(connection.scalars(query))
            rows = [
                _row(e.without_uid(Extra.OPTED_OUT.value) if e.raw_uid2 in opted_out else e)
                for e in events
            ]
            connection.execute(insert(pixel_events), rows)

    def events(
        self, since_ms: int = 0, *, event_name: str | None = None, limit: int | None = None
    ) -> Iterator[StoredEvent]:
        query = select(pixel_events).where(pixel_events.c.received_ms >= since_ms)
        if event_name is not None:
            query = query.where(pixel_events.c.event == event_name)
        query = query.order_by(pixel_events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with reading(self.engine) as connection:
            for row in connection.execute(query):
                yield StoredEvent(int(row.seq), _event(row))

    def stats(self) -> list[tuple[int | None, str, int]]:
        """``(sender site id, status, count)`` rows."""
        columns = (pixel_events.c.sender_site_id, pixel_events.c.status)
        query = select(*columns, func.count()).group_by(*columns).order_by(*columns)
        with reading(self.engine) as connection:
            return [(s, st, int(n)) for s, st, n in connection.execute(query)]

    def segment(self, event_name: str) -> list[str]:
        """The distinct raw UID2s recorded for ``event_name``."""
        query = (
            select(pixel_events.c.raw_uid2)
            .where(pixel_events.c.event == event_name, pixel_events.c.raw_uid2.is_not(None))
            .distinct()
            .order_by(pixel_events.c.raw_uid2)
        )
        with reading(self.engine) as connection:
            return list(connection.scalars(query))

    def latest_raw_uid(self) -> str | None:
        """The raw UID2 of the newest event that has one."""
        query = (
            select(pixel_events.c.raw_uid2)
            .where(pixel_events.c.raw_uid2.is_not(None))
            .order_by(pixel_events.c.seq.desc())
            .limit(1)
        )
        with reading(self.engine) as connection:
            value = connection.scalar(query)
        return None if value is None else str(value)

    # --- opt-out sweeping ----------------------------------------------------------------

    def uids_after(self, seq: int, limit: int) -> tuple[list[str], int]:
        """Distinct raw UID2s of events after ``seq``, and the last seq read."""
        query = (
            select(pixel_events.c.seq, pixel_events.c.raw_uid2)
            .where(pixel_events.c.seq > seq, pixel_events.c.raw_uid2.is_not(None))
            .order_by(pixel_events.c.seq)
            .limit(limit)
        )
        with reading(self.engine) as connection:
            rows = connection.execute(query).all()
        last = int(rows[-1].seq) if rows else seq
        return list(dict.fromkeys(r.raw_uid2 for r in rows)), last

    def purge(self, opted_out: dict[str, int]) -> int:
        """Forget the identifiers of opted-out raw UID2s; returns the events changed."""
        if not opted_out:
            return 0
        with self.engine.begin() as connection:
            known = set(connection.scalars(select(pixel_optouts.c.raw_uid2).where(
                pixel_optouts.c.raw_uid2.in_(opted_out))))  # fmt: skip
            new = [
                {"raw_uid2": u, "opted_out_ms": t} for u, t in opted_out.items() if u not in known
            ]
            if new:
                connection.execute(insert(pixel_optouts), new)
            result = connection.execute(
                update(pixel_events)
                .where(pixel_events.c.raw_uid2.in_(opted_out))
                .values(raw_uid2=None, status=Extra.OPTED_OUT.value)
            )
            return int(result.rowcount)

    def get_meta(self, name: str) -> str | None:
        with reading(self.engine) as connection:
            value = connection.scalar(select(pixel_meta.c.value).where(pixel_meta.c.name == name))
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(pixel_meta).where(pixel_meta.c.name == name))
            connection.execute(insert(pixel_meta).values(name=name, value=value))


def _event(row: Row[tuple[object, ...]]) -> PixelEvent:
    return PixelEvent(
        received_ms=int(row.received_ms),
        kind=PixelKind(row.kind),
        event=row.event,
        status=row.status,
        sender_site_id=row.sender_site_id,
        raw_uid2=row.raw_uid2,
        established_ms=row.established_ms,
        generated_ms=row.generated_ms,
        params=row.params,
        referrer_domain=row.referrer_domain,
    )

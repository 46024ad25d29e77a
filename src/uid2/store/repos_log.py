"""Append-only logs (opt-outs, audit trail), store versions and store-wide settings."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Row, insert, select, update

from uid2.store.records import AuditEntry, OptOut, StoreName
from uid2.store.schema import audit_log, optouts, store_meta, store_versions


class SqlAlchemyOptOutRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, identity_hash: bytes, advertising_id: bytes, created_s: int) -> int:
        result = self._db.execute(
            insert(optouts).values(
                identity_hash=identity_hash, advertising_id=advertising_id, created_s=created_s
            )
        )
        (seq,) = result.inserted_primary_key or (0,)
        return int(seq)

    def first_for_identity(self, identity_hash: bytes) -> OptOut | None:
        query = select(optouts).where(optouts.c.identity_hash == identity_hash)
        row = self._db.execute(query.order_by(optouts.c.seq).limit(1)).first()
        if row is None:
            return None
        return OptOut(
            int(row.seq), bytes(row.identity_hash), bytes(row.advertising_id), int(row.created_s)
        )

    def list_since(self, after_seq: int = 0) -> list[OptOut]:
        query = select(optouts).where(optouts.c.seq > after_seq).order_by(optouts.c.seq)
        return [
            OptOut(
                seq=int(row.seq),
                identity_hash=bytes(row.identity_hash),
                advertising_id=bytes(row.advertising_id),
                created_s=int(row.created_s),
            )
            for row in self._db.execute(query)
        ]


class SqlAlchemyAuditRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, entry: AuditEntry) -> None:
        self._db.execute(
            insert(audit_log).values(
                at_ms=entry.at_ms,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                details=entry.details,
                site_id=entry.site_id,
            )
        )

    def list_all(self) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.seq)
        return [_to_entry(row) for row in self._db.execute(query)]

    def list_recent(
        self, limit: int, *, site_id: int | None = None, before_seq: int | None = None
    ) -> list[AuditEntry]:
        """Newest first; ``site_id`` keeps one participant's rows, ``before_seq`` pages back."""
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if site_id is not None:
            query = query.where(audit_log.c.site_id == site_id)
        if before_seq is not None:
            query = query.where(audit_log.c.seq < before_seq)
        return [_to_entry(row) for row in self._db.execute(query)]


def _to_entry(row: Row[tuple[object, ...]]) -> AuditEntry:
    return AuditEntry(
        at_ms=int(row.at_ms),
        actor=row.actor,
        action=row.action,
        target=row.target,
        details=row.details,
        site_id=None if row.site_id is None else int(row.site_id),
        seq=int(row.seq),
    )


class SqlAlchemyStoreVersionRepository:
    """One monotonically increasing version per store; operators reload what moved."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def bump(self, stores: Iterable[StoreName], now_ms: int) -> None:
        current = self.get_all()
        for store in sorted(set(stores), key=lambda s: s.value):
            if store in current:
                query = update(store_versions).where(store_versions.c.store == store.value)
                values = {"version": store_versions.c.version + 1, "updated_ms": now_ms}
                self._db.execute(query.values(values))
            else:
                self._db.execute(
                    insert(store_versions).values(store=store.value, version=1, updated_ms=now_ms)
                )

    def get_all(self) -> dict[StoreName, int]:
        rows = self._db.execute(select(store_versions.c.store, store_versions.c.version))
        return {StoreName(store): int(version) for store, version in rows}


class SqlAlchemyMetaRepository:
    """Store-wide settings (identity scope, key environment, the KEK check value)."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, name: str) -> str | None:
        query = select(store_meta.c.value).where(store_meta.c.name == name)
        value = self._db.scalar(query)
        return None if value is None else str(value)

    def set(self, name: str, value: str) -> None:
        if self.get(name) is None:
            self._db.execute(insert(store_meta).values(name=name, value=value))
        else:
            query = update(store_meta).where(store_meta.c.name == name)
            self._db.execute(query.values(value=value))

"""Repositories for keysets (with their sharing ACLs), keyset keys and salt buckets."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from uid2.store._codec import require_box, secret_context
from uid2.store.records import (
    LAST_RESERVED_KEYSET_ID,
    Keyset,
    KeysetKey,
    ParticipantType,
    SaltBucket,
    SaltConfig,
)
from uid2.store.schema import (
    keyset_allowed_sites,
    keyset_allowed_types,
    keyset_keys,
    keysets,
    salt_buckets,
    salt_config,
)
from uid2.store.secrets import SecretBox


class SqlAlchemyKeysetRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def next_id(self) -> int:
        highest = self._db.scalar(select(func.max(keysets.c.keyset_id)))
        return max(highest or 0, LAST_RESERVED_KEYSET_ID) + 1

    def add(self, keyset: Keyset) -> None:
        self._db.execute(
            insert(keysets).values(
                keyset_id=keyset.keyset_id,
                site_id=keyset.site_id,
                name=keyset.name,
                acl_open=keyset.allowed_sites is None,
                is_default=keyset.is_default,
                enabled=keyset.enabled,
                created_s=keyset.created_s,
            )
        )
        self._write_acl(keyset)

    def save_acl(self, keyset: Keyset) -> None:
        self._db.execute(
            update(keysets)
            .where(keysets.c.keyset_id == keyset.keyset_id)
            .values(acl_open=keyset.allowed_sites is None)
        )
        for table in (keyset_allowed_sites, keyset_allowed_types):
            self._db.execute(delete(table).where(table.c.keyset_id == keyset.keyset_id))
        self._write_acl(keyset)

    def get(self, keyset_id: int) -> Keyset | None:
        row = self._db.execute(select(keysets).where(keysets.c.keyset_id == keyset_id)).first()
        return None if row is None else self._to_keyset(row)

    def default_for_site(self, site_id: int) -> Keyset | None:
        query = select(keysets).where(keysets.c.site_id == site_id, keysets.c.is_default)
        row = self._db.execute(query.order_by(keysets.c.keyset_id)).first()
        return None if row is None else self._to_keyset(row)

    def list_all(self) -> list[Keyset]:
        rows = self._db.execute(select(keysets).order_by(keysets.c.keyset_id)).all()
        return [self._to_keyset(row) for row in rows]

    def _write_acl(self, keyset: Keyset) -> None:
        sites = [{"keyset_id": keyset.keyset_id, "site_id": s} for s in keyset.allowed_sites or ()]
        types = [{"keyset_id": keyset.keyset_id, "type": t.value} for t in keyset.allowed_types]
        if sites:
            self._db.execute(insert(keyset_allowed_sites), sites)
        if types:
            self._db.execute(insert(keyset_allowed_types), types)

    def _to_keyset(self, row: Row[tuple[object, ...]]) -> Keyset:
        keyset_id = int(row.keyset_id)
        site_query = select(keyset_allowed_sites.c.site_id).where(
            keyset_allowed_sites.c.keyset_id == keyset_id
        )
        type_query = select(keyset_allowed_types.c.type).where(
            keyset_allowed_types.c.keyset_id == keyset_id
        )
        allowed_sites = frozenset(int(s) for s in self._db.scalars(site_query))
        return Keyset(
            keyset_id=keyset_id,
            site_id=int(row.site_id),
            name=row.name,
            allowed_sites=None if row.acl_open else allowed_sites,
            allowed_types=frozenset(ParticipantType(t) for t in self._db.scalars(type_query)),
            is_default=bool(row.is_default),
            enabled=bool(row.enabled),
            created_s=int(row.created_s),
        )


class SqlAlchemyKeysetKeyRepository:
    def __init__(self, connection: Connection, box: SecretBox | None) -> None:
        self._db = connection
        self._box = box

    def next_id(self) -> int:
        return int(self._db.scalar(select(func.max(keyset_keys.c.key_id))) or 0) + 1

    def add(self, key: KeysetKey) -> None:
        context = secret_context(keyset_keys, keyset_keys.c.secret_enc, key.key_id)
        self._db.execute(
            insert(keyset_keys).values(
                key_id=key.key_id,
                keyset_id=key.keyset_id,
                secret_enc=require_box(self._box).seal(key.secret, context),
                created_s=key.created_s,
                activates_s=key.activates_s,
                expires_s=key.expires_s,
            )
        )

    def set_expires(self, key_id: int, expires_s: int) -> None:
        query = update(keyset_keys).where(keyset_keys.c.key_id == key_id)
        self._db.execute(query.values(expires_s=expires_s))

    def list_all(self, keyset_id: int | None = None) -> list[KeysetKey]:
        query = select(keyset_keys).order_by(keyset_keys.c.key_id)
        if keyset_id is not None:
            query = query.where(keyset_keys.c.keyset_id == keyset_id)
        return [self._to_key(row) for row in self._db.execute(query)]

    def _to_key(self, row: Row[tuple[object, ...]]) -> KeysetKey:
        context = secret_context(keyset_keys, keyset_keys.c.secret_enc, row.key_id)
        return KeysetKey(
            key_id=int(row.key_id),
            keyset_id=int(row.keyset_id),
            secret=require_box(self._box).open(row.secret_enc, context),
            created_s=int(row.created_s),
            activates_s=int(row.activates_s),
            expires_s=int(row.expires_s),
        )


class SqlAlchemySaltRepository:
    """Salt configuration (one row) and the buckets; bucket salts are sealed per cell."""

    def __init__(self, connection: Connection, box: SecretBox | None) -> None:
        self._db = connection
        self._box = box

    def get_config(self) -> SaltConfig | None:
        row = self._db.execute(select(salt_config).where(salt_config.c.id == 1)).first()
        if row is None:
            return None
        box = require_box(self._box)
        return SaltConfig(
            first_level_salt=box.open_text(
                row.first_level_enc, secret_context(salt_config, salt_config.c.first_level_enc, 1)
            ),
            id_prefix=row.id_prefix,
            id_secret=box.open_text(
                row.id_secret_enc, secret_context(salt_config, salt_config.c.id_secret_enc, 1)
            ),
            bucket_count=int(row.bucket_count),
        )

    def add_config(self, config: SaltConfig) -> None:
        box = require_box(self._box)
        first_level_context = secret_context(salt_config, salt_config.c.first_level_enc, 1)
        id_secret_context = secret_context(salt_config, salt_config.c.id_secret_enc, 1)
        self._db.execute(
            insert(salt_config).values(
                id=1,
                first_level_enc=box.seal_text(config.first_level_salt, first_level_context),
                id_prefix=config.id_prefix,
                id_secret_enc=box.seal_text(config.id_secret, id_secret_context),
                bucket_count=config.bucket_count,
            )
        )

    def add_buckets(self, buckets: Sequence[SaltBucket]) -> None:
        if buckets:
            self._db.execute(insert(salt_buckets), [self._to_row(b) for b in buckets])

    def save_buckets(self, buckets: Sequence[SaltBucket]) -> None:
        if not buckets:
            return
        query = (
            update(salt_buckets)
            .where(salt_buckets.c.bucket_index == bindparam("b_index"))
            .values(
                current_salt_enc=bindparam("current_salt_enc"),
                previous_salt_enc=bindparam("previous_salt_enc"),
                last_updated_ms=bindparam("last_updated_ms"),
                refresh_from_ms=bindparam("refresh_from_ms"),
            )
        )
        rows = [self._to_row(b) for b in buckets]
        for row in rows:
            row["b_index"] = row.pop("bucket_index")
            del row["bucket_id"]
        self._db.execute(query, rows)

    def get_bucket(self, index: int) -> SaltBucket | None:
        query = select(salt_buckets).where(salt_buckets.c.bucket_index == index)
        row = self._db.execute(query).first()
        return None if row is None else self._to_bucket(row)

    def count_by_last_updated(self) -> dict[int, int]:
        """``{last_updated_ms: buckets}``: bucket ages without opening a single salt."""
        column = salt_buckets.c.last_updated_ms
        rows = self._db.execute(select(column, func.count()).group_by(column))
        return {int(updated): int(count) for updated, count in rows}

    def list_buckets(self) -> list[SaltBucket]:
        query = select(salt_buckets).order_by(salt_buckets.c.bucket_index)
        return [self._to_bucket(row) for row in self._db.execute(query)]

    def _to_row(self, bucket: SaltBucket) -> dict[str, object]:
        box = require_box(self._box)
        previous = bucket.previous_salt
        return {
            "bucket_index": bucket.index,
            "bucket_id": bucket.bucket_id,
            "current_salt_enc": box.seal_text(bucket.current_salt, _current_ctx(bucket.index)),
            "previous_salt_enc": None
            if previous is None
            else box.seal_text(previous, _previous_ctx(bucket.index)),
            "last_updated_ms": bucket.last_updated_ms,
            "refresh_from_ms": bucket.refresh_from_ms,
        }

    def _to_bucket(self, row: Row[tuple[object, ...]]) -> SaltBucket:
        box = require_box(self._box)
        index = int(row.bucket_index)
        sealed_previous = row.previous_salt_enc
        previous = None
        if sealed_previous is not None:
            previous = box.open_text(sealed_previous, _previous_ctx(index))
        return SaltBucket(
            index=index,
            bucket_id=row.bucket_id,
            current_salt=box.open_text(row.current_salt_enc, _current_ctx(index)),
            previous_salt=previous,
            last_updated_ms=int(row.last_updated_ms),
            refresh_from_ms=int(row.refresh_from_ms),
        )


def _current_ctx(index: int) -> str:
    return secret_context(salt_buckets, salt_buckets.c.current_salt_enc, index)


def _previous_ctx(index: int) -> str:
    return secret_context(salt_buckets, salt_buckets.c.previous_salt_enc, index)

"""Repositories for participants (sites), their API keys and their client-side keypairs."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Row, Table, delete, func, insert, select, update

from uid2.store._codec import join_enums, require_box, secret_context, split_enums
from uid2.store.records import (
    LAST_RESERVED_SITE_ID,
    ApiKey,
    CstgKeypair,
    ParticipantType,
    Role,
    Site,
)
from uid2.store.schema import (
    client_keys,
    cstg_keypairs,
    site_app_names,
    site_domains,
    site_types,
    sites,
)
from uid2.store.secrets import SecretBox


class SqlAlchemySiteRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def next_id(self) -> int:
        highest = self._db.scalar(select(func.max(sites.c.site_id)))
        return max(highest or 0, LAST_RESERVED_SITE_ID) + 1

    def add(self, site: Site) -> None:
        self._db.execute(
            insert(sites).values(
                site_id=site.site_id,
                name=site.name,
                enabled=site.enabled,
                created_s=site.created_s,
            )
        )
        self._replace_children(site)

    def save(self, site: Site) -> None:
        self._db.execute(
            update(sites)
            .where(sites.c.site_id == site.site_id)
            .values(name=site.name, enabled=site.enabled)
        )
        self._replace_children(site)

    def get(self, site_id: int) -> Site | None:
        row = self._db.execute(select(sites).where(sites.c.site_id == site_id)).first()
        return None if row is None else self._to_site(row)

    def get_by_name(self, name: str) -> Site | None:
        row = self._db.execute(select(sites).where(sites.c.name == name)).first()
        return None if row is None else self._to_site(row)

    def list_all(self) -> list[Site]:
        rows = self._db.execute(select(sites).order_by(sites.c.site_id)).all()
        return [self._to_site(row) for row in rows]

    def ids_of_type(self, participant_type: ParticipantType) -> frozenset[int]:
        query = select(site_types.c.site_id).where(site_types.c.type == participant_type.value)
        return frozenset(self._db.scalars(query))

    def _replace_children(self, site: Site) -> None:
        self._replace(site_types, "type", site.site_id, (t.value for t in site.types))
        self._replace(site_domains, "name", site.site_id, site.domain_names)
        self._replace(site_app_names, "name", site.site_id, site.app_names)

    def _replace(self, table: Table, column: str, site_id: int, values: Iterable[str]) -> None:
        self._db.execute(delete(table).where(table.c.site_id == site_id))
        rows = [{"site_id": site_id, column: value} for value in values]
        if rows:
            self._db.execute(insert(table), rows)

    def _children(self, table: Table, column: str, site_id: int) -> list[str]:
        query = select(table.c[column]).where(table.c.site_id == site_id).order_by(table.c[column])
        return list(self._db.scalars(query))

    def _to_site(self, row: Row[tuple[object, ...]]) -> Site:
        site_id = int(row.site_id)
        types = self._children(site_types, "type", site_id)
        return Site(
            site_id=site_id,
            name=row.name,
            types=frozenset(ParticipantType(t) for t in types),
            domain_names=tuple(self._children(site_domains, "name", site_id)),
            app_names=tuple(self._children(site_app_names, "name", site_id)),
            enabled=bool(row.enabled),
            created_s=int(row.created_s),
        )


class SqlAlchemyApiKeyRepository:
    def __init__(self, connection: Connection, box: SecretBox | None) -> None:
        self._db = connection
        self._box = box

    def add(self, key: ApiKey) -> None:
        sealed = require_box(self._box).seal(
            key.secret, secret_context(client_keys, client_keys.c.secret_enc, key.key_id)
        )
        self._db.execute(
            insert(client_keys).values(
                key_id=key.key_id,
                site_id=key.site_id,
                key_hash=key.key_hash,
                key_salt=key.key_salt,
                secret_enc=sealed,
                roles=join_enums(key.roles),
                name=key.name,
                contact=key.contact,
                created_s=key.created_s,
                disabled=key.disabled,
            )
        )

    def save(self, key: ApiKey) -> None:
        """Persist the mutable fields: name, contact, roles, disabled."""
        self._db.execute(
            update(client_keys)
            .where(client_keys.c.key_id == key.key_id)
            .values(
                name=key.name,
                contact=key.contact,
                roles=join_enums(key.roles),
                disabled=key.disabled,
            )
        )

    def exists(self, key_id: str) -> bool:
        query = select(client_keys.c.key_id).where(client_keys.c.key_id == key_id)
        return self._db.execute(query).first() is not None

    def get(self, key_id: str) -> ApiKey | None:
        row = self._db.execute(select(client_keys).where(client_keys.c.key_id == key_id)).first()
        return None if row is None else self._to_key(row)

    def list_for_site(self, site_id: int) -> list[ApiKey]:
        query = select(client_keys).where(client_keys.c.site_id == site_id)
        return [self._to_key(row) for row in self._db.execute(query.order_by("key_id"))]

    def list_all(self) -> list[ApiKey]:
        query = select(client_keys).order_by(client_keys.c.key_id)
        return [self._to_key(row) for row in self._db.execute(query)]

    def _to_key(self, row: Row[tuple[object, ...]]) -> ApiKey:
        context = secret_context(client_keys, client_keys.c.secret_enc, row.key_id)
        return ApiKey(
            key_id=row.key_id,
            site_id=int(row.site_id),
            key_hash=row.key_hash,
            key_salt=row.key_salt,
            secret=require_box(self._box).open(row.secret_enc, context),
            roles=split_enums(Role, row.roles),
            name=row.name,
            contact=row.contact,
            created_s=int(row.created_s),
            disabled=bool(row.disabled),
        )


class SqlAlchemyCstgKeypairRepository:
    def __init__(self, connection: Connection, box: SecretBox | None) -> None:
        self._db = connection
        self._box = box

    def add(self, keypair: CstgKeypair) -> None:
        context = secret_context(
            cstg_keypairs, cstg_keypairs.c.private_key_enc, keypair.subscription_id
        )
        self._db.execute(
            insert(cstg_keypairs).values(
                subscription_id=keypair.subscription_id,
                site_id=keypair.site_id,
                public_key=keypair.public_key,
                private_key_enc=require_box(self._box).seal_text(keypair.private_key, context),
                name=keypair.name,
                contact=keypair.contact,
                created_s=keypair.created_s,
                disabled=keypair.disabled,
            )
        )

    def exists(self, subscription_id: str) -> bool:
        query = select(cstg_keypairs.c.subscription_id).where(
            cstg_keypairs.c.subscription_id == subscription_id
        )
        return self._db.execute(query).first() is not None

    def set_disabled(self, subscription_id: str, disabled: bool) -> bool:
        result = self._db.execute(
            update(cstg_keypairs)
            .where(cstg_keypairs.c.subscription_id == subscription_id)
            .values(disabled=disabled)
        )
        return result.rowcount == 1

    def get(self, subscription_id: str) -> CstgKeypair | None:
        query = select(cstg_keypairs).where(cstg_keypairs.c.subscription_id == subscription_id)
        row = self._db.execute(query).first()
        return None if row is None else self._to_keypair(row)

    def list_all(self) -> list[CstgKeypair]:
        query = select(cstg_keypairs).order_by(cstg_keypairs.c.subscription_id)
        return [self._to_keypair(row) for row in self._db.execute(query)]

    def _to_keypair(self, row: Row[tuple[object, ...]]) -> CstgKeypair:
        context = secret_context(
            cstg_keypairs, cstg_keypairs.c.private_key_enc, row.subscription_id
        )
        return CstgKeypair(
            subscription_id=row.subscription_id,
            site_id=int(row.site_id),
            public_key=row.public_key,
            private_key=require_box(self._box).open_text(row.private_key_enc, context),
            name=row.name,
            contact=row.contact,
            created_s=int(row.created_s),
            disabled=bool(row.disabled),
        )

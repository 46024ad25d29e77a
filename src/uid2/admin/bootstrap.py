"""``uid2 init``: scope, system keysets (master -1, refresh -2, fallback publisher 2), salts.

Idempotent: each part is created only if missing, and a second run writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.keys import RotationPolicy, ensure_system_keysets
from uid2.admin.salts import DEFAULT_BUCKET_COUNT, initial_buckets, new_salt_config
from uid2.core.cstg import KeyEnvironment
from uid2.core.enums import IdentityScope
from uid2.store.records import StoreInfo, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork


@dataclass(frozen=True, slots=True)
class InitializeStore:
    identity_scope: IdentityScope | None = None  # None: keep the stored one, or UID2
    bucket_count: int = DEFAULT_BUCKET_COUNT


@dataclass(frozen=True, slots=True)
class InitResult:
    identity_scope: IdentityScope
    created_keyset_ids: tuple[int, ...]
    salts_created: bool
    bucket_count: int

    @property
    def changed(self) -> bool:
        return bool(self.created_keyset_ids) or self.salts_created


def _ensure_info(uow: SqlAlchemyUnitOfWork, cmd: InitializeStore) -> tuple[StoreInfo, bool]:
    info = uow.info()
    if info is None:
        scope = cmd.identity_scope or IdentityScope.UID2
        info = StoreInfo(identity_scope=scope, environment=KeyEnvironment.LOCAL)
        uow.set_info(info)
        return info, True
    if cmd.identity_scope is not None and cmd.identity_scope != info.identity_scope:
        raise AdminError(
            AdminErrorCode.SCOPE_MISMATCH,
            f"the store is {info.identity_scope.name}; it cannot become {cmd.identity_scope.name}",
        )
    return info, False


def initialize_store(cmd: InitializeStore, uow: SqlAlchemyUnitOfWork, ctx: Context) -> InitResult:
    with uow:
        info, info_created = _ensure_info(uow, cmd)
        created = tuple(ensure_system_keysets(uow, ctx, RotationPolicy()))
        config = uow.salts.get_config()
        salts_created = config is None
        if config is None:
            config = new_salt_config(ctx, cmd.bucket_count)
            uow.salts.add_config(config)
            uow.salts.add_buckets(initial_buckets(config, ctx))
        result = InitResult(info.identity_scope, created, salts_created, config.bucket_count)
        if result.changed or info_created:
            details = {"scope": info.identity_scope.name, "keysets": list(created)}
            journal(uow, ctx, "store.init", "store", details, list(StoreName))
            uow.commit()
    return result

"""``initialize_store`` (idempotent, scope kept) and KEK rotation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from uid2.admin import (
    AdminError,
    AdminErrorCode,
    Context,
    InitializeStore,
    initialize_store,
    rotate_kek,
)
from uid2.core.enums import IdentityScope
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, StoreError, StoreErrorCode
from uid2.store.records import MASTER_KEYSET_ID, StoreName
from uid2.store.secrets import generate_kek

UoW = Callable[[], SqlAlchemyUnitOfWork]


def test_init_creates_the_reserved_keysets_each_with_an_active_key(
    new_uow: UoW, ctx: Context
) -> None:
    result = initialize_store(InitializeStore(IdentityScope.EUID, 16), new_uow(), ctx)
    assert result.created_keyset_ids == (-1, -2, 2) and result.salts_created
    with new_uow() as uow:
        info = uow.info()
        for keyset_id in (-1, -2, 2):
            [key] = uow.keyset_keys.list_all(keyset_id)
            assert key.activates_s <= ctx.now_s < key.expires_s and len(key.secret) == 32
        assert set(uow.versions.get_all()) == set(StoreName)
    assert info is not None and info.identity_scope is IdentityScope.EUID


def test_init_is_idempotent_and_keeps_the_scope(new_uow: UoW, ctx: Context) -> None:
    initialize_store(InitializeStore(IdentityScope.UID2, 16), new_uow(), ctx)
    with new_uow() as uow:
        versions = uow.versions.get_all()
    again = initialize_store(InitializeStore(None, 32), new_uow(), ctx)
    assert not again.changed and again.bucket_count == 16
    with new_uow() as uow:
        assert uow.versions.get_all() == versions
    with pytest.raises(AdminError) as error:
        initialize_store(InitializeStore(IdentityScope.EUID), new_uow(), ctx)
    assert error.value.code is AdminErrorCode.SCOPE_MISMATCH


def test_kek_rotation_makes_the_old_kek_useless(
    engine: Engine, new_uow: UoW, box: SecretBox, ctx: Context, initialized: None
) -> None:
    with new_uow() as uow:
        master = uow.keyset_keys.list_all(MASTER_KEYSET_ID)
    new_box = SecretBox(generate_kek())
    assert rotate_kek(new_box, new_uow(), ctx).resealed >= 3 + 64 + 2
    with pytest.raises(StoreError) as error:
        with SqlAlchemyUnitOfWork(engine, box):
            pass
    assert error.value.code is StoreErrorCode.KEK_MISMATCH
    with SqlAlchemyUnitOfWork(engine, new_box) as uow:
        assert uow.keyset_keys.list_all(MASTER_KEYSET_ID) == master
        assert uow.audit.list_all()[-1].action == "kek.rotate"

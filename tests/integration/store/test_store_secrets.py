"""Secrets at rest: sealed per cell, bound to their cell, unreadable without the KEK."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from uid2.store import SecretBox, SqlAlchemyUnitOfWork, StoreError, StoreErrorCode
from uid2.store.records import MASTER_KEYSET_ID
from uid2.store.schema import keyset_keys
from uid2.store.secrets import generate_kek, read_kek_file, write_kek_file


def test_a_sealed_value_opens_only_in_its_own_context() -> None:
    box = SecretBox(generate_kek())
    sealed = box.seal(b"secret", "t.c:1")
    assert box.open(sealed, "t.c:1") == b"secret"
    assert b"secret" not in sealed
    with pytest.raises(StoreError) as error:
        box.open(sealed, "t.c:2")
    assert error.value.code is StoreErrorCode.SECRET_UNREADABLE
    assert "secret" not in str(error.value).replace("decrypt", "")


def test_a_wrong_kek_is_refused_before_any_secret_is_read(
    engine: Engine, initialized: None
) -> None:
    with pytest.raises(StoreError) as error:
        with SqlAlchemyUnitOfWork(engine, SecretBox(generate_kek())):
            pass
    assert error.value.code is StoreErrorCode.KEK_MISMATCH


def test_a_ciphertext_moved_to_another_row_does_not_open(
    engine: Engine, new_uow: Callable[[], SqlAlchemyUnitOfWork], initialized: None
) -> None:
    with engine.begin() as connection:
        rows = connection.execute(select(keyset_keys.c.key_id, keyset_keys.c.secret_enc)).all()
        first_secret, second_id = rows[0].secret_enc, rows[1].key_id
        query = update(keyset_keys).where(keyset_keys.c.key_id == second_id)
        connection.execute(query.values(secret_enc=first_secret))
    with pytest.raises(StoreError) as error, new_uow() as uow:
        uow.keyset_keys.list_all()
    assert error.value.code is StoreErrorCode.SECRET_UNREADABLE


def test_rekey_reseals_every_secret_under_the_new_kek(
    engine: Engine, new_uow: Callable[[], SqlAlchemyUnitOfWork], initialized: None
) -> None:
    with new_uow() as uow:
        before = uow.keyset_keys.list_all(MASTER_KEYSET_ID)
        new_box = SecretBox(generate_kek())
        assert uow.rekey(new_box) > 0
        uow.commit()
    with SqlAlchemyUnitOfWork(engine, new_box) as uow:
        assert uow.keyset_keys.list_all(MASTER_KEYSET_ID) == before


def test_the_kek_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "home" / "kek"
    kek = generate_kek()
    write_kek_file(path, kek)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_kek_file(path) == kek
    assert read_kek_file(tmp_path / "missing") is None

"""The unit of work: rollback by default, store versions, conflicts mapped to StoreError."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from uid2.store import SecretBox, SqlAlchemyUnitOfWork, StoreError, StoreErrorCode
from uid2.store.records import ParticipantType, Site, StoreName


def _site(site_id: int, name: str) -> Site:
    return Site(site_id, name, frozenset({ParticipantType.DSP}), ("a.com",), (), True, 1)


def test_work_is_rolled_back_unless_committed(new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> None:
    with new_uow() as uow:
        uow.sites.add(_site(3, "rolled back"))
    with new_uow() as uow:
        uow.sites.add(_site(3, "kept"))
        uow.commit()
    with new_uow() as uow:
        assert [s.name for s in uow.sites.list_all()] == ["kept"]
        assert uow.sites.get(3) == _site(3, "kept")


def test_store_versions_start_at_one_and_increase(
    new_uow: Callable[[], SqlAlchemyUnitOfWork],
) -> None:
    for _ in range(2):
        with new_uow() as uow:
            uow.versions.bump([StoreName.SITES, StoreName.SITES, StoreName.KEYSETS], 5)
            uow.commit()
    with new_uow() as uow:
        assert uow.versions.get_all() == {StoreName.SITES: 2, StoreName.KEYSETS: 2}


def test_a_unique_name_clash_becomes_a_conflict_without_row_values(
    new_uow: Callable[[], SqlAlchemyUnitOfWork],
) -> None:
    with new_uow() as uow:
        uow.sites.add(_site(3, "same"))
        uow.commit()
    with pytest.raises(StoreError) as error, new_uow() as uow:
        uow.sites.add(_site(4, "same"))
    assert error.value.code is StoreErrorCode.CONFLICT
    assert "same" not in error.value.message


def test_a_reader_is_not_blocked_by_a_writer_in_progress(
    new_uow: Callable[[], SqlAlchemyUnitOfWork], engine: Engine, box: SecretBox
) -> None:
    with new_uow() as writer:
        writer.sites.add(_site(3, "uncommitted"))
        with SqlAlchemyUnitOfWork(engine, box, read_only=True) as reader:
            assert reader.sites.list_all() == []
        writer.commit()


def test_a_second_writer_waits_for_the_first(engine: Engine, box: SecretBox) -> None:
    order: list[str] = []
    first_has_lock = threading.Event()

    def second() -> None:
        first_has_lock.wait()
        with SqlAlchemyUnitOfWork(engine, box) as uow:
            order.append("second")
            uow.commit()

    thread = threading.Thread(target=second)
    thread.start()
    with SqlAlchemyUnitOfWork(engine, box) as uow:
        first_has_lock.set()
        time.sleep(0.3)  # the second writer is now waiting on the lock
        order.append("first")
        uow.commit()
    thread.join()
    assert order == ["first", "second"]

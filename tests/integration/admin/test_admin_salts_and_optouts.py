"""Salt buckets (creation, rotation) and opt-out records."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pytest
from hashids import Hashids

from uid2.admin import (
    AdminError,
    AdminErrorCode,
    Context,
    RecordOptOut,
    RotateSalts,
    record_optout,
    rotate_salts,
)
from uid2.admin.salts import DAY_MS, next_refresh_from, plan_salt_rotation
from uid2.core.dii import normalize_and_hash_email
from uid2.core.encoding import b64decode_strict
from uid2.core.enums import IdentityType
from uid2.core.rawuid import bucket_index, first_level_hash, raw_uid_v2
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import SaltBucket, StoreName

UoW = Callable[[], SqlAlchemyUnitOfWork]
BUCKETS = 64  # conftest's TEST_BUCKETS


def _buckets(new_uow: UoW) -> list[SaltBucket]:
    with new_uow() as uow:
        return uow.salts.list_buckets()


def test_init_creates_buckets_with_hashids_ids_and_a_30_day_refresh(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    with new_uow() as uow:
        config = uow.salts.get_config()
    buckets = _buckets(new_uow)
    assert config is not None and config.bucket_count == len(buckets) == BUCKETS
    encoder = Hashids(salt=config.id_secret, min_length=9)
    assert buckets[5].bucket_id == "b" + encoder.encode(1_000_005)
    assert len({b.current_salt for b in buckets}) == BUCKETS
    day = ctx.now_ms - ctx.now_ms % DAY_MS
    assert all(b.refresh_from_ms == day + 30 * DAY_MS for b in buckets)


def test_rotation_resalts_a_fraction_and_keeps_the_previous_salt(
    new_uow: UoW, ctx_at: Callable[[int], Context], ctx: Context, initialized: None
) -> None:
    before = {b.index: b for b in _buckets(new_uow)}
    later = ctx_at(ctx.now_ms + DAY_MS)
    result = rotate_salts(RotateSalts(fraction=0.1), new_uow(), later)
    assert result.rotated == math.ceil(BUCKETS * 0.1)
    rotated = [b for b in _buckets(new_uow) if b.last_updated_ms == later.now_ms]
    assert len(rotated) == result.rotated
    for bucket in rotated:
        assert bucket.previous_salt == before[bucket.index].current_salt
        assert bucket.current_salt != bucket.previous_salt
        assert bucket.refresh_from_ms == next_refresh_from(later.now_ms, later.now_ms)
    with new_uow() as uow:
        assert uow.versions.get_all()[StoreName.SALTS] == 2


def test_a_second_rotation_on_the_same_day_needs_force(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    rotate_salts(RotateSalts(0.1), new_uow(), ctx)
    assert rotate_salts(RotateSalts(0.1), new_uow(), ctx).rotated == 0
    assert rotate_salts(RotateSalts(0.1, force=True), new_uow(), ctx).rotated > 0


def test_previous_salts_are_dropped_after_90_days_and_overdue_buckets_go_first(
    ctx_at: Callable[[int], Context],
) -> None:
    most_overdue = SaltBucket(0, "b0", "cur0", "prev0", 0, 30 * DAY_MS)
    old_previous = SaltBucket(1, "b1", "cur1", "prev1", 5 * DAY_MS, 200 * DAY_MS)
    overdue = SaltBucket(2, "b2", "cur2", None, 95 * DAY_MS, 60 * DAY_MS)
    buckets = [most_overdue, old_previous, overdue]
    changed, rotated = plan_salt_rotation(buckets, 0.3, ctx_at(100 * DAY_MS))
    by_index = {b.index: b for b in changed}
    assert rotated == 1 and set(by_index) == {0, 1, 2}
    assert by_index[0].previous_salt == "cur0" and by_index[0].current_salt != "cur0"
    assert by_index[1].previous_salt is None and by_index[1].current_salt == "cur1"
    assert by_index[2].refresh_from_ms == 125 * DAY_MS and by_index[2].current_salt == "cur2"


def test_a_fraction_outside_0_to_1_is_refused(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    for fraction in (0.0, 1.5):
        with pytest.raises(AdminError) as error:
            rotate_salts(RotateSalts(fraction), new_uow(), ctx)
        assert error.value.code is AdminErrorCode.BAD_ARGUMENT


def test_an_optout_is_keyed_on_the_first_level_hash(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    recorded = record_optout(RecordOptOut(IdentityType.Email, "Jo@Example.com"), new_uow(), ctx)
    with new_uow() as uow:
        config = uow.salts.get_config()
        [row] = uow.optouts.list_since(0)
        assert config is not None
        dii_hash = b64decode_strict(normalize_and_hash_email("jo@example.com"))
        assert dii_hash is not None
        flh = first_level_hash(dii_hash, config.first_level_salt)
        bucket = uow.salts.get_bucket(bucket_index(flh, config.bucket_count))
        assert bucket is not None
        assert [e.action for e in uow.audit.list_all()][-1] == "optout.add"
        assert "example" not in uow.audit.list_all()[-1].details
    assert (row.seq, row.identity_hash, row.created_s) == (recorded.seq, flh, ctx.now_s)
    assert row.advertising_id == raw_uid_v2(flh, bucket.current_salt)


def test_opt_outs_are_appended(new_uow: UoW, ctx: Context, initialized: None) -> None:
    for phone in ("+12345678901", "+12345678901"):
        record_optout(RecordOptOut(IdentityType.Phone, phone), new_uow(), ctx)
    with new_uow() as uow:
        rows = uow.optouts.list_since(0)
        assert [r.seq for r in uow.optouts.list_since(rows[0].seq)] == [rows[1].seq]


def test_an_invalid_identity_is_refused(new_uow: UoW, ctx: Context, initialized: None) -> None:
    with pytest.raises(AdminError) as error:
        record_optout(RecordOptOut(IdentityType.Phone, "12345"), new_uow(), ctx)
    assert error.value.code is AdminErrorCode.BAD_IDENTITY
    with new_uow() as uow:
        assert uow.optouts.list_since(0) == []


def test_two_concurrent_salt_rotations_rotate_once(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        barrier.wait()
        results.append(rotate_salts(RotateSalts(0.25), new_uow(), ctx).rotated)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, BUCKETS // 4]

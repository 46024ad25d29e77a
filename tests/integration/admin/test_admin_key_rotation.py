"""Key rotation: activation ahead of use, expiry after the longest token lifetime, one rotation
when two processes rotate at once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from uid2.admin import Context, KeyRotationResult, RotateKeys, RotationPolicy, rotate_keys
from uid2.admin.keys import active_key_at, plan_rotation
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import (
    FALLBACK_PUBLISHER_KEYSET_ID,
    MASTER_KEYSET_ID,
    REFRESH_KEYSET_ID,
    KeysetKey,
)

UoW = Callable[[], SqlAlchemyUnitOfWork]
DAY_S = 86_400
POLICY = RotationPolicy()
SYSTEM = {MASTER_KEYSET_ID, REFRESH_KEYSET_ID, FALLBACK_PUBLISHER_KEYSET_ID}


def _key(key_id: int, activates: int, expires: int) -> KeysetKey:
    return KeysetKey(key_id, 1, b"k" * 32, activates, activates, expires)


def test_a_young_keyset_is_not_rotated_unless_forced() -> None:
    keys = [_key(1, 1000, 10**9)]
    assert plan_rotation(keys, 1000 + POLICY.min_age_s - 1, POLICY, force=False) is None
    assert plan_rotation(keys, 1000, POLICY, force=True) is not None


def test_a_new_key_activates_ahead_and_the_old_one_outlives_its_tokens() -> None:
    now = 100 * DAY_S
    old = _key(1, 0, now + DAY_S)  # would expire too early for tokens it encrypts until then
    plan = plan_rotation([old], now, POLICY, force=False)
    assert plan is not None
    assert plan.activates_s == now + POLICY.activates_in_s
    assert plan.expires_s > plan.activates_s + POLICY.longest_token_lifetime_s
    assert plan.extend == ((1, plan.activates_s + POLICY.longest_token_lifetime_s),)


def test_a_keyset_without_an_active_key_gets_one_at_once() -> None:
    plan = plan_rotation([_key(1, 0, 10)], 100, POLICY, force=False)
    assert plan is not None and plan.activates_s == 100 and plan.extend == ()


def test_active_key_is_the_latest_activated_unexpired_key() -> None:
    keys = [_key(1, 0, 100), _key(2, 50, 60), _key(3, 200, 300)]
    assert active_key_at(keys, 55) == keys[1]
    assert active_key_at(keys, 70) == keys[0]
    assert active_key_at(keys, 150) is None


def test_rotation_covers_master_refresh_and_site_keysets(
    new_uow: UoW, ctx_at: Callable[[int], Context], ctx: Context, initialized: None
) -> None:
    later = ctx_at(ctx.now_ms + 2 * DAY_S * 1000)
    result = rotate_keys(RotateKeys(), new_uow(), later)
    assert {r.keyset_id for r in result.rotated} == SYSTEM
    assert all(r.activates_s == later.now_s + POLICY.activates_in_s for r in result.rotated)
    with new_uow() as uow:
        master = uow.keyset_keys.list_all(MASTER_KEYSET_ID)
        assert active_key_at(master, later.now_s) == master[0]  # the new one is not used yet
        assert active_key_at(master, later.now_s + POLICY.activates_in_s) == master[1]
        assert [e.action for e in uow.audit.list_all()][-1] == "keys.rotate"
    assert rotate_keys(RotateKeys(), new_uow(), later).rotated == ()
    assert len(rotate_keys(RotateKeys(force=True), new_uow(), later).rotated) == 3


def _rotate_concurrently(engine: Engine, make_uow: UoW, ctx: Context) -> list[KeyRotationResult]:
    barrier = threading.Barrier(2)
    results: list[KeyRotationResult] = []

    def run() -> None:
        barrier.wait()
        results.append(rotate_keys(RotateKeys(), make_uow(), ctx))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_concurrent_rotations_produce_exactly_one(
    engine: Engine, new_uow: UoW, ctx_at: Callable[[int], Context], ctx: Context, initialized: None
) -> None:
    later = ctx_at(ctx.now_ms + 2 * DAY_S * 1000)
    results = _rotate_concurrently(engine, new_uow, later)
    assert sorted(len(r.rotated) for r in results) == [0, 3]
    with new_uow() as uow:
        assert len(uow.keyset_keys.list_all()) == 6


_ROTATE_SCRIPT = """
import json, sys
from uid2.admin import Context, RotateKeys, rotate_keys, system_entropy
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine
from uid2.store.secrets import decode_kek
url, kek, now_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = make_engine(url)
ctx = Context(now_ms, "process", system_entropy())
result = rotate_keys(RotateKeys(), SqlAlchemyUnitOfWork(engine, SecretBox(decode_kek(kek))), ctx)
engine.dispose()
print(json.dumps(len(result.rotated)))
"""


def test_two_processes_rotating_at_once_produce_exactly_one_rotation(
    db_url: str, box: object, new_uow: UoW, ctx: Context, initialized: None, tmp_path: Path
) -> None:
    from uid2.store.secrets import encode_kek

    kek = encode_kek(box.kek)  # type: ignore[attr-defined]
    now_ms = str(ctx.now_ms + 2 * DAY_S * 1000)
    script = tmp_path / "rotate.py"
    script.write_text(_ROTATE_SCRIPT)
    args = [sys.executable, str(script), db_url, kek, now_ms]
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    counts = sorted(json.loads(p.communicate(timeout=60)[0]) for p in processes)
    assert [p.returncode for p in processes] == [0, 0]
    assert counts == [0, 3]
    with new_uow() as uow:
        assert len(uow.keyset_keys.list_all()) == 6

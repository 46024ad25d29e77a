"""Salt buckets: creation and rotation (operator.md §5, system.md §1.6).

Rotation re-salts ``ceil(N * fraction)`` buckets, the most overdue first (earliest
``refresh_from``, then oldest ``last_updated``, ties broken at random). A rotated bucket keeps
its old salt as ``previous_salt`` (``/v3/identity/map`` returns the previous UID for 90 days),
gets ``last_updated = now`` and ``refresh_from`` = its day + 30 days. Every run also clears
previous salts 90 days old and moves overdue ``refresh_from`` values forward in 30-day steps.

Upstream picks only buckets whose ``refresh_from`` day is the target date and caps each age
band at 80 %; we take the most overdue instead, so a fresh install can rotate too. A second
run on the same UTC day does nothing unless forced, so concurrent or repeated cron runs
rotate once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hashids import Hashids

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.core.encoding import b64encode
from uid2.store.records import SaltBucket, SaltConfig, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork

# 65,536 buckets: `uid2 init` stays around a second on SQLite (every salt is sealed under the
# KEK and bucket ids go through hashids), yet one bucket still holds ~1/65,536 of identities.
# Production upstream has 1,048,576; pass `--buckets 1048576` to match it.
DEFAULT_BUCKET_COUNT = 65_536
DEFAULT_FRACTION = 1 / 365  # each bucket rotates about once a year
FIRST_BUCKET_NUMBER = 1_000_000
BUCKET_ID_MIN_LENGTH = 9
BUCKET_ID_PREFIX = "b"
SALT_BYTES = 32
DAY_MS = 86_400_000
REFRESH_STEP_MS = 30 * DAY_MS
PREVIOUS_SALT_KEPT_MS = 90 * DAY_MS
META_LAST_ROTATION = "salts_last_rotated_ms"


@dataclass(frozen=True, slots=True)
class RotateSalts:
    fraction: float = DEFAULT_FRACTION
    force: bool = False


@dataclass(frozen=True, slots=True)
class SaltRotationResult:
    rotated: int
    bucket_count: int
    skipped_reason: str | None = None


def new_salt(token_bytes: Callable[[int], bytes]) -> str:
    return b64encode(token_bytes(SALT_BYTES))


def floor_day(ms: int) -> int:
    return ms - ms % DAY_MS


def next_refresh_from(last_updated_ms: int, now_ms: int) -> int:
    """``floor_day(last_updated) + (age_days // 30 + 1) * 30 days`` (operator.md §5.3)."""
    start = floor_day(last_updated_ms)
    age_days = max(0, now_ms - start) // DAY_MS
    return start + (age_days // 30 + 1) * REFRESH_STEP_MS


def new_salt_config(ctx: Context, bucket_count: int) -> SaltConfig:
    if not 1 <= bucket_count <= 1 << 24:
        raise AdminError(AdminErrorCode.BAD_ARGUMENT, "bucket count must be 1 to 16,777,216")
    return SaltConfig(
        first_level_salt=new_salt(ctx.entropy.token_bytes),
        id_prefix=BUCKET_ID_PREFIX,
        id_secret=new_salt(ctx.entropy.token_bytes),
        bucket_count=bucket_count,
    )


def initial_buckets(config: SaltConfig, ctx: Context) -> list[SaltBucket]:
    encoder = Hashids(salt=config.id_secret, min_length=BUCKET_ID_MIN_LENGTH)
    refresh_from = next_refresh_from(ctx.now_ms, ctx.now_ms)
    return [
        SaltBucket(
            index=index,
            bucket_id=config.id_prefix + encoder.encode(FIRST_BUCKET_NUMBER + index),
            current_salt=new_salt(ctx.entropy.token_bytes),
            previous_salt=None,
            last_updated_ms=ctx.now_ms,
            refresh_from_ms=refresh_from,
        )
        for index in range(config.bucket_count)
    ]


def _shuffled_ranks(count: int, random_below: Callable[[int], int]) -> list[int]:
    ranks = list(range(count))
    for i in range(count - 1, 0, -1):  # Fisher-Yates
        j = random_below(i + 1)
        ranks[i], ranks[j] = ranks[j], ranks[i]
    return ranks


def _maintained(bucket: SaltBucket, now_ms: int) -> SaltBucket:
    if (
        bucket.previous_salt is not None
        and now_ms - bucket.last_updated_ms >= PREVIOUS_SALT_KEPT_MS
    ):
        bucket = replace(bucket, previous_salt=None)
    if bucket.refresh_from_ms <= now_ms:
        bucket = replace(bucket, refresh_from_ms=next_refresh_from(bucket.last_updated_ms, now_ms))
    return bucket


def plan_salt_rotation(
    buckets: Sequence[SaltBucket], fraction: float, ctx: Context
) -> tuple[list[SaltBucket], int]:
    """The buckets that change (pure but for ``ctx``'s randomness), and how many rotated."""
    if not 0 < fraction <= 1:
        raise AdminError(AdminErrorCode.BAD_ARGUMENT, "fraction must be in (0, 1]")
    count = math.ceil(len(buckets) * fraction)
    ranks = _shuffled_ranks(len(buckets), ctx.entropy.random_below)
    order = sorted(
        range(len(buckets)),
        key=lambda i: (buckets[i].refresh_from_ms, buckets[i].last_updated_ms, ranks[i]),
    )
    chosen = set(order[:count])
    changed = []
    for i, bucket in enumerate(buckets):
        updated = _rotated(bucket, ctx) if i in chosen else _maintained(bucket, ctx.now_ms)
        if updated != bucket:
            changed.append(updated)
    return changed, len(chosen)


def _rotated(bucket: SaltBucket, ctx: Context) -> SaltBucket:
    return replace(
        bucket,
        previous_salt=bucket.current_salt,
        current_salt=new_salt(ctx.entropy.token_bytes),
        last_updated_ms=ctx.now_ms,
        refresh_from_ms=next_refresh_from(ctx.now_ms, ctx.now_ms),
    )


def rotate_salts(cmd: RotateSalts, uow: SqlAlchemyUnitOfWork, ctx: Context) -> SaltRotationResult:
    with uow:
        config = uow.salts.get_config()
        if config is None:
            raise AdminError(AdminErrorCode.NOT_INITIALIZED, "the store has no salts; run init")
        last = uow.meta.get(META_LAST_ROTATION)
        if not cmd.force and last is not None and floor_day(int(last)) == floor_day(ctx.now_ms):
            reason = "salts were already rotated today (use --force)"
            return SaltRotationResult(0, config.bucket_count, reason)
        changed, rotated = plan_salt_rotation(uow.salts.list_buckets(), cmd.fraction, ctx)
        uow.salts.save_buckets(changed)
        uow.meta.set(META_LAST_ROTATION, str(ctx.now_ms))
        details = {"fraction": cmd.fraction, "rotated": rotated, "force": cmd.force}
        journal(uow, ctx, "salts.rotate", "salts", details, [StoreName.SALTS])
        uow.commit()
    return SaltRotationResult(rotated, config.bucket_count)

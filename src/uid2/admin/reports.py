"""Read-only views for operators of the platform: salt-bucket ages, opt-out lookup, audit trail.

None of them returns a salt, a key or a raw UID.
"""

from __future__ import annotations

from dataclasses import dataclass

from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.optouts import RecordOptOut, dii_hash
from uid2.core.rawuid import first_level_hash
from uid2.store.records import AuditEntry
from uid2.store.uow import SqlAlchemyUnitOfWork

DAY_MS = 86_400_000
AGE_BANDS_DAYS = (30, 90, 180, 365)  # upper bounds; the last band is "older"
MAX_AUDIT_PAGE = 500


@dataclass(frozen=True, slots=True)
class SaltAges:
    bucket_count: int
    bands: tuple[tuple[str, int], ...]  # (label, buckets last rotated within it)
    newest_ms: int | None
    oldest_ms: int | None


def _band_labels() -> list[str]:
    lows = (0, *AGE_BANDS_DAYS)
    labels = [f"{low}-{high} days" for low, high in zip(lows, AGE_BANDS_DAYS, strict=False)]
    return [*labels, f"over {AGE_BANDS_DAYS[-1]} days"]


def salt_ages(uow: SqlAlchemyUnitOfWork, now_ms: int) -> SaltAges:
    with uow:
        counts = uow.salts.count_by_last_updated()
    labels = _band_labels()
    per_band = [0] * len(labels)
    for updated_ms, count in counts.items():
        age_days = max(0, now_ms - updated_ms) // DAY_MS
        band = next((i for i, high in enumerate(AGE_BANDS_DAYS) if age_days < high), -1)
        per_band[band] += count
    return SaltAges(
        bucket_count=sum(counts.values()),
        bands=tuple(zip(labels, per_band, strict=True)),
        newest_ms=max(counts, default=None),
        oldest_ms=min(counts, default=None),
    )


@dataclass(frozen=True, slots=True)
class OptOutLookup:
    opted_out: bool
    since_s: int | None


def lookup_optout(cmd: RecordOptOut, uow: SqlAlchemyUnitOfWork) -> OptOutLookup:
    """Whether the email or phone in ``cmd`` has opted out, and since when."""
    hashed = dii_hash(cmd)
    with uow:
        config = uow.salts.get_config()
        if config is None:
            raise AdminError(AdminErrorCode.NOT_INITIALIZED, "the store has no salts; run init")
        found = uow.optouts.first_for_identity(first_level_hash(hashed, config.first_level_salt))
    return OptOutLookup(found is not None, None if found is None else found.created_s)


def audit_trail(
    uow: SqlAlchemyUnitOfWork,
    *,
    site_id: int | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; one participant's rows when ``site_id`` is given."""
    with uow:
        page = max(1, min(limit, MAX_AUDIT_PAGE))
        return uow.audit.list_recent(page, site_id=site_id, before_seq=before_seq)

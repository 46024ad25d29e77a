"""Reads that use cases share, raising :class:`AdminError` when the thing does not exist."""

from __future__ import annotations

from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.store.records import LAST_RESERVED_SITE_ID, Site, StoreInfo
from uid2.store.uow import SqlAlchemyUnitOfWork

# Site ids are INTEGER columns and user ids BIGINT ones. A larger id names nothing (and the
# database driver would refuse to bind it), so lookups treat it as unknown.
MAX_SITE_ID = (1 << 31) - 1
MAX_ROW_ID = (1 << 63) - 1


def require_site(uow: SqlAlchemyUnitOfWork, site_id: int) -> Site:
    known = LAST_RESERVED_SITE_ID < site_id <= MAX_SITE_ID
    site = uow.sites.get(site_id) if known else None
    if site is None:
        raise AdminError(AdminErrorCode.UNKNOWN_SITE, f"unknown site {site_id}")
    return site


def require_info(uow: SqlAlchemyUnitOfWork) -> StoreInfo:
    info = uow.info()
    if info is None:
        raise AdminError(AdminErrorCode.NOT_INITIALIZED, "the store is not initialised")
    return info

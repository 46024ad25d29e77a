"""Reads that use cases share, raising :class:`AdminError` when the thing does not exist."""

from __future__ import annotations

from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.store.records import LAST_RESERVED_SITE_ID, Site, StoreInfo
from uid2.store.uow import SqlAlchemyUnitOfWork


def require_site(uow: SqlAlchemyUnitOfWork, site_id: int) -> Site:
    site = uow.sites.get(site_id) if site_id > LAST_RESERVED_SITE_ID else None
    if site is None:
        raise AdminError(AdminErrorCode.UNKNOWN_SITE, f"unknown site {site_id}")
    return site


def require_info(uow: SqlAlchemyUnitOfWork) -> StoreInfo:
    info = uow.info()
    if info is None:
        raise AdminError(AdminErrorCode.NOT_INITIALIZED, "the store is not initialised")
    return info

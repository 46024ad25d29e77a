"""Sharing permissions: who may read a participant's default keyset (portal-and-sharing §1.5).

A grant names one site or a participant type. A type grant is stored as the type, so it covers
present and future participants of that type; :func:`effective_allowed_sites` expands it into
the operator-facing ``allowed_sites``, as upstream's ``ReplaceSharingTypesWithSitesJob`` does.

A keyset with no ACL (``allowed_sites = None``: every ID_READER may read it, a publisher's
default) means "shared with DSPs"; the first explicit edit turns it into the explicit
``{types: DSP}`` plus the change, as the upstream portal does when it writes lists back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.keys import active_key_at
from uid2.admin.lookups import require_site
from uid2.store.records import Keyset, ParticipantType, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork


@dataclass(frozen=True, slots=True)
class ChangeSharing:
    site_id: int
    grant: bool  # False revokes
    to_site_id: int | None = None
    to_type: ParticipantType | None = None


@dataclass(frozen=True, slots=True)
class SharingResult:
    keyset_id: int
    changed: bool
    allowed_sites: frozenset[int] | None
    allowed_types: frozenset[ParticipantType]


def effective_allowed_sites(
    keyset: Keyset, sites_of_type: Callable[[ParticipantType], frozenset[int]]
) -> frozenset[int] | None:
    """Explicit sites plus every site of an allowed type; None stays None (no ACL)."""
    if keyset.allowed_sites is None:
        return None
    expanded = set(keyset.allowed_sites)
    for participant_type in keyset.allowed_types:
        expanded |= sites_of_type(participant_type)
    return frozenset(expanded)


def _explicit(keyset: Keyset) -> Keyset:
    if keyset.allowed_sites is not None:
        return keyset
    return replace(
        keyset, allowed_sites=frozenset(), allowed_types=frozenset({ParticipantType.DSP})
    )


@dataclass(frozen=True, slots=True)
class UpdateSharing:
    """The portal's edits, in one transaction: add and remove sites, and/or set the types."""

    site_id: int
    add_sites: frozenset[int] = frozenset()
    remove_sites: frozenset[int] = frozenset()
    types: frozenset[ParticipantType] | None = None  # None leaves the types as they are


# What a sender of each type usually shares with (portal-and-sharing §2.3 f).
RECOMMENDED_TYPES: dict[ParticipantType, frozenset[ParticipantType]] = {
    ParticipantType.PUBLISHER: frozenset({ParticipantType.DSP}),
    ParticipantType.ADVERTISER: frozenset({ParticipantType.DSP, ParticipantType.DATA_PROVIDER}),
    ParticipantType.DSP: frozenset({ParticipantType.ADVERTISER, ParticipantType.DATA_PROVIDER}),
    ParticipantType.DATA_PROVIDER: frozenset(
        {ParticipantType.PUBLISHER, ParticipantType.ADVERTISER, ParticipantType.DSP}
    ),
}


def recommended_types(types: frozenset[ParticipantType]) -> frozenset[ParticipantType]:
    return frozenset().union(*(RECOMMENDED_TYPES[t] for t in types))


def apply_update(keyset: Keyset, cmd: UpdateSharing) -> Keyset:
    """The keyset after ``cmd`` (pure); the same object when nothing changes."""
    explicit = _explicit(keyset)
    sites = (set(explicit.allowed_sites or ()) | cmd.add_sites) - cmd.remove_sites
    types = explicit.allowed_types if cmd.types is None else cmd.types
    if frozenset(sites) == explicit.allowed_sites and types == explicit.allowed_types:
        return keyset
    return replace(explicit, allowed_sites=frozenset(sites), allowed_types=frozenset(types))


def apply_change(keyset: Keyset, cmd: ChangeSharing) -> Keyset:
    """The keyset after ``cmd`` (pure); the same object when nothing changes."""
    sites = frozenset() if cmd.to_site_id is None else frozenset({cmd.to_site_id})
    types = None
    if cmd.to_type is not None:
        current = _explicit(keyset).allowed_types
        types = current | {cmd.to_type} if cmd.grant else current - {cmd.to_type}
    if cmd.grant:
        return apply_update(keyset, UpdateSharing(cmd.site_id, add_sites=sites, types=types))
    return apply_update(keyset, UpdateSharing(cmd.site_id, remove_sites=sites, types=types))


def _check_target(uow: SqlAlchemyUnitOfWork, cmd: ChangeSharing) -> str:
    if (cmd.to_site_id is None) == (cmd.to_type is None):
        raise AdminError(AdminErrorCode.BAD_ARGUMENT, "give exactly one of a site or a type")
    if cmd.to_type is not None:
        return f"type:{cmd.to_type.value}"
    assert cmd.to_site_id is not None
    if cmd.to_site_id == cmd.site_id:
        raise AdminError(AdminErrorCode.BAD_ARGUMENT, "a site always reads its own keyset")
    require_site(uow, cmd.to_site_id)
    return f"site:{cmd.to_site_id}"


def require_keyset(uow: SqlAlchemyUnitOfWork, site_id: int) -> Keyset:
    keyset = uow.keysets.default_for_site(site_id)
    if keyset is None:
        raise AdminError(
            AdminErrorCode.NO_KEYSET,
            f"site {site_id} has no keyset yet: create an API key or a client-side key first",
        )
    return keyset


def update_sharing(cmd: UpdateSharing, uow: SqlAlchemyUnitOfWork, ctx: Context) -> SharingResult:
    with uow:
        require_site(uow, cmd.site_id)
        for site_id in sorted(cmd.add_sites):
            _check_target(uow, ChangeSharing(cmd.site_id, True, to_site_id=site_id))
        keyset = require_keyset(uow, cmd.site_id)
        updated = apply_update(keyset, cmd)
        if updated is not keyset:
            uow.keysets.save_acl(updated)
            details = {
                "keyset_id": keyset.keyset_id,
                "added_sites": sorted(cmd.add_sites),
                "removed_sites": sorted(cmd.remove_sites),
                "types": sorted(t.value for t in updated.allowed_types),
            }
            target, stores = f"site:{cmd.site_id}", [StoreName.KEYSETS]
            journal(uow, ctx, "share.update", target, details, stores, site_id=cmd.site_id)
            uow.commit()
    return SharingResult(
        updated.keyset_id, updated is not keyset, updated.allowed_sites, updated.allowed_types
    )


def change_sharing(cmd: ChangeSharing, uow: SqlAlchemyUnitOfWork, ctx: Context) -> SharingResult:
    with uow:
        require_site(uow, cmd.site_id)
        target = _check_target(uow, cmd)
        keyset = require_keyset(uow, cmd.site_id)
        updated = apply_change(keyset, cmd)
        if updated is not keyset:
            uow.keysets.save_acl(updated)
            action = "share.grant" if cmd.grant else "share.revoke"
            details = {"keyset_id": keyset.keyset_id, "to": target}
            target, stores = f"site:{cmd.site_id}", [StoreName.KEYSETS]
            journal(uow, ctx, action, target, details, stores, site_id=cmd.site_id)
            uow.commit()
    return SharingResult(
        updated.keyset_id, updated is not keyset, updated.allowed_sites, updated.allowed_types
    )


@dataclass(frozen=True, slots=True)
class KeysetListing:
    keyset: Keyset
    effective_allowed_sites: frozenset[int] | None  # what the operator enforces
    key_ids: tuple[int, ...]
    active_key_id: int | None


def list_keysets(uow: SqlAlchemyUnitOfWork, ctx: Context) -> list[KeysetListing]:
    """Every keyset with its expanded ACL and key ids (never key material)."""
    with uow:
        listings = []
        for keyset in uow.keysets.list_all():
            keys = uow.keyset_keys.list_all(keyset.keyset_id)
            active = active_key_at(keys, ctx.now_s)
            listings.append(
                KeysetListing(
                    keyset=keyset,
                    effective_allowed_sites=effective_allowed_sites(keyset, uow.sites.ids_of_type),
                    key_ids=tuple(k.key_id for k in keys),
                    active_key_id=None if active is None else active.key_id,
                )
            )
        return listings


@dataclass(frozen=True, slots=True)
class SharingOverview:
    keyset: Keyset | None  # None: the site has no keyset yet (no API key or client-side key)
    readers: frozenset[int] | None  # sites that can decrypt; None: every ID_READER
    recommended_types: frozenset[ParticipantType]


def sharing_overview(uow: SqlAlchemyUnitOfWork, site_id: int) -> SharingOverview:
    with uow:
        site = require_site(uow, site_id)
        keyset = uow.keysets.default_for_site(site_id)
        readers = None if keyset is None else effective_allowed_sites(keyset, uow.sites.ids_of_type)
    if keyset is None:
        readers = frozenset()
    elif readers is not None:
        readers = readers - {site_id}
    return SharingOverview(keyset, readers, recommended_types(site.types))

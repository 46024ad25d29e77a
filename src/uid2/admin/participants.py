"""Participants (upstream "sites"): create, enable/disable, types, domains and app names.

Types feed type-based sharing grants, so changing a site's types (or adding a site) also moves
the keysets store: the operator-facing ACL of a keyset shared with a type changes with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.lookups import require_site
from uid2.admin.validation import parse_app_name, parse_domain, parse_name, unique_sorted
from uid2.store.records import ParticipantType, Site, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork

_SITE_STORES = (StoreName.SITES, StoreName.KEYSETS)


@dataclass(frozen=True, slots=True)
class CreateParticipant:
    name: str
    types: frozenset[ParticipantType]
    domain_names: tuple[str, ...] = ()
    app_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetParticipantEnabled:
    site_id: int
    enabled: bool


@dataclass(frozen=True, slots=True)
class SetParticipantTypes:
    site_id: int
    types: frozenset[ParticipantType]


@dataclass(frozen=True, slots=True)
class EditParticipant:
    """Several fields in one transaction; None leaves a field as it is."""

    site_id: int
    name: str | None = None
    types: frozenset[ParticipantType] | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class SetDomainNames:
    site_id: int
    domain_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetAppNames:
    site_id: int
    app_names: tuple[str, ...]


def _require_types(types: frozenset[ParticipantType]) -> frozenset[ParticipantType]:
    if not types:
        raise AdminError(AdminErrorCode.UNKNOWN_TYPE, "at least one participant type is required")
    return types


def _domains(names: tuple[str, ...]) -> tuple[str, ...]:
    return unique_sorted(parse_domain(n) for n in names)


def _app_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return unique_sorted(parse_app_name(n) for n in names)


def create_participant(cmd: CreateParticipant, uow: SqlAlchemyUnitOfWork, ctx: Context) -> Site:
    name = parse_name(cmd.name, "participant name")
    types, domains, apps = (
        _require_types(cmd.types),
        _domains(cmd.domain_names),
        _app_names(cmd.app_names),
    )
    with uow:
        if uow.sites.get_by_name(name) is not None:
            raise AdminError(AdminErrorCode.DUPLICATE_NAME, f"participant {name!r} already exists")
        site = Site(uow.sites.next_id(), name, types, domains, apps, True, ctx.now_s)
        uow.sites.add(site)
        target, details = f"site:{site.site_id}", _details(site)
        journal(uow, ctx, "participant.create", target, details, _SITE_STORES, site_id=site.site_id)
        uow.commit()
    return site


def _details(site: Site) -> dict[str, object]:
    return {
        "name": site.name,
        "types": sorted(t.value for t in site.types),
        "domain_names": list(site.domain_names),
        "app_names": list(site.app_names),
        "enabled": site.enabled,
    }


def _update(
    uow: SqlAlchemyUnitOfWork, ctx: Context, site_id: int, action: str, **changes: object
) -> Site:
    with uow:
        site = require_site(uow, site_id)
        name = changes.get("name", site.name)
        if name != site.name and uow.sites.get_by_name(str(name)) is not None:
            raise AdminError(AdminErrorCode.DUPLICATE_NAME, f"participant {name!r} already exists")
        site = replace(site, **changes)  # type: ignore[arg-type]
        uow.sites.save(site)
        target, details = f"site:{site_id}", _details(site)
        journal(uow, ctx, action, target, details, _SITE_STORES, site_id=site_id)
        uow.commit()
    return site


def set_participant_enabled(
    cmd: SetParticipantEnabled, uow: SqlAlchemyUnitOfWork, ctx: Context
) -> Site:
    action = "participant.enable" if cmd.enabled else "participant.disable"
    return _update(uow, ctx, cmd.site_id, action, enabled=cmd.enabled)


def set_participant_types(
    cmd: SetParticipantTypes, uow: SqlAlchemyUnitOfWork, ctx: Context
) -> Site:
    types = _require_types(cmd.types)
    return _update(uow, ctx, cmd.site_id, "participant.set_types", types=types)


def edit_participant(cmd: EditParticipant, uow: SqlAlchemyUnitOfWork, ctx: Context) -> Site:
    changes: dict[str, object] = {}
    if cmd.name is not None:
        changes["name"] = parse_name(cmd.name, "participant name")
    if cmd.types is not None:
        changes["types"] = _require_types(cmd.types)
    if cmd.enabled is not None:
        changes["enabled"] = cmd.enabled
    return _update(uow, ctx, cmd.site_id, "participant.edit", **changes)


def set_domain_names(cmd: SetDomainNames, uow: SqlAlchemyUnitOfWork, ctx: Context) -> Site:
    domains = _domains(cmd.domain_names)
    return _update(uow, ctx, cmd.site_id, "participant.set_domains", domain_names=domains)


def set_app_names(cmd: SetAppNames, uow: SqlAlchemyUnitOfWork, ctx: Context) -> Site:
    apps = _app_names(cmd.app_names)
    return _update(uow, ctx, cmd.site_id, "participant.set_app_names", app_names=apps)


def list_participants(uow: SqlAlchemyUnitOfWork) -> list[Site]:
    with uow:
        return uow.sites.list_all()

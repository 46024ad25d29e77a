"""Participants: create, enable/disable, types, domains and app names; bad input writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from uid2.admin import (
    AdminError,
    AdminErrorCode,
    Context,
    CreateParticipant,
    ParticipantType,
    SetAppNames,
    SetDomainNames,
    SetParticipantEnabled,
    SetParticipantTypes,
    create_participant,
    set_app_names,
    set_domain_names,
    set_participant_enabled,
    set_participant_types,
)
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import StoreName

UoW = Callable[[], SqlAlchemyUnitOfWork]
PUBLISHER = frozenset({ParticipantType.PUBLISHER})


def _create(new_uow: UoW, ctx: Context, name: str = "Pub", **kwargs: object) -> int:
    cmd = CreateParticipant(name, kwargs.pop("types", PUBLISHER), **kwargs)  # type: ignore[arg-type]
    return create_participant(cmd, new_uow(), ctx).site_id


def test_participants_get_ids_above_the_reserved_sites(new_uow: UoW, ctx: Context) -> None:
    assert [_create(new_uow, ctx, "A"), _create(new_uow, ctx, "B")] == [3, 4]


def test_create_normalises_domains_and_app_names(new_uow: UoW, ctx: Context) -> None:
    cmd = CreateParticipant(
        " Pub ",
        PUBLISHER,
        domain_names=("Example.COM", "example.com", "example.co.uk", "localhost"),
        app_names=("com.example.App", "123456789", "COM.EXAMPLE.APP"),
    )
    site = create_participant(cmd, new_uow(), ctx)
    assert site.name == "Pub"
    assert site.domain_names == ("example.co.uk", "example.com", "localhost")
    assert site.app_names == ("123456789", "com.example.App")
    with new_uow() as uow:
        assert uow.sites.get(site.site_id) == site


def test_every_change_is_audited_and_bumps_the_store_version(new_uow: UoW, ctx: Context) -> None:
    site_id = _create(new_uow, ctx)
    set_participant_enabled(SetParticipantEnabled(site_id, False), new_uow(), ctx)
    set_participant_types(SetParticipantTypes(site_id, frozenset(ParticipantType)), new_uow(), ctx)
    set_domain_names(SetDomainNames(site_id, ("b.com",)), new_uow(), ctx)
    site = set_app_names(SetAppNames(site_id, ("com.b.app",)), new_uow(), ctx)
    assert not site.enabled and site.types == frozenset(ParticipantType)
    assert (site.domain_names, site.app_names) == (("b.com",), ("com.b.app",))
    with new_uow() as uow:
        actions = [entry.action for entry in uow.audit.list_all()]
        versions = uow.versions.get_all()
    assert actions == [
        "participant.create",
        "participant.disable",
        "participant.set_types",
        "participant.set_domains",
        "participant.set_app_names",
    ]
    assert versions[StoreName.SITES] == 5 and versions[StoreName.KEYSETS] == 5


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"domain_names": ("https://example.com",)}, AdminErrorCode.BAD_DOMAIN),
        ({"domain_names": ("www.example.com",)}, AdminErrorCode.BAD_DOMAIN),
        ({"domain_names": ("news.example.org",)}, AdminErrorCode.BAD_DOMAIN),
        ({"domain_names": ("co.uk",)}, AdminErrorCode.BAD_DOMAIN),
        ({"domain_names": ("10.0.0.1",)}, AdminErrorCode.BAD_DOMAIN),
        ({"domain_names": ("exa_mple.com",)}, AdminErrorCode.BAD_DOMAIN),
        ({"app_names": ("not an app",)}, AdminErrorCode.BAD_APP_NAME),
        ({"types": frozenset()}, AdminErrorCode.UNKNOWN_TYPE),
        ({"name": "  "}, AdminErrorCode.BAD_NAME),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    new_uow: UoW, ctx: Context, kwargs: dict[str, object], code: AdminErrorCode
) -> None:
    with pytest.raises(AdminError) as error:
        _create(new_uow, ctx, **kwargs)  # type: ignore[arg-type]
    assert error.value.code is code
    with new_uow() as uow:
        assert uow.sites.list_all() == [] and uow.audit.list_all() == []


def test_a_duplicate_name_is_refused(new_uow: UoW, ctx: Context) -> None:
    _create(new_uow, ctx, "Same")
    with pytest.raises(AdminError) as error:
        _create(new_uow, ctx, "Same")
    assert error.value.code is AdminErrorCode.DUPLICATE_NAME


def test_changing_an_unknown_or_reserved_site_is_refused(new_uow: UoW, ctx: Context) -> None:
    for site_id in (2, 99):
        with pytest.raises(AdminError) as error:
            set_participant_enabled(SetParticipantEnabled(site_id, False), new_uow(), ctx)
        assert error.value.code is AdminErrorCode.UNKNOWN_SITE


def test_concurrent_creations_get_distinct_ids(new_uow: UoW, ctx: Context) -> None:
    barrier = threading.Barrier(4)
    ids: list[int] = []

    def run(name: str) -> None:
        barrier.wait()
        ids.append(_create(new_uow, ctx, name))

    threads = [threading.Thread(target=run, args=(f"P{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == [3, 4, 5, 6]

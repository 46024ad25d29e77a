"""Sharing grants and revokes, to one site or to a participant type (present and future)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from uid2.admin import (
    AdminError,
    AdminErrorCode,
    ChangeSharing,
    Context,
    CreateApiKey,
    CreateParticipant,
    ParticipantType,
    Role,
    SetParticipantTypes,
    change_sharing,
    create_api_key,
    create_participant,
    effective_allowed_sites,
    set_participant_types,
)
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import Keyset

UoW = Callable[[], SqlAlchemyUnitOfWork]
DSP, ADVERTISER = ParticipantType.DSP, ParticipantType.ADVERTISER


def _site(new_uow: UoW, ctx: Context, name: str, kind: ParticipantType) -> int:
    return create_participant(CreateParticipant(name, frozenset({kind})), new_uow(), ctx).site_id


@pytest.fixture
def sharer(new_uow: UoW, ctx: Context, initialized: None) -> int:
    site_id = _site(new_uow, ctx, "Sharer", ADVERTISER)
    create_api_key(CreateApiKey(site_id, frozenset({Role.SHARER})), new_uow(), ctx)
    return site_id


def _keyset(new_uow: UoW, site_id: int) -> tuple[Keyset, frozenset[int] | None]:
    with new_uow() as uow:
        keyset = uow.keysets.default_for_site(site_id)
        assert keyset is not None
        return keyset, effective_allowed_sites(keyset, uow.sites.ids_of_type)


def test_a_grant_to_a_site_lets_exactly_that_site_read(
    new_uow: UoW, ctx: Context, sharer: int
) -> None:
    reader = _site(new_uow, ctx, "Reader", DSP)
    result = change_sharing(ChangeSharing(sharer, True, to_site_id=reader), new_uow(), ctx)
    assert result.changed and result.allowed_sites == frozenset({reader})
    assert _keyset(new_uow, sharer)[1] == frozenset({reader})
    change_sharing(ChangeSharing(sharer, False, to_site_id=reader), new_uow(), ctx)
    assert _keyset(new_uow, sharer)[1] == frozenset()


def test_a_type_grant_covers_present_and_future_participants_of_the_type(
    new_uow: UoW, ctx: Context, sharer: int
) -> None:
    early = _site(new_uow, ctx, "Early DSP", DSP)
    change_sharing(ChangeSharing(sharer, True, to_type=DSP), new_uow(), ctx)
    late = _site(new_uow, ctx, "Late DSP", DSP)
    other = _site(new_uow, ctx, "Advertiser", ADVERTISER)
    assert _keyset(new_uow, sharer)[1] == frozenset({early, late})
    set_participant_types(SetParticipantTypes(other, frozenset({DSP})), new_uow(), ctx)
    assert _keyset(new_uow, sharer)[1] == frozenset({early, late, other})


def test_editing_an_open_keyset_makes_the_dsp_sharing_explicit(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    publisher = _site(new_uow, ctx, "Pub", ParticipantType.PUBLISHER)
    create_api_key(CreateApiKey(publisher, frozenset({Role.GENERATOR})), new_uow(), ctx)
    assert _keyset(new_uow, publisher)[0].allowed_sites is None
    result = change_sharing(ChangeSharing(publisher, True, to_type=DSP), new_uow(), ctx)
    assert not result.changed  # "no ACL" already means "every bidder"
    advertiser = _site(new_uow, ctx, "Adv", ADVERTISER)
    change_sharing(ChangeSharing(publisher, True, to_site_id=advertiser), new_uow(), ctx)
    keyset, _ = _keyset(new_uow, publisher)
    assert keyset.allowed_sites == frozenset({advertiser})
    assert keyset.allowed_types == frozenset({DSP})


def test_repeating_a_grant_changes_nothing_and_writes_no_audit_row(
    new_uow: UoW, ctx: Context, sharer: int
) -> None:
    change_sharing(ChangeSharing(sharer, True, to_type=DSP), new_uow(), ctx)
    with new_uow() as uow:
        before = len(uow.audit.list_all())
    assert not change_sharing(ChangeSharing(sharer, True, to_type=DSP), new_uow(), ctx).changed
    with new_uow() as uow:
        assert len(uow.audit.list_all()) == before


@pytest.mark.parametrize(
    ("to_site", "to_type", "code"),
    [
        (99, None, AdminErrorCode.UNKNOWN_SITE),
        ("self", None, AdminErrorCode.BAD_ARGUMENT),
        (None, None, AdminErrorCode.BAD_ARGUMENT),
    ],
)
def test_bad_grants_are_refused(
    new_uow: UoW,
    ctx: Context,
    sharer: int,
    to_site: int | str | None,
    to_type: ParticipantType | None,
    code: AdminErrorCode,
) -> None:
    target = sharer if to_site == "self" else to_site
    with pytest.raises(AdminError) as error:
        change_sharing(ChangeSharing(sharer, True, target, to_type), new_uow(), ctx)  # type: ignore[arg-type]
    assert error.value.code is code


def test_a_site_without_a_keyset_cannot_share_yet(
    new_uow: UoW, ctx: Context, initialized: None
) -> None:
    site_id = _site(new_uow, ctx, "New", ADVERTISER)
    with pytest.raises(AdminError) as error:
        change_sharing(ChangeSharing(site_id, True, to_type=DSP), new_uow(), ctx)
    assert error.value.code is AdminErrorCode.NO_KEYSET

"""API keys and CSTG keypairs: formats, hashing at rest, keyset creation, edits."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from uid2.admin import (
    AdminError,
    AdminErrorCode,
    Context,
    CreateApiKey,
    CreateCstgKeypair,
    CreatedApiKey,
    CreateParticipant,
    DisableApiKey,
    DisableCstgKeypair,
    Entropy,
    ParticipantType,
    RenameApiKey,
    Role,
    SetApiKeyRoles,
    api_key_matches,
    create_api_key,
    create_cstg_keypair,
    create_participant,
    disable_api_key,
    disable_cstg_keypair,
    rename_api_key,
    set_api_key_roles,
)
from uid2.admin.apikeys import format_api_key
from uid2.core.cstg import KeyEnvironment
from uid2.core.encoding import b64decode_strict
from uid2.core.enums import IdentityScope
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import StoreInfo, StoreName

UoW = Callable[[], SqlAlchemyUnitOfWork]
KEY_FORMAT = re.compile(r"^UID2-C-L-(\d+)-(.{6})\.(.{38})$")  # operator.md §1.2


@pytest.fixture
def site_id(new_uow: UoW, ctx: Context, initialized: None) -> int:
    cmd = CreateParticipant("Pub", frozenset({ParticipantType.PUBLISHER}))
    return create_participant(cmd, new_uow(), ctx).site_id


def _key(
    new_uow: UoW, ctx: Context, site_id: int, *roles: Role, name: str | None = None
) -> CreatedApiKey:
    return create_api_key(CreateApiKey(site_id, frozenset(roles), name), new_uow(), ctx)


def test_a_new_api_key_has_the_upstream_format_and_is_stored_only_hashed(
    new_uow: UoW, ctx: Context, site_id: int
) -> None:
    created = _key(new_uow, ctx, site_id, Role.GENERATOR)
    match = KEY_FORMAT.match(created.key)
    assert match is not None and int(match.group(1)) == site_id
    assert created.key_id == created.key[: len(f"UID2-C-L-{site_id}-") + 5]
    secret = b64decode_strict(created.secret)
    assert secret is not None and len(secret) == 32
    with new_uow() as uow:
        record = uow.api_keys.get(created.key_id)
    assert record is not None and record.secret == secret
    assert created.key not in repr(record)
    assert api_key_matches(created.key, record)
    assert not api_key_matches(created.key[:-1] + "x", record)


def test_the_first_key_creates_the_sites_keyset_with_an_active_key(
    new_uow: UoW, ctx: Context, site_id: int
) -> None:
    _key(new_uow, ctx, site_id, Role.GENERATOR)
    _key(new_uow, ctx, site_id, Role.MAPPER)
    with new_uow() as uow:
        keyset = uow.keysets.default_for_site(site_id)
        assert keyset is not None and keyset.keyset_id == 4  # ids 1-3 are reserved
        assert keyset.allowed_sites is None  # a publisher's tokens: readable by every bidder
        [key] = uow.keyset_keys.list_all(keyset.keyset_id)
        assert key.activates_s == ctx.now_s < key.expires_s
        assert uow.versions.get_all()[StoreName.CLIENT_KEYS] == 3  # init, then two keys


def test_a_sharer_only_site_gets_a_keyset_shared_with_nobody(
    new_uow: UoW, ctx: Context, site_id: int
) -> None:
    _key(new_uow, ctx, site_id, Role.SHARER)
    with new_uow() as uow:
        keyset = uow.keysets.default_for_site(site_id)
    assert keyset is not None and keyset.allowed_sites == frozenset()


def test_rename_roles_and_disable_are_persisted_and_audited(
    new_uow: UoW, ctx: Context, site_id: int
) -> None:
    created = _key(new_uow, ctx, site_id, Role.MAPPER, name="first")
    rename_api_key(RenameApiKey(created.key_id, "second"), new_uow(), ctx)
    set_api_key_roles(SetApiKeyRoles(created.key_id, frozenset(Role)), new_uow(), ctx)
    disabled = disable_api_key(DisableApiKey(created.key_id), new_uow(), ctx)
    assert (disabled.name, disabled.roles, disabled.disabled) == ("second", frozenset(Role), True)
    with new_uow() as uow:
        assert uow.api_keys.get(created.key_id) == disabled
        actions = [e.action for e in uow.audit.list_all()]
        details = " ".join(e.details for e in uow.audit.list_all())
    assert actions[-4:] == ["apikey.create", "apikey.update", "apikey.update", "apikey.disable"]
    assert created.secret not in details and created.key not in details


@pytest.mark.parametrize(
    ("site", "roles", "name", "code"),
    [
        (99, (Role.GENERATOR,), None, AdminErrorCode.UNKNOWN_SITE),
        (-1, (Role.GENERATOR,), None, AdminErrorCode.UNKNOWN_SITE),
        (None, (), None, AdminErrorCode.UNKNOWN_ROLE),
        (None, (Role.GENERATOR,), "dup", AdminErrorCode.DUPLICATE_NAME),
    ],
)
def test_bad_api_key_requests_write_nothing(
    new_uow: UoW,
    ctx: Context,
    site_id: int,
    site: int | None,
    roles: tuple[Role, ...],
    name: str | None,
    code: AdminErrorCode,
) -> None:
    _key(new_uow, ctx, site_id, Role.GENERATOR, name="dup")
    with new_uow() as uow:
        before = (len(uow.api_keys.list_all()), len(uow.audit.list_all()))
    with pytest.raises(AdminError) as error:
        _key(new_uow, ctx, site if site is not None else site_id, *roles, name=name)
    assert error.value.code is code
    with new_uow() as uow:
        assert (len(uow.api_keys.list_all()), len(uow.audit.list_all())) == before


def test_editing_an_unknown_key_is_refused(new_uow: UoW, ctx: Context, site_id: int) -> None:
    with pytest.raises(AdminError) as error:
        disable_api_key(DisableApiKey("UID2-C-L-3-nope0"), new_uow(), ctx)
    assert error.value.code is AdminErrorCode.UNKNOWN_API_KEY


def test_a_cstg_keypair_is_a_p256_pair_with_a_base58_subscription_id(
    new_uow: UoW, ctx: Context, site_id: int
) -> None:
    created = create_cstg_keypair(CreateCstgKeypair(site_id), new_uow(), ctx)
    assert re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{10}", created.subscription_id)
    assert created.public_key.startswith("UID2-X-L-")
    public_der = b64decode_strict(created.public_key[9:])
    assert public_der is not None
    public_key = load_der_public_key(public_der)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    with new_uow() as uow:
        stored = uow.cstg_keypairs.get(created.subscription_id)
        keyset = uow.keysets.default_for_site(site_id)
    assert stored is not None and stored.private_key.startswith("UID2-Y-L-")
    assert keyset is not None and keyset.allowed_sites is None


def test_a_cstg_keypair_can_be_disabled(new_uow: UoW, ctx: Context, site_id: int) -> None:
    created = create_cstg_keypair(CreateCstgKeypair(site_id, "web"), new_uow(), ctx)
    disable_cstg_keypair(DisableCstgKeypair(created.subscription_id), new_uow(), ctx)
    with new_uow() as uow:
        stored = uow.cstg_keypairs.get(created.subscription_id)
    assert stored is not None and stored.disabled and stored.name == "web"
    with pytest.raises(AdminError) as error:
        disable_cstg_keypair(DisableCstgKeypair("missing"), new_uow(), ctx)
    assert error.value.code is AdminErrorCode.UNKNOWN_KEYPAIR


def test_a_cstg_keypair_for_an_unknown_site_is_refused(new_uow: UoW, ctx: Context) -> None:
    with pytest.raises(AdminError) as error:
        create_cstg_keypair(CreateCstgKeypair(42), new_uow(), ctx)
    assert error.value.code is AdminErrorCode.UNKNOWN_SITE


def test_the_key_format_matches_upstream_for_known_bytes() -> None:
    info = StoreInfo(IdentityScope.EUID, KeyEnvironment.LOCAL)
    key, key_id = format_api_key(info, 3, bytes(range(32)))
    assert key == "EUID-C-L-3-AAECAw.QFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert key_id == "EUID-C-L-3-AAECA"


def test_keys_come_from_the_contexts_randomness(new_uow: UoW, ctx: Context, site_id: int) -> None:
    seeded = replace(ctx, entropy=Entropy(random.Random(7).randbytes, random.Random(7).randrange))
    created = create_api_key(CreateApiKey(site_id, frozenset({Role.MAPPER})), new_uow(), seeded)
    info = StoreInfo(IdentityScope.UID2, KeyEnvironment.LOCAL)
    expected_key, _ = format_api_key(info, site_id, random.Random(7).randbytes(32))
    assert created.key == expected_key

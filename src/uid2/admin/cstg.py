"""Client-side token generation (CSTG) keypairs: create and disable (operator.md §7.1).

The key material and the Base58 subscription id come from :mod:`uid2.core.cstg`, fed with the
context's random bytes. The public key is given to the publisher with its ``<SCOPE>-X-<ENV>-``
prefix; the private key (``-Y-``) is stored sealed and never returned.
"""

from __future__ import annotations

from dataclasses import dataclass

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.keys import ensure_default_keyset
from uid2.admin.lookups import require_info, require_site
from uid2.admin.validation import parse_name
from uid2.core.cstg import keypair_from_random, subscription_id_from_random
from uid2.store.records import CstgKeypair, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork

KEY_RANDOM_BYTES = 40  # what core needs to derive a P-256 scalar without a usable bias
SUBSCRIPTION_RANDOM_BYTES = 16


@dataclass(frozen=True, slots=True)
class CreateCstgKeypair:
    site_id: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedCstgKeypair:
    subscription_id: str
    site_id: int
    public_key: str
    name: str


@dataclass(frozen=True, slots=True)
class DisableCstgKeypair:
    subscription_id: str


def _free_subscription_id(uow: SqlAlchemyUnitOfWork, ctx: Context) -> str:
    while True:  # 58^10 ids: a collision is practically impossible, but cheap to rule out
        random_bytes = ctx.entropy.token_bytes(SUBSCRIPTION_RANDOM_BYTES)
        subscription_id = subscription_id_from_random(random_bytes)
        if not uow.cstg_keypairs.exists(subscription_id):
            return subscription_id


def create_cstg_keypair(
    cmd: CreateCstgKeypair, uow: SqlAlchemyUnitOfWork, ctx: Context
) -> CreatedCstgKeypair:
    with uow:
        site = require_site(uow, cmd.site_id)
        info = require_info(uow)
        subscription_id = _free_subscription_id(uow, ctx)
        name = parse_name(cmd.name, "keypair name") if cmd.name is not None else subscription_id
        pair = keypair_from_random(
            ctx.entropy.token_bytes(KEY_RANDOM_BYTES),
            scope=info.identity_scope,
            env=info.environment,
        )
        keypair = CstgKeypair(
            subscription_id=subscription_id,
            site_id=site.site_id,
            public_key=pair.public_key,
            private_key=pair.private_key,
            name=name,
            contact=name,
            created_s=ctx.now_s,
            disabled=False,
        )
        uow.cstg_keypairs.add(keypair)
        stores = [StoreName.CLIENT_SIDE_KEYPAIRS]
        if ensure_default_keyset(uow, ctx, site, open_acl=True) is not None:
            stores += [StoreName.KEYSETS, StoreName.KEYSET_KEYS]
        details = {"site_id": site.site_id, "name": name}
        journal(uow, ctx, "cstg.create", subscription_id, details, stores, site_id=site.site_id)
        uow.commit()
    return CreatedCstgKeypair(subscription_id, site.site_id, pair.public_key, name)


def disable_cstg_keypair(cmd: DisableCstgKeypair, uow: SqlAlchemyUnitOfWork, ctx: Context) -> None:
    with uow:
        keypair = uow.cstg_keypairs.get(cmd.subscription_id)
        if keypair is None:
            raise AdminError(
                AdminErrorCode.UNKNOWN_KEYPAIR, f"unknown subscription id {cmd.subscription_id!r}"
            )
        uow.cstg_keypairs.set_disabled(cmd.subscription_id, True)
        stores = [StoreName.CLIENT_SIDE_KEYPAIRS]
        details = {"disabled": True}
        site_id = keypair.site_id
        journal(uow, ctx, "cstg.disable", cmd.subscription_id, details, stores, site_id=site_id)
        uow.commit()


def list_cstg_keypairs(uow: SqlAlchemyUnitOfWork, site_id: int) -> list[CstgKeypair]:
    """The site's keypairs, enabled ones first (the records hold the private key: never show)."""
    with uow:
        pairs = [p for p in uow.cstg_keypairs.list_all() if p.site_id == site_id]
    return sorted(pairs, key=lambda p: (p.disabled, -p.created_s, p.subscription_id))

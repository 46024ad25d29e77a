"""API keys: create (key and secret shown once), rename, change roles, disable.

Format (operator.md §1.2): ``<SCOPE>-C-<ENV>-<site>-`` followed by b64 of 32 random bytes with
a ``.`` after the 6th character; the key id is the prefix plus 5 characters. Only a salted
SHA-512 of the key is stored; :func:`api_key_matches` compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.keys import ensure_default_keyset
from uid2.admin.lookups import require_info, require_site
from uid2.admin.validation import parse_name
from uid2.core.encoding import b64decode_strict, b64encode
from uid2.store.records import ApiKey, Role, Site, StoreInfo, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork

KEY_BODY_BYTES = 32
KEY_SALT_BYTES = 32
CLIENT_SECRET_BYTES = 32
_MAX_KEY_ID_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    site_id: int
    roles: frozenset[Role]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key_id: str
    site_id: int
    key: str  # shown once, never stored
    secret: str  # b64 client secret, shown once (stored sealed)
    roles: frozenset[Role]
    name: str


@dataclass(frozen=True, slots=True)
class RenameApiKey:
    key_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SetApiKeyRoles:
    key_id: str
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class DisableApiKey:
    key_id: str


def hash_api_key(key: str, salt: bytes) -> str:
    return b64encode(hashlib.sha512(salt + key.encode("utf-8")).digest())


def api_key_matches(key: str, record: ApiKey) -> bool:
    salt = b64decode_strict(record.key_salt)
    if salt is None:
        return False
    return hmac.compare_digest(hash_api_key(key, salt), record.key_hash)


def format_api_key(info: StoreInfo, site_id: int, body: bytes) -> tuple[str, str]:
    """``(key, key_id)`` for 32 random ``body`` bytes."""
    prefix = f"{info.identity_scope.name}-C-{info.environment.value}-{site_id}-"
    text = b64encode(body)
    return f"{prefix}{text[:6]}.{text[6:]}", prefix + text[:5]


def _new_key(uow: SqlAlchemyUnitOfWork, ctx: Context, site_id: int) -> tuple[str, str]:
    info = require_info(uow)
    for _ in range(_MAX_KEY_ID_ATTEMPTS):  # key ids carry 30 random bits; retry a collision
        key, key_id = format_api_key(info, site_id, ctx.entropy.token_bytes(KEY_BODY_BYTES))
        if not uow.api_keys.exists(key_id):
            return key, key_id
    raise AdminError(AdminErrorCode.BAD_ARGUMENT, "could not allocate a unique key id")


def _check_name_free(uow: SqlAlchemyUnitOfWork, site_id: int, name: str) -> None:
    if any(k.name == name for k in uow.api_keys.list_for_site(site_id)):
        raise AdminError(AdminErrorCode.DUPLICATE_NAME, f"API key name {name!r} already exists")


def _ensure_keyset(
    uow: SqlAlchemyUnitOfWork, ctx: Context, site: Site, roles: frozenset[Role]
) -> list[StoreName]:
    # A publisher's tokens are readable by every bidder; a sharer's by nobody yet (§4.5).
    created = ensure_default_keyset(uow, ctx, site, open_acl=Role.GENERATOR in roles)
    return [] if created is None else [StoreName.KEYSETS, StoreName.KEYSET_KEYS]


def create_api_key(cmd: CreateApiKey, uow: SqlAlchemyUnitOfWork, ctx: Context) -> CreatedApiKey:
    if not cmd.roles:
        raise AdminError(AdminErrorCode.UNKNOWN_ROLE, "at least one role is required")
    with uow:
        site = require_site(uow, cmd.site_id)
        key, key_id = _new_key(uow, ctx, site.site_id)
        name = parse_name(cmd.name, "API key name") if cmd.name is not None else key_id
        _check_name_free(uow, site.site_id, name)
        salt = ctx.entropy.token_bytes(KEY_SALT_BYTES)
        secret = ctx.entropy.token_bytes(CLIENT_SECRET_BYTES)
        record = ApiKey(
            key_id=key_id,
            site_id=site.site_id,
            key_hash=hash_api_key(key, salt),
            key_salt=b64encode(salt),
            secret=secret,
            roles=cmd.roles,
            name=name,
            contact=name,
            created_s=ctx.now_s,
            disabled=False,
        )
        uow.api_keys.add(record)
        stores = [StoreName.CLIENT_KEYS, *_ensure_keyset(uow, ctx, site, cmd.roles)]
        journal(uow, ctx, "apikey.create", key_id, _details(record), stores, site_id=site.site_id)
        uow.commit()
    return CreatedApiKey(key_id, site.site_id, key, b64encode(secret), cmd.roles, name)


def _details(record: ApiKey) -> dict[str, object]:
    return {
        "site_id": record.site_id,
        "name": record.name,
        "roles": sorted(r.value for r in record.roles),
        "disabled": record.disabled,
    }


def _journal(
    uow: SqlAlchemyUnitOfWork,
    ctx: Context,
    action: str,
    record: ApiKey,
    stores: list[StoreName],
) -> None:
    details = _details(record)
    journal(uow, ctx, action, record.key_id, details, stores, site_id=record.site_id)


def _require_key(uow: SqlAlchemyUnitOfWork, key_id: str) -> ApiKey:
    record = uow.api_keys.get(key_id)
    if record is None:
        raise AdminError(AdminErrorCode.UNKNOWN_API_KEY, f"unknown API key id {key_id!r}")
    return record


@dataclass(frozen=True, slots=True)
class UpdateApiKey:
    """Name and roles in one transaction; None leaves a field as it is."""

    key_id: str
    name: str | None = None
    roles: frozenset[Role] | None = None


def update_api_key(cmd: UpdateApiKey, uow: SqlAlchemyUnitOfWork, ctx: Context) -> ApiKey:
    name = None if cmd.name is None else parse_name(cmd.name, "API key name")
    if cmd.roles is not None and not cmd.roles:
        raise AdminError(AdminErrorCode.UNKNOWN_ROLE, "at least one role is required")
    with uow:
        record = _require_key(uow, cmd.key_id)
        stores = [StoreName.CLIENT_KEYS]
        if name is not None and name != record.name:
            _check_name_free(uow, record.site_id, name)
            record = replace(record, name=name, contact=name)
        if cmd.roles is not None:
            record = replace(record, roles=cmd.roles)
            site = require_site(uow, record.site_id)
            stores += _ensure_keyset(uow, ctx, site, cmd.roles)
        uow.api_keys.save(record)
        _journal(uow, ctx, "apikey.update", record, stores)
        uow.commit()
    return record


def rename_api_key(cmd: RenameApiKey, uow: SqlAlchemyUnitOfWork, ctx: Context) -> ApiKey:
    return update_api_key(UpdateApiKey(cmd.key_id, name=cmd.name), uow, ctx)


def set_api_key_roles(cmd: SetApiKeyRoles, uow: SqlAlchemyUnitOfWork, ctx: Context) -> ApiKey:
    return update_api_key(UpdateApiKey(cmd.key_id, roles=cmd.roles), uow, ctx)


def disable_api_key(cmd: DisableApiKey, uow: SqlAlchemyUnitOfWork, ctx: Context) -> ApiKey:
    with uow:
        record = replace(_require_key(uow, cmd.key_id), disabled=True)
        uow.api_keys.save(record)
        _journal(uow, ctx, "apikey.disable", record, [StoreName.CLIENT_KEYS])
        uow.commit()
    return record


def list_api_keys(uow: SqlAlchemyUnitOfWork, site_id: int | None = None) -> list[ApiKey]:
    with uow:
        if site_id is None:
            return uow.api_keys.list_all()
        return uow.api_keys.list_for_site(require_site(uow, site_id).site_id)

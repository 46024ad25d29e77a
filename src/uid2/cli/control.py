"""Control-plane commands: init, KEK, participants, keys, sharing, rotation, opt-outs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import click
from sqlalchemy import Engine

import uid2.admin as admin
import uid2.admin.views as views
from uid2.admin.salts import DEFAULT_BUCKET_COUNT, DEFAULT_FRACTION
from uid2.cli.base import (
    cli,
    context,
    db_option,
    emit,
    emit_rows,
    json_option,
    runtime,
)
from uid2.core.enums import IdentityScope, IdentityType
from uid2.store import (
    SecretBox,
    SqlAlchemyUnitOfWork,
    StoreError,
    StoreErrorCode,
    make_engine,
    upgrade_schema,
)
from uid2.store.database import current_revision
from uid2.store.location import StoreLocation
from uid2.store.secrets import encode_kek, generate_kek, write_kek_file
from uid2.store.uow import META_KEK_CHECK

# --- init and KEK -------------------------------------------------------------------------------


def _kek_for_init(settings: StoreLocation, engine: Engine) -> tuple[bytes, str]:
    configured = settings.kek()
    if configured is not None:
        source = "UID2_KEK" if settings.kek_text is not None else str(settings.kek_file)
        return configured, source
    with SqlAlchemyUnitOfWork(engine) as uow:
        has_secrets = uow.meta.get(META_KEK_CHECK) is not None
    if has_secrets:  # a fresh KEK could never open the secrets already stored
        raise StoreError(StoreErrorCode.KEK_MISSING, "the database has secrets but no KEK is set")
    kek = generate_kek()
    write_kek_file(settings.kek_file, kek)
    return kek, str(settings.kek_file)


@cli.command()
@click.option("--scope", type=click.Choice(["UID2", "EUID"]), default=None, help="Identity scope.")
@click.option(
    "--buckets",
    type=click.IntRange(1, 1 << 24),
    default=DEFAULT_BUCKET_COUNT,
    show_default=True,
    help="Salt buckets to create (upstream production uses 1048576).",
)
@db_option
@json_option
def init(scope: str | None, buckets: int, db: str | None, as_json: bool) -> None:
    """Create or upgrade the schema, system keys and salts (idempotent)."""
    settings = StoreLocation.from_environ(os.environ)
    engine = make_engine(settings.url(db))
    try:
        upgrade_schema(engine)
        kek, source = _kek_for_init(settings, engine)
        cmd = admin.InitializeStore(IdentityScope[scope] if scope else None, buckets)
        result = admin.initialize_store(
            cmd, SqlAlchemyUnitOfWork(engine, SecretBox(kek)), context()
        )
        data = {
            "scope": result.identity_scope.name,
            "schema_revision": current_revision(engine),
            "created_keysets": list(result.created_keyset_ids),
            "salts_created": result.salts_created,
            "bucket_count": result.bucket_count,
            "kek_source": source,
        }
    finally:
        engine.dispose()
    emit(as_json, data, "uid2 store")


@cli.group()
def kek() -> None:
    """The key-encryption key that seals every stored secret."""


@kek.command("rotate")
@db_option
@json_option
def kek_rotate(db: str | None, as_json: bool) -> None:
    """Re-encrypt every secret under a new KEK (a key file is replaced; UID2_KEK is printed)."""
    with runtime(db) as rt:
        new_kek = generate_kek()
        from_env = rt.settings.kek_text is not None
        if not from_env:
            write_kek_file(rt.settings.kek_file.with_suffix(".new"), new_kek)
        result = admin.rotate_kek(SecretBox(new_kek), rt.uow(), context())
        if not from_env:  # only now does the database need the new key
            rt.settings.kek_file.with_suffix(".new").replace(rt.settings.kek_file)
    data: dict[str, Any] = {"resealed": result.resealed}
    if from_env:
        data["kek"] = encode_kek(new_kek)  # shown once: set it as UID2_KEK
    emit(as_json, data, "KEK rotated")


# --- participants ---------------------------------------------------------------------------


def _types(values: Sequence[str]) -> frozenset[admin.ParticipantType]:
    return frozenset(admin.parse_type(v) for v in values)


@cli.group()
def participant() -> None:
    """Participants (sites): publishers, advertisers, DSPs, data providers."""


@participant.command("create")
@click.argument("name")
@click.option("--type", "types", multiple=True, required=True, metavar="T", help="Repeatable.")
@click.option("--domain", "domains", multiple=True, metavar="D", help="Root-level domain.")
@click.option("--app-name", "app_names", multiple=True, metavar="A", help="App id.")
@db_option
@json_option
def participant_create(
    name: str,
    types: tuple[str, ...],
    domains: tuple[str, ...],
    app_names: tuple[str, ...],
    db: str | None,
    as_json: bool,
) -> None:
    """Create a participant; prints its site id."""
    cmd = admin.CreateParticipant(name, _types(types), domains, app_names)
    with runtime(db) as rt:
        site = admin.create_participant(cmd, rt.uow(), context())
    emit(as_json, views.site_view(site), "participant")


@participant.command("list")
@db_option
@json_option
def participant_list(db: str | None, as_json: bool) -> None:
    """List participants."""
    with runtime(db) as rt:
        sites = admin.list_participants(rt.reader())
    emit_rows(as_json, [views.site_view(s) for s in sites], "participants")


def _site_update(name: str, build: Callable[..., Any], run: Callable[..., Any]) -> None:
    @participant.command(name)
    @click.argument("site_id", type=int)
    @click.argument("values", nargs=-1)
    @db_option
    @json_option
    def command(site_id: int, values: tuple[str, ...], db: str | None, as_json: bool) -> None:
        with runtime(db) as rt:
            site = run(build(site_id, values), rt.uow(), context())
        emit(as_json, views.site_view(site), "participant")

    command.__doc__ = f"{name.capitalize().replace('-', ' ')} (SITE_ID then values)."


_site_update(
    "enable", lambda s, _v: admin.SetParticipantEnabled(s, True), admin.set_participant_enabled
)
_site_update(
    "disable", lambda s, _v: admin.SetParticipantEnabled(s, False), admin.set_participant_enabled
)
_site_update(
    "set-types", lambda s, v: admin.SetParticipantTypes(s, _types(v)), admin.set_participant_types
)
_site_update("set-domains", admin.SetDomainNames, admin.set_domain_names)
_site_update("set-app-names", admin.SetAppNames, admin.set_app_names)


# --- API keys and CSTG keypairs -----------------------------------------------------------------


def _roles(text: str) -> frozenset[admin.Role]:
    return admin.parse_roles(text.split(","))


@cli.group()
def apikey() -> None:
    """API keys (the key and its client secret are shown once, at creation)."""


@apikey.command("create")
@click.option("--site", "site_id", type=int, required=True, metavar="ID")
@click.option("--roles", required=True, metavar="R1,R2", help="GENERATOR,MAPPER,ID_READER,...")
@click.option("--name", default=None, metavar="N")
@db_option
@json_option
def apikey_create(
    site_id: int, roles: str, name: str | None, db: str | None, as_json: bool
) -> None:
    """Create an API key; prints the key and its secret once."""
    cmd = admin.CreateApiKey(site_id, _roles(roles), name)
    with runtime(db) as rt:
        created = admin.create_api_key(cmd, rt.uow(), context())
    data = views.created_api_key_view(created)
    emit(as_json, data, "API key (store the key and secret now: they are not shown again)")


@apikey.command("list")
@click.option("--site", "site_id", type=int, default=None, metavar="ID")
@db_option
@json_option
def apikey_list(site_id: int | None, db: str | None, as_json: bool) -> None:
    """List API keys (never their secrets)."""
    with runtime(db) as rt:
        keys = admin.list_api_keys(rt.reader(), site_id)
    emit_rows(as_json, [views.api_key_view(k) for k in keys], "API keys")


@apikey.command("rename")
@click.argument("key_id")
@click.argument("name")
@db_option
@json_option
def apikey_rename(key_id: str, name: str, db: str | None, as_json: bool) -> None:
    """Rename an API key."""
    with runtime(db) as rt:
        key = admin.rename_api_key(admin.RenameApiKey(key_id, name), rt.uow(), context())
    emit(as_json, views.api_key_view(key), "API key")


@apikey.command("roles")
@click.argument("key_id")
@click.option("--roles", required=True, metavar="R1,R2")
@db_option
@json_option
def apikey_roles(key_id: str, roles: str, db: str | None, as_json: bool) -> None:
    """Replace an API key's roles."""
    cmd = admin.SetApiKeyRoles(key_id, _roles(roles))
    with runtime(db) as rt:
        key = admin.set_api_key_roles(cmd, rt.uow(), context())
    emit(as_json, views.api_key_view(key), "API key")


@apikey.command("disable")
@click.argument("key_id")
@db_option
@json_option
def apikey_disable(key_id: str, db: str | None, as_json: bool) -> None:
    """Disable an API key (keys are never deleted)."""
    with runtime(db) as rt:
        key = admin.disable_api_key(admin.DisableApiKey(key_id), rt.uow(), context())
    emit(as_json, views.api_key_view(key), "API key")


@cli.group("cstg-key")
def cstg_key() -> None:
    """Client-side token generation keypairs."""


@cstg_key.command("create")
@click.option("--site", "site_id", type=int, required=True, metavar="ID")
@click.option("--name", default=None, metavar="N")
@db_option
@json_option
def cstg_key_create(site_id: int, name: str | None, db: str | None, as_json: bool) -> None:
    """Create a keypair; prints the subscription id and public key."""
    with runtime(db) as rt:
        cmd = admin.CreateCstgKeypair(site_id, name)
        created = admin.create_cstg_keypair(cmd, rt.uow(), context())
    data = views.created_cstg_keypair_view(created)
    emit(as_json, data, "CSTG keypair")


@cstg_key.command("disable")
@click.argument("subscription_id")
@db_option
@json_option
def cstg_key_disable(subscription_id: str, db: str | None, as_json: bool) -> None:
    """Disable a keypair."""
    with runtime(db) as rt:
        cmd = admin.DisableCstgKeypair(subscription_id)
        admin.disable_cstg_keypair(cmd, rt.uow(), context())
    emit(as_json, {"subscription_id": subscription_id, "disabled": True}, "CSTG keypair")


# --- sharing ------------------------------------------------------------------------------------


@cli.group()
def share() -> None:
    """Sharing permissions on a participant's keyset."""


def _share_command(name: str, grant: bool) -> None:
    @share.command(name)
    @click.option("--site", "site_id", type=int, required=True, metavar="ID")
    @click.option("--to", "to_site_id", type=int, default=None, metavar="SITE_ID")
    @click.option("--to-type", "to_type", default=None, metavar="TYPE")
    @db_option
    @json_option
    def command(
        site_id: int, to_site_id: int | None, to_type: str | None, db: str | None, as_json: bool
    ) -> None:
        parsed_type = None if to_type is None else admin.parse_type(to_type)
        cmd = admin.ChangeSharing(site_id, grant, to_site_id, parsed_type)
        with runtime(db) as rt:
            result = admin.change_sharing(cmd, rt.uow(), context())
        data = views.sharing_view(result)
        emit(as_json, data, f"sharing of site {site_id}")

    verb = "Grant" if grant else "Revoke"
    command.__doc__ = f"{verb} read access to a site or a participant type."


_share_command("grant", True)
_share_command("revoke", False)


# --- rotation and opt-outs ----------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Encryption keys (master, refresh and per-site keysets)."""


@keys.command("rotate")
@click.option("--force", is_flag=True, help="Rotate even keysets whose newest key is young.")
@db_option
@json_option
def keys_rotate(force: bool, db: str | None, as_json: bool) -> None:
    """Add a new key, activating ahead of use, to each keyset due for rotation."""
    with runtime(db) as rt:
        result = admin.rotate_keys(admin.RotateKeys(force), rt.uow(), context())
    if as_json:
        click.echo(json.dumps(views.key_rotation_view(result), sort_keys=True))
    else:
        rows = views.key_rotation_rows(result)
        emit_rows(False, rows, f"rotated {len(rows)} keysets")


@keys.command("list")
@db_option
@json_option
def keys_list(db: str | None, as_json: bool) -> None:
    """List keysets with their sharing ACL (types expanded) and key ids; never key material."""
    with runtime(db) as rt:
        listings = admin.list_keysets(rt.reader(), context())
    emit_rows(as_json, [views.keyset_view(listing) for listing in listings], "keysets")


@cli.group()
def salts() -> None:
    """Salt buckets."""


@salts.command("rotate")
@click.option("--fraction", type=float, default=DEFAULT_FRACTION, show_default=True)
@click.option("--force", is_flag=True, help="Rotate again on a day that already rotated.")
@db_option
@json_option
def salts_rotate(fraction: float, force: bool, db: str | None, as_json: bool) -> None:
    """Re-salt a fraction of the buckets, keeping their previous salt for 90 days."""
    with runtime(db) as rt:
        result = admin.rotate_salts(admin.RotateSalts(fraction, force), rt.uow(), context())
    data = views.salt_rotation_view(result)
    emit(as_json, data, "salt rotation")


@cli.group()
def optout() -> None:
    """Opt-out records."""


@optout.command("add")
@click.option("--email", default=None, metavar="E")
@click.option("--phone", default=None, metavar="P")
@db_option
@json_option
def optout_add(email: str | None, phone: str | None, db: str | None, as_json: bool) -> None:
    """Record that a person opted out (exactly one of --email or --phone)."""
    if (email is None) == (phone is None):
        raise admin.AdminError(admin.AdminErrorCode.BAD_ARGUMENT, "give --email or --phone")
    if email is not None:
        cmd = admin.RecordOptOut(IdentityType.Email, email)
    else:
        cmd = admin.RecordOptOut(IdentityType.Phone, phone or "")
    with runtime(db) as rt:
        recorded = admin.record_optout(cmd, rt.uow(), context())
    emit(as_json, {"seq": recorded.seq, "created": recorded.created_s}, "opt-out recorded")

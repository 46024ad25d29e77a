"""Keysets and encryption-key rotation.

Policy (after upstream admin's ``rotate_*`` endpoints, system.md §1.6, operator.md §4.4):

* A keyset is rotated only if its newest key activated at least ``min_age_s`` ago, unless
  forced. Rotation reads and writes under the store's writer lock, so two processes rotating
  at once add one key per keyset, not two.
* The new key activates ``activates_in_s`` ahead, so that operators and SDKs have fetched it
  before anything is encrypted with it. A keyset with no active key gets one that activates
  at once: there is nothing to keep using meanwhile.
* A key lives ``active_period_s`` (the longest expected gap between rotations) plus the
  longest token lifetime. When it is superseded, the expiry of every key that may encrypt
  until the new key activates (the active one, even if it is about to expire, and any
  pending one) is pushed to at least that activation plus the longest token lifetime, so
  every token they encrypted stays readable for that token's whole life, even if rotation
  ran late, and some key stays active until the new one takes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from uid2.admin.context import Context, journal
from uid2.store.records import (
    FALLBACK_PUBLISHER_KEYSET_ID,
    FALLBACK_PUBLISHER_SITE_ID,
    MASTER_KEYSET_ID,
    MASTER_SITE_ID,
    REFRESH_KEYSET_ID,
    REFRESH_SITE_ID,
    Keyset,
    KeysetKey,
    Site,
    StoreName,
)
from uid2.store.uow import SqlAlchemyUnitOfWork

KEY_SECRET_SIZE = 32
DAY_S = 86_400
SYSTEM_KEYSETS = (
    (MASTER_KEYSET_ID, MASTER_SITE_ID, "master"),
    (REFRESH_KEYSET_ID, REFRESH_SITE_ID, "refresh"),
    (FALLBACK_PUBLISHER_KEYSET_ID, FALLBACK_PUBLISHER_SITE_ID, "fallback publisher"),
)


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    activates_in_s: int = 3600  # one SDK key-refresh period
    min_age_s: int = DAY_S
    active_period_s: int = 30 * DAY_S
    # refresh tokens and sharing tokens both live 30 days in production (operator.md §3.9)
    longest_token_lifetime_s: int = 30 * DAY_S


@dataclass(frozen=True, slots=True)
class KeyPlan:
    activates_s: int
    expires_s: int
    extend: tuple[tuple[int, int], ...]  # (key id, new expiry) of the key being superseded


@dataclass(frozen=True, slots=True)
class RotateKeys:
    force: bool = False


@dataclass(frozen=True, slots=True)
class RotatedKey:
    keyset_id: int
    key_id: int
    activates_s: int
    expires_s: int


@dataclass(frozen=True, slots=True)
class KeyRotationResult:
    rotated: tuple[RotatedKey, ...]
    skipped_keyset_ids: tuple[int, ...]


def active_key_at(keys: Sequence[KeysetKey], at_s: int) -> KeysetKey | None:
    """The latest-activating unexpired key with ``activates <= at`` (operator.md §4.4)."""
    candidates = [k for k in keys if k.activates_s <= at_s < k.expires_s]
    return max(candidates, key=lambda k: (k.activates_s, k.key_id), default=None)


def plan_rotation(
    keys: Sequence[KeysetKey], now_s: int, policy: RotationPolicy, force: bool
) -> KeyPlan | None:
    """The key to add to a keyset now, or None if its newest key is still young."""
    has_active = active_key_at(keys, now_s) is not None
    pending = any(k.activates_s > now_s for k in keys)
    newest = max((k.activates_s for k in keys), default=None)
    young = newest is not None and newest > now_s - policy.min_age_s
    if not force and young and (has_active or pending):
        return None  # a keyset with nothing usable is rotated however young its keys are
    activates = now_s + policy.activates_in_s if has_active else now_s
    expires = activates + policy.active_period_s + policy.longest_token_lifetime_s
    must_last_until = activates + policy.longest_token_lifetime_s
    in_use = keys_in_use_until(keys, now_s, activates) if has_active else []
    extend = tuple((k.key_id, must_last_until) for k in in_use if k.expires_s < must_last_until)
    return KeyPlan(activates_s=activates, expires_s=expires, extend=extend)


def keys_in_use_until(keys: Sequence[KeysetKey], now_s: int, until_s: int) -> list[KeysetKey]:
    """The keys that may encrypt from now until ``until_s``: the active one, those due to
    activate meanwhile, and the one active just before ``until_s`` as the keys stand.

    The active one counts even when it would expire before ``until_s`` (a late rotation):
    its tokens must outlive it all the same, and extending it also keeps a key active until
    the new one takes over.
    """
    candidates = [active_key_at(keys, now_s), active_key_at(keys, until_s - 1)]
    candidates += [k for k in keys if now_s < k.activates_s < until_s]
    by_id = {k.key_id: k for k in candidates if k is not None}
    return [by_id[key_id] for key_id in sorted(by_id)]


def apply_plan(
    uow: SqlAlchemyUnitOfWork, ctx: Context, keyset_id: int, plan: KeyPlan
) -> RotatedKey:
    key = KeysetKey(
        key_id=uow.keyset_keys.next_id(),
        keyset_id=keyset_id,
        secret=ctx.entropy.token_bytes(KEY_SECRET_SIZE),
        created_s=ctx.now_s,
        activates_s=plan.activates_s,
        expires_s=plan.expires_s,
    )
    uow.keyset_keys.add(key)
    for key_id, expires_s in plan.extend:
        uow.keyset_keys.set_expires(key_id, expires_s)
    return RotatedKey(keyset_id, key.key_id, key.activates_s, key.expires_s)


def add_first_key(
    uow: SqlAlchemyUnitOfWork, ctx: Context, keyset_id: int, policy: RotationPolicy
) -> RotatedKey:
    plan = plan_rotation((), ctx.now_s, policy, force=True)
    assert plan is not None
    return apply_plan(uow, ctx, keyset_id, plan)


def ensure_system_keysets(
    uow: SqlAlchemyUnitOfWork, ctx: Context, policy: RotationPolicy
) -> list[int]:
    """Create the master, refresh and fallback-publisher keysets if missing; their ids."""
    created = []
    for keyset_id, site_id, name in SYSTEM_KEYSETS:
        if uow.keysets.get(keyset_id) is None:
            keyset = Keyset(
                keyset_id=keyset_id,
                site_id=site_id,
                name=name,
                allowed_sites=None,
                allowed_types=frozenset(),
                is_default=True,
                enabled=True,
                created_s=ctx.now_s,
            )
            uow.keysets.add(keyset)
            add_first_key(uow, ctx, keyset_id, policy)
            created.append(keyset_id)
    return created


def ensure_default_keyset(
    uow: SqlAlchemyUnitOfWork,
    ctx: Context,
    site: Site,
    *,
    open_acl: bool,
    policy: RotationPolicy | None = None,
) -> Keyset | None:
    """Create a site's default keyset and first key if it has none; the new keyset or None.

    ``open_acl`` gives upstream's ``allowed_sites = null`` (every ID_READER may decrypt: a
    publisher's default), otherwise an empty ACL (a sharer shares with nobody yet).
    """
    if uow.keysets.default_for_site(site.site_id) is not None:
        return None
    keyset = Keyset(
        keyset_id=uow.keysets.next_id(),
        site_id=site.site_id,
        name=site.name,
        allowed_sites=None if open_acl else frozenset(),
        allowed_types=frozenset(),
        is_default=True,
        enabled=True,
        created_s=ctx.now_s,
    )
    uow.keysets.add(keyset)
    add_first_key(uow, ctx, keyset.keyset_id, policy or RotationPolicy())
    return keyset


def rotate_keys(
    cmd: RotateKeys,
    uow: SqlAlchemyUnitOfWork,
    ctx: Context,
    policy: RotationPolicy | None = None,
) -> KeyRotationResult:
    """Rotate master (-1), refresh (-2) and every enabled site keyset, in one transaction."""
    policy = policy or RotationPolicy()
    with uow:
        rotated, skipped = [], []
        for keyset in uow.keysets.list_all():
            if not keyset.enabled:
                continue
            keys = uow.keyset_keys.list_all(keyset.keyset_id)
            plan = plan_rotation(keys, ctx.now_s, policy, cmd.force)
            if plan is None:
                skipped.append(keyset.keyset_id)
            else:
                rotated.append(apply_plan(uow, ctx, keyset.keyset_id, plan))
        if rotated:
            details = {"force": cmd.force, "keysets": [r.keyset_id for r in rotated]}
            journal(uow, ctx, "keys.rotate", "keysets", details, [StoreName.KEYSET_KEYS])
            uow.commit()
    return KeyRotationResult(tuple(rotated), tuple(skipped))

"""Key download: /v2/key/latest, /v2/key/sharing, /v2/key/bidstream (operator.md §1.13-§1.15, §4.5).

The bodies depend only on the snapshot and the caller's site and roles (keys are returned
whatever their activation), so each is built once per snapshot and caller, then reused.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from uid2.core.encoding import b64encode
from uid2.core.keys import MASTER_KEYSET_ID_FOR_SDKS, Key
from uid2.operator.errors import OperatorError
from uid2.operator.services.common import success_raw
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot
from uid2.store.records import LAST_RESERVED_SITE_ID, MASTER_KEYSET_ID, ApiKey, Role

_LIFETIME_TOLERANCE_SECONDS = 10  # SDKs compare lifetimes strictly (operator.md §11)


def accessible_keys(snapshot: Snapshot, site_id: int, allow_all: bool) -> tuple[Key, ...]:
    """The ACL of operator.md §4.5, memoised per snapshot."""
    return snapshot.memo(("acl", site_id, allow_all), lambda: _filter(snapshot, site_id, allow_all))


def _filter(snapshot: Snapshot, site_id: int, allow_all: bool) -> tuple[Key, ...]:
    result = []
    for key in snapshot.shareable_keys:
        keyset = snapshot.keysets[key.keyset_id or 0]
        if keyset.keyset_id == MASTER_KEYSET_ID:
            result.append(key)
        elif keyset.enabled and (
            keyset.site_id == site_id
            or (allow_all and keyset.allowed_sites is None)
            or (keyset.allowed_sites is not None and site_id in keyset.allowed_sites)
        ):
            result.append(key)
    return tuple(result)


def _key_json(key: Key) -> dict[str, object]:
    return {
        "id": key.key_id,
        "created": key.created,
        "activates": key.activates,
        "expires": key.expires,
        "secret": b64encode(key.secret),
    }


# ---------------------------------------------------------------------------- key/latest


def key_latest(snapshot: Snapshot, caller: ApiKey) -> bytes:
    if caller.site_id <= LAST_RESERVED_SITE_ID:
        raise OperatorError("invalid_client", 401, f"Unexpected client site id {caller.site_id}")
    return snapshot.memo(("latest", caller.site_id), lambda: _latest_body(snapshot, caller.site_id))


def _latest_body(snapshot: Snapshot, site_id: int) -> bytes:
    body = [_key_json(k) | {"site_id": k.site_id} for k in accessible_keys(snapshot, site_id, True)]
    return success_raw(orjson.dumps(body))


# ---------------------------------------------------------------------------- key/sharing


def key_sharing(snapshot: Snapshot, settings: Settings, caller: ApiKey) -> bytes:
    allow_all = Role.ID_READER in caller.roles
    sharer = Role.SHARER in caller.roles
    return snapshot.memo(
        ("sharing", settings, caller.site_id, allow_all, sharer),
        lambda: _sharing_body(snapshot, settings, caller.site_id, allow_all, sharer),
    )


def _sharing_body(
    snapshot: Snapshot, settings: Settings, site_id: int, allow_all: bool, sharer: bool
) -> bytes:
    keys = accessible_keys(snapshot, site_id, allow_all)
    body: dict[str, object] = {
        "caller_site_id": site_id,
        "master_keyset_id": MASTER_KEYSET_ID_FOR_SDKS,
    }
    default_keyset = snapshot.default_keysets.get(site_id)
    if default_keyset is not None:
        body["default_keyset_id"] = default_keyset
    body["token_expiry_seconds"] = str(settings.sharing_token_expiry_seconds)  # a string (§12)
    if sharer:
        body["max_sharing_lifetime_seconds"] = (
            settings.sharing_lifetime_seconds + _LIFETIME_TOLERANCE_SECONDS
        )
    body["identity_scope"] = snapshot.identity_scope.name
    body["allow_clock_skew_seconds"] = settings.allow_clock_skew_seconds
    body["keys"] = [_sharing_key_json(snapshot, key, site_id) for key in keys]
    if settings.client_side_token_generate:
        body["site_data"] = site_data(snapshot, settings, keys)
    return success_raw(orjson.dumps(body))


def _sharing_key_json(snapshot: Snapshot, key: Key, site_id: int) -> dict[str, object]:
    document = _key_json(key)
    if key.keyset_id == MASTER_KEYSET_ID:
        document["keyset_id"] = MASTER_KEYSET_ID_FOR_SDKS
    elif key.site_id == site_id:
        document["keyset_id"] = key.keyset_id
    return document


def site_data(
    snapshot: Snapshot, settings: Settings, keys: Iterable[Key]
) -> list[dict[str, object]]:
    """Sites owning returned keys, with their domain (and optionally app) names (§1.14)."""
    result: list[dict[str, object]] = []
    for site_id in sorted({key.site_id for key in keys}):
        site = snapshot.sites.get(site_id)
        if site is None:
            continue
        names = set(site.domain_names)
        if settings.key_sharing_provide_app_names:
            names.update(site.app_names)
        if names:
            result.append({"id": site_id, "domain_names": sorted(names)})
    return result


# ---------------------------------------------------------------------------- key/bidstream


def key_bidstream(snapshot: Snapshot, settings: Settings, caller: ApiKey) -> bytes:
    return snapshot.memo(
        ("bidstream", settings, caller.site_id),
        lambda: _bidstream_body(snapshot, settings, caller.site_id),
    )


def _bidstream_body(snapshot: Snapshot, settings: Settings, site_id: int) -> bytes:
    keys = accessible_keys(snapshot, site_id, True)
    body: dict[str, object] = {
        "max_bidstream_lifetime_seconds": (
            settings.bidstream_lifetime_seconds + _LIFETIME_TOLERANCE_SECONDS
        ),
        "identity_scope": snapshot.identity_scope.name,
        "allow_clock_skew_seconds": settings.allow_clock_skew_seconds,
        "keys": [_key_json(key) for key in keys],
    }
    if settings.client_side_token_generate:
        body["site_data"] = site_data(snapshot, settings, keys)
    return success_raw(orjson.dumps(body))

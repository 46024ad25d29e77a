"""JSON-ready views of use-case results: the shapes ``uid2 ... --json`` prints.

Kept here, not in the CLI, so that the portal's JSON API can answer with the same shapes.
Views never include a stored secret; only the ``created_*`` views carry what is shown once.
"""

from __future__ import annotations

from typing import Any

from uid2.admin.apikeys import CreatedApiKey
from uid2.admin.cstg import CreatedCstgKeypair
from uid2.admin.keys import KeyRotationResult
from uid2.admin.salts import SaltRotationResult
from uid2.admin.sharing import KeysetListing, SharingResult
from uid2.store.records import ApiKey, Site

View = dict[str, Any]


def site_view(site: Site) -> View:
    return {
        "site_id": site.site_id,
        "name": site.name,
        "types": sorted(t.value for t in site.types),
        "domain_names": list(site.domain_names),
        "app_names": list(site.app_names),
        "enabled": site.enabled,
    }


def api_key_view(key: ApiKey) -> View:
    return {
        "key_id": key.key_id,
        "site_id": key.site_id,
        "name": key.name,
        "roles": sorted(r.value for r in key.roles),
        "disabled": key.disabled,
    }


def created_api_key_view(created: CreatedApiKey) -> View:
    """Includes the key and its secret: shown once, at creation."""
    return {
        "key_id": created.key_id,
        "site_id": created.site_id,
        "name": created.name,
        "roles": sorted(r.value for r in created.roles),
        "key": created.key,
        "secret": created.secret,
    }


def created_cstg_keypair_view(created: CreatedCstgKeypair) -> View:
    return {
        "subscription_id": created.subscription_id,
        "site_id": created.site_id,
        "name": created.name,
        "public_key": created.public_key,
    }


def sharing_view(result: SharingResult) -> View:
    allowed = result.allowed_sites
    return {
        "keyset_id": result.keyset_id,
        "changed": result.changed,
        "allowed_sites": None if allowed is None else sorted(allowed),
        "allowed_types": sorted(t.value for t in result.allowed_types),
    }


def key_rotation_rows(result: KeyRotationResult) -> list[View]:
    return [
        {
            "keyset_id": r.keyset_id,
            "key_id": r.key_id,
            "activates": r.activates_s,
            "expires": r.expires_s,
        }
        for r in result.rotated
    ]


def key_rotation_view(result: KeyRotationResult) -> View:
    return {
        "rotated": key_rotation_rows(result),
        "skipped_keysets": list(result.skipped_keyset_ids),
    }


def salt_rotation_view(result: SaltRotationResult) -> View:
    return {
        "rotated": result.rotated,
        "bucket_count": result.bucket_count,
        "skipped_reason": result.skipped_reason,
    }


def keyset_view(listing: KeysetListing) -> View:
    keyset, allowed = listing.keyset, listing.effective_allowed_sites
    return {
        "keyset_id": keyset.keyset_id,
        "site_id": keyset.site_id,
        "enabled": keyset.enabled,
        "default": keyset.is_default,
        "allowed_sites": None if allowed is None else sorted(allowed),
        "allowed_types": sorted(t.value for t in keyset.allowed_types),
        "key_ids": list(listing.key_ids),
        "active_key_id": listing.active_key_id,
    }

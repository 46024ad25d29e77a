"""Client-side token generation, ``/v2/token/client-generate`` (operator.md §1.8, §7).

Checks run in the upstream order; every failure before decryption is a plain JSON error, a
success or opt-out is sealed with the ECDH shared secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit

import orjson

from uid2.admin.domains import registrable_domain
from uid2.core.cstg import CstgStatus, decrypt_cstg_request, seal_cstg_response
from uid2.core.dii import parse_hash_input
from uid2.core.enums import IdentityType
from uid2.core.tokens import PRIVACY_CSTG, PRIVACY_LEGACY
from uid2.operator.errors import OperatorError, client_error, unauthorized
from uid2.operator.services.common import (
    INVALID_IDENTIFIER,
    OPTOUT,
    IdentitySpec,
    RandomBytes,
    flh_of,
    issue_identity,
    opted_out_for_generate,
    success,
)
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot
from uid2.store.records import CstgKeypair, Site

_GCM_IV_SIZE = 12


def client_generate(
    snapshot: Snapshot,
    settings: Settings,
    body: bytes,
    origin: str | None,
    now_ms: int,
    random: RandomBytes,
) -> str:
    """The base64 body of a 200 answer; raises :class:`OperatorError` otherwise."""
    request = _parse_body(body)
    keypair = _keypair(snapshot, request.get("subscription_id"))
    if settings.cstg_domain_name_check:
        _check_origin_or_app(snapshot.sites.get(keypair.site_id), request, origin)
    private_key = snapshot.cstg_private_key(keypair)
    if private_key is None:
        raise OperatorError("unknown", 500, "client-side keypair is unusable")
    decrypted = decrypt_cstg_request(private_key, request)
    if isinstance(decrypted, CstgStatus):
        raise client_error(decrypted.value)
    identity_type, dii_hash = _identity(decrypted.identity, settings)
    flh = flh_of(snapshot, dii_hash)
    if opted_out_for_generate(snapshot, identity_type, flh):
        answer = OPTOUT
    else:
        bits = PRIVACY_LEGACY | PRIVACY_CSTG
        spec = IdentitySpec(keypair.site_id, identity_type, flh, bits, now_ms)
        answer = success(issue_identity(snapshot, settings, spec, now_ms, random))
    return seal_cstg_response(decrypted.shared_secret, answer, iv=random(_GCM_IV_SIZE))


def _parse_body(body: bytes) -> dict[str, object]:
    if not body.strip():
        raise client_error("json payload expected but not found")
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        request = _lenient_json(body)  # huge integers, lone surrogates, invalid UTF-8
    if not isinstance(request, dict):
        raise client_error("json payload expected but not found")
    return request


def _lenient_json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        raise client_error("json payload is not valid") from None


def _keypair(snapshot: Snapshot, subscription_id: object) -> CstgKeypair:
    keypair = (
        snapshot.cstg_keypairs.get(subscription_id) if isinstance(subscription_id, str) else None
    )
    if keypair is None:
        raise client_error("bad subscription_id")
    if keypair.disabled:
        raise unauthorized("Unauthorized")
    return keypair


def _check_origin_or_app(
    site: Site | None, request: Mapping[str, object], origin: str | None
) -> None:
    app_name = request.get("app_name")
    if app_name is not None:
        names = () if site is None else site.app_names
        if not isinstance(app_name, str) or app_name.lower() not in {n.lower() for n in names}:
            raise OperatorError("invalid_app_name", 403, "unexpected app name")
        return
    domains = () if site is None else site.domain_names
    if not origin_allowed(origin, domains):
        raise OperatorError("invalid_http_origin", 403, "unexpected http origin")


def origin_allowed(origin: str | None, domain_names: tuple[str, ...]) -> bool:
    """True if the Origin's registrable domain is one of the site's (operator.md §7.3).

    The host is reduced with the Public Suffix List, private entries included, as upstream's
    Guava ``topPrivateDomain``; ``localhost`` and ``*.localhost`` reduce to ``localhost``.
    """
    host = _origin_host(origin)
    root = None if host is None else registrable_domain(host)
    return root is not None and root in {d.lower() for d in domain_names}


def _origin_host(origin: str | None) -> str | None:
    """The host of an ``Origin`` header; None if it is not a URL with a scheme and host."""
    if not origin:
        return None
    try:
        parts = urlsplit(origin.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    return parts.hostname if parts.scheme and parts.hostname else None


def _identity(identity: Mapping[str, object], settings: Settings) -> tuple[IdentityType, bytes]:
    email_hash, phone_hash = identity.get("email_hash"), identity.get("phone_hash")
    if phone_hash is not None and not settings.enable_phone_support:
        raise client_error("phone support not enabled")
    if (email_hash is None) == (phone_hash is None):
        if settings.enable_phone_support:
            raise client_error("please provide exactly one of: email_hash, phone_hash")
        raise client_error("please provide email_hash")
    value = email_hash if email_hash is not None else phone_hash
    dii_hash = parse_hash_input(value) if isinstance(value, str) else None
    if dii_hash is None:
        raise client_error(INVALID_IDENTIFIER)
    kind = IdentityType.Email if email_hash is not None else IdentityType.Phone
    return kind, dii_hash

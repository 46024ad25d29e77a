"""Token generate, validate, refresh and logout (operator.md §1.5-§1.7, §1.9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from uid2.core.enums import DecryptionStatus, IdentityScope
from uid2.core.refresh import (
    WRAPPED_REFRESH_TOKEN_LENGTH,
    RefreshTokenFields,
    WrapperRejection,
    decode_refresh_token,
    unwrap_refresh_token,
)
from uid2.core.tokens import PRIVACY_LEGACY, decode_token_fields
from uid2.operator.errors import OperatorError, client_error, invalid_token
from uid2.operator.services.common import (
    INSUFFICIENT_CONSENT,
    OPTOUT,
    SUCCESS_FALSE,
    SUCCESS_TRUE,
    IdentitySpec,
    RandomBytes,
    current_raw_uid,
    find_identity,
    flh_of,
    issue_identity,
    opted_out_for_generate,
    opted_out_for_refresh,
    require_identity,
    success,
)
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot
from uid2.operator.tcf import TcfError, has_sufficient_consent

# Tokens established before this are "deprecated" and answered as opted out (operator.md §1.6).
DEPRECATION_CUTOFF_MS = 1_615_222_800_000  # 2021-03-08T17:00:00Z
_INVALID_TOKEN = "Invalid token"


class OptOutSink(Protocol):
    """Where /v2/token/logout records an opt-out (the store, or an opt-out service)."""

    def record(self, first_level_hash: bytes, raw_uid: bytes, now_ms: int) -> None: ...


# ---------------------------------------------------------------------------- generate


def generate(
    snapshot: Snapshot,
    settings: Settings,
    site_id: int,
    request: Mapping[str, object] | None,
    now_ms: int,
    random: RandomBytes,
) -> bytes:
    identity = require_identity(request, settings)
    assert identity.dii_hash is not None and request is not None
    if snapshot.identity_scope is IdentityScope.EUID and not _consents(request, settings):
        return INSUFFICIENT_CONSENT
    flh = flh_of(snapshot, identity.dii_hash)
    if opted_out_for_generate(snapshot, identity.identity_type, flh):
        return OPTOUT
    spec = IdentitySpec(site_id, identity.identity_type, flh, PRIVACY_LEGACY, now_ms)
    issued = issue_identity(snapshot, settings, spec, now_ms, random)
    return success(issued)


def _consents(request: Mapping[str, object], settings: Settings) -> bool:
    """EUID only: a missing TCF string is allowed, an unreadable one is a 400 (§1.5)."""
    text = request.get("tcf_consent_string")
    if text is None:
        return True
    if not isinstance(text, str):
        raise client_error("User consent is invalid")
    try:
        return has_sufficient_consent(text, settings.tcf_vendor_id)
    except TcfError:
        raise client_error("User consent is invalid") from None


# ---------------------------------------------------------------------------- validate


def validate(
    snapshot: Snapshot,
    settings: Settings,
    site_id: int,
    request: Mapping[str, object] | None,
    now_ms: int,
) -> bytes:
    identity = require_identity(request, settings)
    assert identity.dii_hash is not None and request is not None
    flh = flh_of(snapshot, identity.dii_hash)
    expected = current_raw_uid(snapshot, settings, flh, identity.identity_type)
    fields = decode_token_fields(request.get("token"), snapshot.keyring)
    if isinstance(fields, DecryptionStatus):
        raise client_error(_INVALID_TOKEN)
    site_key = snapshot.keyring.get(fields.site_key_id)
    # The site that owns the token's site key, not the site id written inside it (§1.7).
    if site_key is None or site_key.site_id != site_id:
        raise client_error("Unauthorised to validate token")
    return SUCCESS_TRUE if fields.raw_uid == expected else SUCCESS_FALSE


# ---------------------------------------------------------------------------- refresh


@dataclass(frozen=True, slots=True)
class RefreshAnswer:
    json: bytes  # {"status":...} to send
    response_key: bytes | None  # encrypt with this; None: legacy token, send plain JSON


def refresh(
    snapshot: Snapshot,
    settings: Settings,
    body: bytes,
    *,
    authenticated: bool,
    now_ms: int,
    random: RandomBytes,
) -> RefreshAnswer:
    """operator.md §1.6: a 388-char body is the v2 wrapper, anything else a legacy token."""
    response_key: bytes | None = None
    inner: str | bytes = body.strip()
    if len(inner) == WRAPPED_REFRESH_TOKEN_LENGTH:
        unwrapped = unwrap_refresh_token(inner, snapshot.keyring.get)
        if isinstance(unwrapped, WrapperRejection):
            raise client_error(unwrapped.message)
        inner, response_key = unwrapped.inner, unwrapped.refresh_response_key
    token = decode_refresh_token(inner, snapshot.keyring.get)
    if not isinstance(token, RefreshTokenFields) or token.scope != snapshot.identity_scope:
        raise _refresh_failure(authenticated, expired=False)
    if token.established_ms < DEPRECATION_CUTOFF_MS:
        return RefreshAnswer(OPTOUT, response_key)
    if token.expires_ms < now_ms:
        raise _refresh_failure(authenticated, expired=True)
    if opted_out_for_refresh(snapshot, token.identity_type, token.first_level_hash):
        return RefreshAnswer(OPTOUT, response_key)
    spec = IdentitySpec(
        token.site_id,
        token.identity_type,
        token.first_level_hash,
        token.privacy_bits,
        token.established_ms,
    )
    issued = issue_identity(snapshot, settings, spec, now_ms, random)
    return RefreshAnswer(success(issued), response_key)


def _refresh_failure(authenticated: bool, *, expired: bool) -> OperatorError:
    if not authenticated:
        return OperatorError("error", 400, "Error refreshing token")
    if expired:
        return OperatorError("expired_token", 400, "Expired Token presented")
    return invalid_token()


# ---------------------------------------------------------------------------- logout


def logout_target(
    snapshot: Snapshot, settings: Settings, request: Mapping[str, object] | None
) -> tuple[bytes, bytes]:
    """(first-level hash, current raw UID) to opt out; 400 invalid_token for bad input (§1.9)."""
    identity = find_identity(request, settings)
    if identity is None:
        raise invalid_token("Invalid Token presented")
    if identity.dii_hash is None:
        shown = identity.value if isinstance(identity.value, str) else ""
        raise invalid_token(f"Invalid Token presented {shown}".rstrip())
    flh = flh_of(snapshot, identity.dii_hash)
    return flh, current_raw_uid(snapshot, settings, flh, identity.identity_type)


LOGOUT_OK = success({"optout": "OK"})

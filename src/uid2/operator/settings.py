"""Operator settings, read once from ``UID2_OPERATOR_*`` (style-anchors §7 rule 13).

Defaults are the upstream production values (operator.md §3.9, §8.1), except that client-side
token generation is on: a self-hosted operator is usually its publishers' only one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from uid2.core.enums import IdentityEnvironment, IdentityScope
from uid2.core.refresh import TokenLifetimes

ENV_PREFIX = "UID2_OPERATOR_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A bad setting; the message names the environment variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    identity_scope: IdentityScope = IdentityScope.UID2
    identity_environment: IdentityEnvironment = IdentityEnvironment.PROD
    # raw UID v3 (33 bytes, scope/type byte first) instead of v2; None: EUID yes, UID2 no
    raw_uid_v3: bool | None = None
    identity_token_expires_after_seconds: int = 259_200
    refresh_token_expires_after_seconds: int = 2_592_000
    refresh_identity_token_after_seconds: int = 3_600
    sharing_token_expiry_seconds: int = 2_592_000
    max_sharing_lifetime_seconds: int | None = None  # default: sharing_token_expiry_seconds
    max_bidstream_lifetime_seconds: int | None = None  # default: the identity lifetime
    allow_clock_skew_seconds: int = 1800
    enable_phone_support: bool = True
    tcf_vendor_id: int = 21
    client_side_token_generate: bool = True
    cstg_domain_name_check: bool = True
    key_sharing_provide_app_names: bool = False
    optout_status_api_enabled: bool = True
    optout_status_max_request_size: int = 5000
    max_body_bytes: int = 1 << 20
    poll_interval_seconds: float = 1.0
    stale_after_seconds: float = 600.0  # healthcheck turns 503 past this age without a reload
    api_key_cache_size: int = 100_000
    enable_noop_endpoint: bool = False  # /ops/noop, for benchmarks only

    def __post_init__(self) -> None:
        self.lifetimes()  # validates refresh >= identity >= refresh_from
        if self.bidstream_lifetime_seconds < self.identity_token_expires_after_seconds:
            raise SettingsError(
                f"{ENV_PREFIX}MAX_BIDSTREAM_LIFETIME_SECONDS must be >= the identity lifetime"
            )

    def lifetimes(self) -> TokenLifetimes:
        try:
            return TokenLifetimes(
                identity_seconds=self.identity_token_expires_after_seconds,
                refresh_seconds=self.refresh_token_expires_after_seconds,
                refresh_from_seconds=self.refresh_identity_token_after_seconds,
            )
        except ValueError as exc:
            raise SettingsError(f"{ENV_PREFIX}*_SECONDS: {exc}") from None

    @property
    def uses_raw_uid_v3(self) -> bool:
        if self.raw_uid_v3 is None:
            return self.identity_scope is IdentityScope.EUID
        return self.raw_uid_v3

    @property
    def bidstream_lifetime_seconds(self) -> int:
        if self.max_bidstream_lifetime_seconds is None:
            return self.identity_token_expires_after_seconds
        return self.max_bidstream_lifetime_seconds

    @property
    def sharing_lifetime_seconds(self) -> int:
        if self.max_sharing_lifetime_seconds is None:
            return self.sharing_token_expiry_seconds
        return self.max_sharing_lifetime_seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """``UID2_OPERATOR_<FIELD>`` for every field; unknown variables are ignored."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            text = environ.get(name)
            if text is not None and text.strip() != "":
                values[f.name] = _parse(name, str(f.type), text.strip())
        return cls(**values)


def _parse(name: str, type_name: str, text: str) -> object:
    try:
        if "IdentityScope" in type_name:
            return IdentityScope[text.upper()]
        if "IdentityEnvironment" in type_name:
            return IdentityEnvironment[text.upper()]
        if type_name.startswith("bool"):
            return _parse_bool(name, text)
        if type_name.startswith("int"):
            return int(text)
        if type_name.startswith("float"):
            return float(text)
    except (KeyError, ValueError):
        raise SettingsError(f"{name}: cannot parse {text!r}") from None
    return text


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{name}: expected true or false, got {text!r}")

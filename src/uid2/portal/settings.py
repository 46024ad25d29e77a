"""Portal settings, read from ``UID2_PORTAL_*`` (only here and in :mod:`.app`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A ``UID2_PORTAL_*`` variable holds a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class PortalSettings:
    # Secure cookies are only sent over HTTPS (browsers also accept them on http://localhost).
    secure_cookies: bool = True
    # Development: one-time links are logged as well as shown to whoever asked for them.
    dev_mode: bool = False
    session_lifetime_minutes: int = 12 * 60
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Per client address: sign-in and link attempts allowed per minute.
    login_attempts_per_minute: int = 20
    # Per client address: consumer opt-out form posts (each of its two steps) allowed per minute.
    optout_attempts_per_minute: int = 10
    # Where links point; default: the scheme and host of the request that made them.
    public_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PortalSettings:
        def flag(name: str, default: bool) -> bool:
            value = environ.get(name, "").strip().lower()
            if not value:
                return default
            if value in TRUE | FALSE:
                return value in TRUE
            raise SettingsError(f"{name} must be true or false")

        def number(name: str, default: int) -> int:
            value = environ.get(name, "").strip()
            if not value:
                return default
            if not value.isdigit() or int(value) < 1:
                raise SettingsError(f"{name} must be a positive whole number")
            return int(value)

        return cls(
            secure_cookies=flag("UID2_PORTAL_SECURE_COOKIES", True),
            dev_mode=flag("UID2_PORTAL_DEV", False),
            session_lifetime_minutes=number("UID2_PORTAL_SESSION_MINUTES", 12 * 60),
            max_failed_logins=number("UID2_PORTAL_MAX_FAILED_LOGINS", 5),
            lockout_minutes=number("UID2_PORTAL_LOCKOUT_MINUTES", 15),
            login_attempts_per_minute=number("UID2_PORTAL_LOGIN_ATTEMPTS_PER_MINUTE", 20),
            optout_attempts_per_minute=number("UID2_PORTAL_OPTOUT_ATTEMPTS_PER_MINUTE", 10),
            public_url=environ.get("UID2_PORTAL_PUBLIC_URL", "").strip().rstrip("/") or None,
        )

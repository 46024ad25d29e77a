"""Signing in and out, sessions, and one-time links (invites and password resets)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import uid2.admin.accounts as accounts
import uid2.admin.sessions as sessions
from uid2.portal.errors import PortalError
from uid2.portal.runtime import Principal, Runtime, mapped_errors
from uid2.portal.settings import PortalSettings

_CSRF_LABEL = b"uid2-portal-csrf"


def csrf_for_session(session_token: str) -> str:
    """The session's CSRF token: derived from the secret cookie, so it needs no storage."""
    key = session_token.encode("utf-8")
    return hmac.new(key, _CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    token: str
    csrf_token: str
    expires_ms: int


class AccountService:
    def __init__(self, runtime: Runtime, settings: PortalSettings) -> None:
        self._rt = runtime
        self._policy = sessions.LoginPolicy(
            max_failures=settings.max_failed_logins,
            lockout_ms=settings.lockout_minutes * sessions.MS_PER_MINUTE,
            session_lifetime_ms=settings.session_lifetime_minutes * sessions.MS_PER_MINUTE,
        )

    def log_in(self, email: str, password: str) -> Session:
        cmd = sessions.LogIn(email, password)
        with mapped_errors():
            ctx = self._rt.context(f"portal:{email.strip().lower()}"[:255])
            logged_in = sessions.log_in(cmd, self._rt.uow(), ctx, self._policy)
        session = self.session(logged_in.session_token)
        if session is None:  # the user was disabled in between
            raise PortalError(401, "invalid email or password")
        return session

    def session(self, token: str) -> Session | None:
        with mapped_errors():
            found = sessions.signed_in(token, self._rt.reader(), self._rt.clock_ms())
        if found is None:
            return None
        roles = {m.site_id: m.role for m in found.memberships}
        principal = Principal(found.user, roles)
        return Session(principal, token, csrf_for_session(token), found.expires_ms)

    def log_out(self, token: str) -> None:
        with mapped_errors():
            sessions.log_out(token, self._rt.uow())

    def redeem_link(self, link_token: str, password: str) -> None:
        cmd = accounts.SetPasswordWithLink(link_token, password)
        with mapped_errors():
            accounts.set_password_with_link(cmd, self._rt.uow(), self._rt.context("portal:link"))

    def link_is_open(self, link_token: str) -> bool:
        with mapped_errors():
            return accounts.link_is_open(link_token, self._rt.reader(), self._rt.clock_ms())

    def request_reset(self, email: str) -> str | None:
        """A reset link token for ``email``, or None; callers never tell which (no mail)."""
        with mapped_errors():
            ctx = self._rt.context("portal:reset")
            return accounts.reset_link_for_email(email, self._rt.uow(), ctx)

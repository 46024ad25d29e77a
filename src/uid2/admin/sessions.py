"""Portal sign-in: password check with lockout, and sessions.

After ``max_failures`` wrong passwords in a row an account is locked for ``lockout_ms``; the
count resets on success. A session is a random token held in the browser's cookie; the store
keeps its SHA-256 and an absolute expiry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from uid2.admin.accounts import LINK_TOKEN_BYTES, token_hash
from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.passwords import verify_password
from uid2.core.encoding import b64url_encode
from uid2.store.records import Membership, PortalSession, PortalUser
from uid2.store.uow import SqlAlchemyUnitOfWork

MS_PER_MINUTE = 60_000


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 5
    lockout_ms: int = 15 * MS_PER_MINUTE
    session_lifetime_ms: int = 12 * 60 * MS_PER_MINUTE


@dataclass(frozen=True, slots=True)
class LogIn:
    email: str
    password: str


@dataclass(frozen=True, slots=True)
class LoggedIn:
    session_token: str  # for the cookie; never stored
    user: PortalUser
    expires_ms: int


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session belongs to, read once per request."""

    user: PortalUser
    memberships: tuple[Membership, ...]
    expires_ms: int


_BAD_CREDENTIALS = "invalid email or password"


def _locked_message(user: PortalUser, now_ms: int) -> str:
    minutes = max(1, -(-(user.locked_until_ms - now_ms) // MS_PER_MINUTE))
    return f"too many failed sign-ins: try again in {minutes} minute(s) or reset your password"


def log_in(
    cmd: LogIn, uow: SqlAlchemyUnitOfWork, ctx: Context, policy: LoginPolicy = LoginPolicy()
) -> LoggedIn:
    with uow:
        user = uow.users.get_by_email(cmd.email.strip().lower())
        matches = verify_password(None if user is None else user.password_hash, cmd.password)
        if user is None or user.disabled:
            raise AdminError(AdminErrorCode.BAD_CREDENTIALS, _BAD_CREDENTIALS)
        if user.locked_until_ms > ctx.now_ms:
            raise AdminError(AdminErrorCode.LOCKED_OUT, _locked_message(user, ctx.now_ms))
        if not matches:
            _record_failure(uow, ctx, user, policy)
            uow.commit()
            raise AdminError(AdminErrorCode.BAD_CREDENTIALS, _BAD_CREDENTIALS)
        user = replace(user, failed_logins=0, locked_until_ms=0)
        uow.users.save(user)
        token = b64url_encode(ctx.entropy.token_bytes(LINK_TOKEN_BYTES))
        expires_ms = ctx.now_ms + policy.session_lifetime_ms
        uow.sessions.delete_expired(ctx.now_ms)
        uow.sessions.add(PortalSession(token_hash(token), user.user_id, ctx.now_ms, expires_ms))
        uow.commit()
    return LoggedIn(token, user, expires_ms)


def _record_failure(
    uow: SqlAlchemyUnitOfWork, ctx: Context, user: PortalUser, policy: LoginPolicy
) -> None:
    failures = user.failed_logins + 1
    if failures < policy.max_failures:
        uow.users.save(replace(user, failed_logins=failures))
        return
    uow.users.save(replace(user, failed_logins=0, locked_until_ms=ctx.now_ms + policy.lockout_ms))
    details = {"failures": failures, "locked_for_s": policy.lockout_ms // 1000}
    journal(uow, ctx, "user.locked", f"user:{user.user_id}", details, [])


def signed_in(session_token: str, uow: SqlAlchemyUnitOfWork, now_ms: int) -> SignedIn | None:
    """The user behind a live session, or None (unknown, expired, or the user is disabled)."""
    with uow:
        session = uow.sessions.get(token_hash(session_token))
        if session is None or session.expires_ms <= now_ms:
            return None
        user = uow.users.get(session.user_id)
        if user is None or user.disabled:
            return None
        memberships = tuple(uow.memberships.list_for_user(user.user_id))
    return SignedIn(user, memberships, session.expires_ms)


def log_out(session_token: str, uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.sessions.delete(token_hash(session_token))
        uow.commit()

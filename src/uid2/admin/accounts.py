"""Portal accounts: users, participant memberships, invitations and password links.

An invited user has no password until they open their one-time link; a link is a random token
of which only the SHA-256 is stored. No mail server is involved: whoever creates a link gets it
back and hands it over. Guards follow portal-and-sharing §2.2: nobody removes or demotes
themselves, and a participant always keeps one Admin.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.lookups import MAX_ROW_ID, require_site
from uid2.admin.passwords import check_password_rules, hash_password
from uid2.core.encoding import b64url_encode
from uid2.store.records import (
    MemberRole,
    Membership,
    OneTimeToken,
    PortalUser,
    TokenPurpose,
)
from uid2.store.uow import SqlAlchemyUnitOfWork

LINK_TOKEN_BYTES = 32
INVITE_LIFETIME_MS = 7 * 86_400_000
RESET_LIFETIME_MS = 3_600_000
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]{1,64}@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+$")
_LIFETIMES = {TokenPurpose.INVITE: INVITE_LIFETIME_MS, TokenPurpose.RESET: RESET_LIFETIME_MS}


@dataclass(frozen=True, slots=True)
class CreateUser:
    email: str
    password: str | None  # None: the user sets it through a link
    platform_admin: bool = False


@dataclass(frozen=True, slots=True)
class InviteMember:
    site_id: int
    email: str
    role: MemberRole


@dataclass(frozen=True, slots=True)
class Invitation:
    user: PortalUser
    link_token: str | None  # None when the user already has a password
    new_user: bool


@dataclass(frozen=True, slots=True)
class ChangeMemberRole:
    site_id: int
    user_id: int
    role: MemberRole
    acting_user_id: int | None


@dataclass(frozen=True, slots=True)
class RemoveMember:
    site_id: int
    user_id: int
    acting_user_id: int | None


@dataclass(frozen=True, slots=True)
class IssuePasswordLink:
    user_id: int
    purpose: TokenPurpose


@dataclass(frozen=True, slots=True)
class SetPasswordWithLink:
    link_token: str
    password: str


@dataclass(frozen=True, slots=True)
class SetUserDisabled:
    user_id: int
    disabled: bool
    acting_user_id: int | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_email(text: str) -> str:
    email = text.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not email.isprintable() or not _EMAIL.match(email):
        raise AdminError(AdminErrorCode.BAD_EMAIL, "enter an email address like name@example.com")
    return email


def require_user(uow: SqlAlchemyUnitOfWork, user_id: int) -> PortalUser:
    user = uow.users.get(user_id) if 0 < user_id <= MAX_ROW_ID else None
    if user is None:
        raise AdminError(AdminErrorCode.UNKNOWN_USER, f"unknown user {user_id}")
    return user


def _new_user(uow: SqlAlchemyUnitOfWork, ctx: Context, email: str, **fields: object) -> PortalUser:
    if uow.users.get_by_email(email) is not None:
        raise AdminError(AdminErrorCode.DUPLICATE_NAME, f"a user with email {email!r} exists")
    user = PortalUser(0, email, None, False, False, 0, 0, ctx.now_ms)
    user = replace(user, **fields)  # type: ignore[arg-type]
    return replace(user, user_id=uow.users.add(user))


def create_user(cmd: CreateUser, uow: SqlAlchemyUnitOfWork, ctx: Context) -> PortalUser:
    email = parse_email(cmd.email)
    password_hash = None
    if cmd.password is not None:
        check_password_rules(cmd.password)
        password_hash = hash_password(cmd.password)
    with uow:
        user = _new_user(
            uow, ctx, email, password_hash=password_hash, platform_admin=cmd.platform_admin
        )
        details = {"email": email, "platform_admin": cmd.platform_admin}
        journal(uow, ctx, "user.create", f"user:{user.user_id}", details, [])
        uow.commit()
    return user


def _issue_link(
    uow: SqlAlchemyUnitOfWork, ctx: Context, user: PortalUser, purpose: TokenPurpose
) -> str:
    uow.one_time_tokens.use_all_for_user(user.user_id)
    token = b64url_encode(ctx.entropy.token_bytes(LINK_TOKEN_BYTES))
    expires_ms = ctx.now_ms + _LIFETIMES[purpose]
    record = OneTimeToken(token_hash(token), user.user_id, purpose, ctx.now_ms, expires_ms, False)
    uow.one_time_tokens.add(record)
    return token


def invite_member(cmd: InviteMember, uow: SqlAlchemyUnitOfWork, ctx: Context) -> Invitation:
    email = parse_email(cmd.email)
    with uow:
        require_site(uow, cmd.site_id)
        user = uow.users.get_by_email(email)
        new_user = user is None
        if user is None:
            user = _new_user(uow, ctx, email)
        elif uow.memberships.get(user.user_id, cmd.site_id) is not None:
            raise AdminError(AdminErrorCode.ALREADY_MEMBER, f"{email} is already a team member")
        uow.memberships.set(Membership(user.user_id, cmd.site_id, cmd.role))
        token = _issue_link(uow, ctx, user, TokenPurpose.INVITE) if user.pending else None
        details = {"email": email, "role": cmd.role.value}
        target = f"user:{user.user_id}"
        journal(uow, ctx, "team.invite", target, details, [], site_id=cmd.site_id)
        uow.commit()
    return Invitation(user, token, new_user)


def issue_password_link(cmd: IssuePasswordLink, uow: SqlAlchemyUnitOfWork, ctx: Context) -> str:
    """A new invite (for a pending user) or reset link; older links of the user stop working."""
    with uow:
        user = require_user(uow, cmd.user_id)
        if cmd.purpose is TokenPurpose.INVITE and not user.pending:
            raise AdminError(AdminErrorCode.NOT_ALLOWED, "this user has already set a password")
        token = _issue_link(uow, ctx, user, cmd.purpose)
        target = f"user:{user.user_id}"
        journal(uow, ctx, f"user.link.{cmd.purpose.value}", target, {}, [])
        uow.commit()
    return token


def reset_link_for_email(email: str, uow: SqlAlchemyUnitOfWork, ctx: Context) -> str | None:
    """A reset link for ``email``, or None when no usable account has it."""
    with uow:
        user = uow.users.get_by_email(email.strip().lower())
        if user is None or user.disabled:
            return None
        user_id = user.user_id
    return issue_password_link(IssuePasswordLink(user_id, TokenPurpose.RESET), uow, ctx)


def set_password_with_link(
    cmd: SetPasswordWithLink, uow: SqlAlchemyUnitOfWork, ctx: Context
) -> PortalUser:
    """Spends the link, sets the password, clears any lockout and ends every session."""
    check_password_rules(cmd.password)
    password_hash = hash_password(cmd.password)
    with uow:
        link = uow.one_time_tokens.get(token_hash(cmd.link_token))
        if link is None or link.used or link.expires_ms <= ctx.now_ms:
            raise AdminError(
                AdminErrorCode.BAD_LINK, "this link is invalid, used or expired: ask for a new one"
            )
        user = replace(
            require_user(uow, link.user_id),
            password_hash=password_hash,
            failed_logins=0,
            locked_until_ms=0,
        )
        uow.users.save(user)
        uow.one_time_tokens.use_all_for_user(user.user_id)
        uow.sessions.delete_for_user(user.user_id)
        action = f"user.password.{link.purpose.value}"
        journal(uow, ctx, action, f"user:{user.user_id}", {}, [])
        uow.commit()
    return user


def _admins_of(uow: SqlAlchemyUnitOfWork, site_id: int) -> set[int]:
    members = uow.memberships.list_for_site(site_id)
    return {m.user_id for m in members if m.role is MemberRole.ADMIN}


def _require_member(uow: SqlAlchemyUnitOfWork, site_id: int, user_id: int) -> Membership:
    require_site(uow, site_id)
    membership = uow.memberships.get(require_user(uow, user_id).user_id, site_id)
    if membership is None:
        raise AdminError(AdminErrorCode.UNKNOWN_USER, f"user {user_id} is not a team member")
    return membership


def _refuse(message: str) -> AdminError:
    return AdminError(AdminErrorCode.NOT_ALLOWED, message)


def change_member_role(cmd: ChangeMemberRole, uow: SqlAlchemyUnitOfWork, ctx: Context) -> None:
    with uow:
        current = _require_member(uow, cmd.site_id, cmd.user_id)
        demoting = current.role is MemberRole.ADMIN and cmd.role is not MemberRole.ADMIN
        if demoting and cmd.user_id == cmd.acting_user_id:
            raise _refuse("you cannot drop your own Admin role")
        if demoting and _admins_of(uow, cmd.site_id) == {cmd.user_id}:
            raise _refuse("a participant must keep at least one Admin")
        uow.memberships.set(replace(current, role=cmd.role))
        details = {"role": cmd.role.value}
        target = f"user:{cmd.user_id}"
        journal(uow, ctx, "team.set_role", target, details, [], site_id=cmd.site_id)
        uow.commit()


def remove_member(cmd: RemoveMember, uow: SqlAlchemyUnitOfWork, ctx: Context) -> None:
    with uow:
        current = _require_member(uow, cmd.site_id, cmd.user_id)
        if cmd.user_id == cmd.acting_user_id:
            raise _refuse("you cannot remove yourself")
        if current.role is MemberRole.ADMIN and _admins_of(uow, cmd.site_id) == {cmd.user_id}:
            raise _refuse("a participant must keep at least one Admin")
        uow.memberships.remove(cmd.user_id, cmd.site_id)
        user = require_user(uow, cmd.user_id)
        details = {"email": user.email}
        target = f"user:{cmd.user_id}"
        journal(uow, ctx, "team.remove", target, details, [], site_id=cmd.site_id)
        uow.commit()


def set_user_disabled(cmd: SetUserDisabled, uow: SqlAlchemyUnitOfWork, ctx: Context) -> None:
    with uow:
        if cmd.disabled and cmd.user_id == cmd.acting_user_id:
            raise _refuse("you cannot lock yourself out")
        user = replace(require_user(uow, cmd.user_id), disabled=cmd.disabled)
        uow.users.save(user)
        if cmd.disabled:
            uow.sessions.delete_for_user(user.user_id)
        action = "user.disable" if cmd.disabled else "user.enable"
        journal(uow, ctx, action, f"user:{user.user_id}", {"email": user.email}, [])
        uow.commit()


@dataclass(frozen=True, slots=True)
class TeamMember:
    user: PortalUser
    role: MemberRole


def list_team(uow: SqlAlchemyUnitOfWork, site_id: int) -> list[TeamMember]:
    with uow:
        require_site(uow, site_id)
        members = [
            TeamMember(require_user(uow, m.user_id), m.role)
            for m in uow.memberships.list_for_site(site_id)
        ]
    return sorted(members, key=lambda m: m.user.email)


def list_users(uow: SqlAlchemyUnitOfWork) -> list[PortalUser]:
    with uow:
        return uow.users.list_all()


def require_user_in(uow: SqlAlchemyUnitOfWork, user_id: int) -> PortalUser:
    """:func:`require_user` in a transaction of its own."""
    with uow:
        return require_user(uow, user_id)


def link_is_open(link_token: str, uow: SqlAlchemyUnitOfWork, now_ms: int) -> bool:
    with uow:
        link = uow.one_time_tokens.get(token_hash(link_token))
    return link is not None and not link.used and link.expires_ms > now_ms

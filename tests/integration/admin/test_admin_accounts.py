"""Portal accounts in the admin layer, on SQLite and PostgreSQL: sign-in with lockout,
sessions, one-time links, and the team guards (portal-and-sharing §2.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

import uid2.admin.accounts as accounts
import uid2.admin.sessions as sessions
from uid2.admin import (
    AdminError,
    AdminErrorCode,
    Context,
    CreateParticipant,
    ParticipantType,
    create_participant,
)
from uid2.store import SqlAlchemyUnitOfWork
from uid2.store.records import MemberRole, TokenPurpose

UoW = Callable[[], SqlAlchemyUnitOfWork]
PASSWORD = "correct horse battery staple"
POLICY = sessions.LoginPolicy(max_failures=3, lockout_ms=60_000, session_lifetime_ms=3_600_000)


@pytest.fixture
def site(new_uow: UoW, ctx: Context, initialized: None) -> int:
    cmd = CreateParticipant("News", frozenset({ParticipantType.PUBLISHER}))
    return create_participant(cmd, new_uow(), ctx).site_id


def _user(new_uow: UoW, ctx: Context, email: str, password: str | None = PASSWORD) -> int:
    return accounts.create_user(accounts.CreateUser(email, password), new_uow(), ctx).user_id


def _refused(code: AdminErrorCode, call: Callable[[], object]) -> AdminError:
    with pytest.raises(AdminError) as refused:
        call()
    assert refused.value.code is code
    return refused.value


def test_sign_in_locks_after_failures_and_sessions_expire(new_uow: UoW, ctx: Context) -> None:
    _user(new_uow, ctx, "a@example.com")
    wrong = sessions.LogIn("A@example.com", "wrong password")
    for _ in range(3):
        _refused(
            AdminErrorCode.BAD_CREDENTIALS, lambda: sessions.log_in(wrong, new_uow(), ctx, POLICY)
        )
    right = sessions.LogIn("a@example.com", PASSWORD)
    _refused(AdminErrorCode.LOCKED_OUT, lambda: sessions.log_in(right, new_uow(), ctx, POLICY))
    later = replace(ctx, now_ms=ctx.now_ms + 60_000)
    logged_in = sessions.log_in(right, new_uow(), later, POLICY)
    found = sessions.signed_in(logged_in.session_token, new_uow(), later.now_ms + 1)
    assert found is not None and found.user.email == "a@example.com"
    assert sessions.signed_in(logged_in.session_token, new_uow(), logged_in.expires_ms) is None
    sessions.log_out(logged_in.session_token, new_uow())
    assert sessions.signed_in(logged_in.session_token, new_uow(), later.now_ms + 1) is None
    with new_uow() as uow:  # only the hash of the session token is stored
        assert uow.sessions.get(logged_in.session_token) is None


def test_links_are_single_use_and_the_newest_voids_the_rest(new_uow: UoW, ctx: Context) -> None:
    user_id = _user(new_uow, ctx, "b@example.com", None)
    first = accounts.issue_password_link(
        accounts.IssuePasswordLink(user_id, TokenPurpose.INVITE), new_uow(), ctx
    )
    second = accounts.issue_password_link(
        accounts.IssuePasswordLink(user_id, TokenPurpose.INVITE), new_uow(), ctx
    )
    stale = accounts.SetPasswordWithLink(first, PASSWORD)
    _refused(
        AdminErrorCode.BAD_LINK, lambda: accounts.set_password_with_link(stale, new_uow(), ctx)
    )
    accounts.set_password_with_link(accounts.SetPasswordWithLink(second, PASSWORD), new_uow(), ctx)
    spent = accounts.SetPasswordWithLink(second, "another good password")
    _refused(
        AdminErrorCode.BAD_LINK, lambda: accounts.set_password_with_link(spent, new_uow(), ctx)
    )
    again = accounts.IssuePasswordLink(user_id, TokenPurpose.INVITE)
    _refused(
        AdminErrorCode.NOT_ALLOWED, lambda: accounts.issue_password_link(again, new_uow(), ctx)
    )


def test_a_participant_always_keeps_an_admin(new_uow: UoW, ctx: Context, site: int) -> None:
    ann = accounts.invite_member(
        accounts.InviteMember(site, "ann@news.example", MemberRole.ADMIN), new_uow(), ctx
    ).user.user_id
    ben = accounts.invite_member(
        accounts.InviteMember(site, "ben@news.example", MemberRole.OPERATIONS), new_uow(), ctx
    ).user.user_id
    demote = accounts.ChangeMemberRole(site, ann, MemberRole.OPERATIONS, acting_user_id=None)
    _refused(
        AdminErrorCode.NOT_ALLOWED, lambda: accounts.change_member_role(demote, new_uow(), ctx)
    )
    remove = accounts.RemoveMember(site, ann, acting_user_id=ben)
    _refused(AdminErrorCode.NOT_ALLOWED, lambda: accounts.remove_member(remove, new_uow(), ctx))
    self_remove = accounts.RemoveMember(site, ben, acting_user_id=ben)
    _refused(
        AdminErrorCode.NOT_ALLOWED, lambda: accounts.remove_member(self_remove, new_uow(), ctx)
    )
    promote = accounts.ChangeMemberRole(site, ben, MemberRole.ADMIN, acting_user_id=ann)
    accounts.change_member_role(promote, new_uow(), ctx)
    accounts.remove_member(accounts.RemoveMember(site, ann, acting_user_id=ben), new_uow(), ctx)
    team = accounts.list_team(new_uow(), site)
    assert [(m.user.email, m.role) for m in team] == [("ben@news.example", MemberRole.ADMIN)]
    with new_uow() as uow:
        rows = [e for e in uow.audit.list_all() if e.site_id == site]
    assert [e.action for e in rows][-4:] == [
        "team.invite", "team.invite", "team.set_role", "team.remove",
    ]  # fmt: skip


def test_bad_emails_and_passwords_write_nothing(new_uow: UoW, ctx: Context) -> None:
    for email in ("", "no-at-sign", "a@b", "a b@c.example", "x" * 300 + "@c.example"):
        bad = accounts.CreateUser(email, PASSWORD)
        _refused(AdminErrorCode.BAD_EMAIL, lambda: accounts.create_user(bad, new_uow(), ctx))  # noqa: B023
    for password in ("short", " leading space pw", "x" * 257, "tab\tinside password"):
        bad = accounts.CreateUser("ok@example.com", password)
        _refused(AdminErrorCode.BAD_PASSWORD, lambda: accounts.create_user(bad, new_uow(), ctx))  # noqa: B023
    assert accounts.list_users(new_uow()) == []


def test_emails_with_control_characters_are_refused(new_uow: UoW, ctx: Context) -> None:
    for email in ("a\x00b@example.com", "a\tb@example.com", "a\x7fb@example.com"):
        bad = accounts.CreateUser(email, PASSWORD)
        _refused(AdminErrorCode.BAD_EMAIL, lambda: accounts.create_user(bad, new_uow(), ctx))  # noqa: B023

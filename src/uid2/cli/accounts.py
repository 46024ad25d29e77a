"""``uid2 user ...``: portal accounts from the command line (the first platform admin, links)."""

from __future__ import annotations

import sys

import click

import uid2.admin.accounts as accounts
from uid2.admin.lookups import require_site
from uid2.cli.base import cli, context, db_option, emit, emit_rows, json_option, runtime
from uid2.portal.api_views import user_view
from uid2.store.records import MemberRole, TokenPurpose

DEFAULT_PORTAL_URL = "http://127.0.0.1:8081"


def _portal_url_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--portal-url",
        default=DEFAULT_PORTAL_URL,
        show_default=True,
        help="Base URL the printed link points at.",
    )(func)


@cli.group()
def user() -> None:
    """Portal users (platform admins and participants' team members)."""


def _read_password() -> str:
    text = sys.stdin.readline()
    if not text:
        raise click.UsageError("--password-stdin: no password on standard input")
    return text.rstrip("\r\n")


@user.command("create")
@click.argument("email")
@click.option("--admin", "platform_admin", is_flag=True, help="Make a platform admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_portal_url_option
@db_option
@json_option
def user_create(
    email: str,
    platform_admin: bool,
    password_stdin: bool,
    portal_url: str,
    db: str | None,
    as_json: bool,
) -> None:
    """Create a portal user; without --password-stdin, print a one-time link to set one."""
    password = _read_password() if password_stdin else None
    with runtime(db) as rt:
        created = accounts.create_user(
            accounts.CreateUser(email, password, platform_admin), rt.uow(), context()
        )
        data = user_view(created)
        if password is None:
            cmd = accounts.IssuePasswordLink(created.user_id, TokenPurpose.INVITE)
            token = accounts.issue_password_link(cmd, rt.uow(), context())
            data["link"] = f"{portal_url.rstrip('/')}/set-password/{token}"
    emit(as_json, data, "Portal user")


@user.command("list")
@db_option
@json_option
def user_list(db: str | None, as_json: bool) -> None:
    """List portal users."""
    with runtime(db) as rt:
        users = accounts.list_users(rt.reader())
    emit_rows(as_json, [user_view(u) for u in users], "Portal users")


@user.command("link")
@click.argument("email")
@_portal_url_option
@db_option
@json_option
def user_link(email: str, portal_url: str, db: str | None, as_json: bool) -> None:
    """Print a one-time link: an invite for a user without a password, else a reset."""
    with runtime(db) as rt:
        with rt.reader() as uow:
            found = uow.users.get_by_email(email.strip().lower())
        if found is None:
            raise click.ClickException(f"no portal user has the email {email!r}")
        purpose = TokenPurpose.INVITE if found.pending else TokenPurpose.RESET
        cmd = accounts.IssuePasswordLink(found.user_id, purpose)
        token = accounts.issue_password_link(cmd, rt.uow(), context())
    link = f"{portal_url.rstrip('/')}/set-password/{token}"
    emit(as_json, {"email": found.email, "purpose": purpose.value, "link": link}, "Link")


@user.command("add")
@click.argument("email")
@click.option("--site", "site_id", type=int, required=True, metavar="ID")
@click.option("--role", type=click.Choice(["admin", "operations"]), default="admin",
              show_default=True)  # fmt: skip
@_portal_url_option
@db_option
@json_option
def user_add(
    email: str, site_id: int, role: str, portal_url: str, db: str | None, as_json: bool
) -> None:
    """Add a user (created if new) to a participant's team."""
    with runtime(db) as rt:
        with rt.reader() as uow:
            require_site(uow, site_id)
        cmd = accounts.InviteMember(site_id, email, MemberRole(role))
        invitation = accounts.invite_member(cmd, rt.uow(), context())
    data = {**user_view(invitation.user), "site_id": site_id, "role": role}
    if invitation.link_token is not None:
        data["link"] = f"{portal_url.rstrip('/')}/set-password/{invitation.link_token}"
    emit(as_json, data, "Team member")

"""A participant's home, team and audit pages."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from uid2.portal import forms
from uid2.portal.account_service import Session
from uid2.portal.errors import PortalError, not_found
from uid2.portal.web import (
    action,
    call,
    form_errors,
    form_values,
    login_redirect,
    page,
    portal_of,
    redirect,
    render,
    session_of,
)
from uid2.store.records import AuditEntry, Site

log = logging.getLogger("uid2.portal")
YEAR_S = 365 * 86_400 + 86_400 // 4


def site_id_of(request: Request) -> int:
    site_id: int = request.path_params["site_id"]
    return site_id


async def participant_page(request: Request, session: Session) -> tuple[Site, dict[str, object]]:
    """The participant, and what every participant page shows: it, the switcher, the role."""
    portal = portal_of(request)
    site_id = site_id_of(request)
    site = await call(portal.participants.site, session.principal, site_id)
    sites = await call(portal.participants.sites_for, session.principal)
    role = session.principal.role_in(site_id)
    return site, {"site": site, "sites": sites, "role": None if role is None else role.value}


async def site_context(request: Request, session: Session) -> dict[str, object]:
    return (await participant_page(request, session))[1]


async def home(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    sites = await call(portal_of(request).participants.sites_for, session.principal)
    if sites:
        return RedirectResponse(f"/p/{sites[0].site_id}", status_code=303)
    if session.principal.is_platform_admin:
        return RedirectResponse("/platform/participants", status_code=303)
    return render(request, "no_access.html", {}, session=session)


async def switch(request: Request) -> Response:
    target = forms.whole_number(request.query_params.get("site_id"), "site_id")
    return redirect("/" if target is None else f"/p/{target}")


@page
async def participant_home(request: Request, session: Session) -> Response:
    portal = portal_of(request)
    site, context = await participant_page(request, session)
    site_id = site.site_id
    keys = await call(portal.participants.api_keys, session.principal, site_id)
    pairs = await call(portal.participants.keypairs, session.principal, site_id)
    sharing = await call(portal.participants.sharing, session.principal, site_id)
    now_s = portal.clock_ms() // 1000
    context.update(
        allowed_roles=sorted(r.value for r in portal.participants.allowed_roles(site)),
        old_keys=[k for k in keys if not k.disabled and now_s - k.created_s > YEAR_S],
        active_keys=sum(1 for k in keys if not k.disabled),
        active_keypairs=sum(1 for p in pairs if not p.disabled),
        sharing=sharing.overview,
    )
    return render(request, "participant/home.html", context, session=session)


async def _team_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    invite_link: str | None = None,
    status: int = 200,
) -> Response:
    context = await site_context(request, session)
    members = await call(
        portal_of(request).participants.team, session.principal, site_id_of(request)
    )
    context.update(members=members, errors=errors or {}, form=form or {}, invite_link=invite_link)
    return render(request, "participant/team.html", context, session=session, status=status)


@page
async def team(request: Request, session: Session) -> Response:
    return await _team_page(request, session)


async def _rerender_team(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _team_page(
        request, session, errors=form_errors(error), form=form_values(form), status=error.status
    )


def _announce(request: Request, what: str, token: str | None) -> str | None:
    if token is None:
        return None
    portal = portal_of(request)
    link = portal.link_url(request, token)
    if portal.settings.dev_mode:
        log.info("%s link (development mode): %s", what, link)
    return link


@action(_rerender_team)
async def invite(request: Request, session: Session, form: FormData) -> Response:
    portal = portal_of(request)
    email = forms.required(str(form.get("email", "")), "email", "Email")
    role = forms.member_role(str(form.get("role", "")))
    invitation = await call(
        portal.participants.invite, session.principal, site_id_of(request), email, role
    )
    link = _announce(request, "invite", invitation.link_token)
    return await _team_page(request, session, invite_link=link or "")


def _user_id(request: Request) -> int:
    user_id: int = request.path_params["user_id"]
    return user_id


@action(_rerender_team)
async def resend_invite(request: Request, session: Session, form: FormData) -> Response:
    portal = portal_of(request)
    token = await call(
        portal.participants.resend_invite,
        session.principal,
        site_id_of(request),
        _user_id(request),
    )
    return await _team_page(request, session, invite_link=_announce(request, "invite", token))


@action(_rerender_team)
async def change_role(request: Request, session: Session, form: FormData) -> Response:
    role = forms.member_role(str(form.get("role", "")))
    site_id = site_id_of(request)
    await call(
        portal_of(request).participants.change_role,
        session.principal,
        site_id,
        _user_id(request),
        role,
    )
    return redirect(f"/p/{site_id}/team", "role-changed")


@action(_rerender_team)
async def remove_member(request: Request, session: Session, form: FormData) -> Response:
    site_id = site_id_of(request)
    await call(
        portal_of(request).participants.remove_member,
        session.principal,
        site_id,
        _user_id(request),
    )
    return redirect(f"/p/{site_id}/team", "member-removed")


def audit_rows(entries: Iterable[AuditEntry]) -> list[dict[str, object]]:
    return [
        {
            "seq": entry.seq,
            "at": datetime.fromtimestamp(entry.at_ms / 1000, UTC),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "site_id": entry.site_id,
            "details": json.loads(entry.details),
        }
        for entry in entries
    ]


@page
async def audit(request: Request, session: Session) -> Response:
    before = forms.whole_number(request.query_params.get("before"), "before")
    context = await site_context(request, session)
    entries = await call(
        portal_of(request).participants.audit, session.principal, site_id_of(request), before
    )
    if before is not None and not entries:
        raise not_found("no older entries")
    context["entries"] = audit_rows(entries)
    return render(request, "participant/audit.html", context, session=session)


def participant_routes() -> list[Route]:
    prefix = "/p/{site_id:int}"
    post = ["POST"]
    return [
        Route("/", home, methods=["GET"]),
        Route("/switch", switch, methods=["GET"]),
        Route(prefix, participant_home, methods=["GET"]),
        Route(prefix + "/team", team, methods=["GET"]),
        Route(prefix + "/team/invite", invite, methods=post),
        Route(prefix + "/team/{user_id:int}/role", change_role, methods=post),
        Route(prefix + "/team/{user_id:int}/remove", remove_member, methods=post),
        Route(prefix + "/team/{user_id:int}/resend", resend_invite, methods=post),
        Route(prefix + "/audit", audit, methods=["GET"]),
    ]

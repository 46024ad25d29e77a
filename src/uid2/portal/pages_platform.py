"""Platform admin pages: participants, key and salt rotation, opt-out lookup, users, audit."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.admin.participants import EditParticipant
from uid2.portal import forms
from uid2.portal.account_service import Session
from uid2.portal.errors import PortalError
from uid2.portal.pages_participant import audit_rows
from uid2.portal.pages_sharing import TYPE_LABELS
from uid2.portal.web import (
    action,
    call,
    form_errors,
    form_values,
    page,
    portal_of,
    redirect,
    render,
)

TYPE_VALUES = {t.value: label for t, label in TYPE_LABELS.items()}


async def _platform(
    request: Request, session: Session, template: str, status: int = 200, **context: object
) -> Response:
    session.principal.require_platform_admin()
    sites = await call(portal_of(request).participants.sites_for, session.principal)
    values: dict[str, object] = {"sites": sites, "type_labels": TYPE_VALUES}
    values.update(context)
    return render(request, f"platform/{template}", values, session=session, status=status)


# --- participants ---------------------------------------------------------------------------


async def _rerender_participants(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    errors, values = form_errors(error), form_values(form, lists=("types",))
    if "site_id" in request.path_params:
        return await _edit_page(request, session, errors=errors, form=values, status=error.status)
    return await _platform(
        request, session, "participants.html", error.status, errors=errors, form=values
    )


@page
async def participants(request: Request, session: Session) -> Response:
    return await _platform(request, session, "participants.html")


@action(_rerender_participants)
async def create_participant(request: Request, session: Session, form: FormData) -> Response:
    name = forms.required(str(form.get("name", "")), "name", "A name")
    types = forms.participant_types(str(t) for t in form.getlist("types"))
    site = await call(
        portal_of(request).platform.create_participant, session.principal, name, types
    )
    return redirect(f"/platform/participants/{site.site_id}", "participant-created")


async def _edit_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    site_id: int = request.path_params["site_id"]
    # first: a 404 for a participant the caller is not in would tell them which ones they are in
    session.principal.require_platform_admin()
    site = await call(portal_of(request).participants.site, session.principal, site_id)
    return await _platform(
        request,
        session,
        "participant_edit.html",
        status,
        site=site,
        errors=errors or {},
        form=form or {},
    )


@page
async def edit_participant_page(request: Request, session: Session) -> Response:
    return await _edit_page(request, session)


@action(_rerender_participants)
async def edit_participant(request: Request, session: Session, form: FormData) -> Response:
    site_id: int = request.path_params["site_id"]
    cmd = EditParticipant(
        site_id,
        name=forms.required(str(form.get("name", "")), "name", "A name"),
        types=forms.participant_types(str(t) for t in form.getlist("types")),
        enabled=form.get("enabled") == "on",
    )
    await call(portal_of(request).platform.edit_participant, session.principal, cmd)
    return redirect(f"/platform/participants/{site_id}", "participant-saved")


# --- keys and salts -------------------------------------------------------------------------


def _when(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _keys_page(
    request: Request,
    session: Session,
    *,
    result: object = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    keys = await call(portal_of(request).platform.keys, session.principal)
    return await _platform(
        request,
        session,
        "keys.html",
        status,
        keys=keys,
        result=result,
        when=_when,
        errors=errors or {},
    )


async def _rerender_keys(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _keys_page(request, session, errors=form_errors(error), status=error.status)


@page
async def keys(request: Request, session: Session) -> Response:
    return await _keys_page(request, session)


@action(_rerender_keys)
async def rotate_keys(request: Request, session: Session, form: FormData) -> Response:
    force = form.get("force") == "on"
    result = await call(portal_of(request).platform.rotate_keys, session.principal, force)
    message = f"{len(result.rotated)} keyset(s) rotated, {len(result.skipped_keyset_ids)} skipped"
    return await _keys_page(request, session, result=message)


@action(_rerender_keys)
async def rotate_salts(request: Request, session: Session, form: FormData) -> Response:
    fraction = forms.fraction(str(form.get("fraction", "")))
    force = form.get("force") == "on"
    result = await call(
        portal_of(request).platform.rotate_salts, session.principal, fraction, force
    )
    message = result.skipped_reason or f"{result.rotated} of {result.bucket_count} buckets rotated"
    return await _keys_page(request, session, result=message)


# --- opt-out lookup -------------------------------------------------------------------------


@page
async def optout_page(request: Request, session: Session) -> Response:
    form = {"identity_type": "email"}
    return await _platform(request, session, "optout.html", form=form)


async def _rerender_optout(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    values = {"identity_type": str(form.get("identity_type", "email"))}  # never echo the DII
    return await _platform(
        request, session, "optout.html", error.status, errors=form_errors(error), form=values
    )


@action(_rerender_optout)
async def optout(request: Request, session: Session, form: FormData) -> Response:
    identity_type = forms.identity_type(str(form.get("identity_type", "")))
    value = forms.required(str(form.get("identity", "")), "identity", "An email or phone")
    platform = portal_of(request).platform
    recorded = None
    if form.get("record") == "yes":
        recorded = await call(platform.record_optout, session.principal, identity_type, value)
    found = await call(platform.lookup_optout, session.principal, identity_type, value)
    return await _platform(
        request,
        session,
        "optout.html",
        form={"identity_type": identity_type.name.lower()},
        lookup=found,
        recorded=recorded,
        when=_when,
    )


# --- audit and users ------------------------------------------------------------------------


@page
async def audit(request: Request, session: Session) -> Response:
    before = forms.whole_number(request.query_params.get("before"), "before")
    entries = await call(portal_of(request).platform.audit, session.principal, before)
    return await _platform(request, session, "audit.html", entries=audit_rows(entries))


async def _users_page(
    request: Request,
    session: Session,
    *,
    link: str | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
) -> Response:
    users = await call(portal_of(request).platform.users, session.principal)
    return await _platform(
        request,
        session,
        "users.html",
        status,
        users=users,
        link=link,
        errors=errors or {},
        form=form or {},
    )


async def _rerender_users(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _users_page(
        request,
        session,
        errors=form_errors(error),
        form=form_values(form, lists=("types",)),
        status=error.status,
    )


@page
async def users(request: Request, session: Session) -> Response:
    return await _users_page(request, session)


@action(_rerender_users)
async def create_user(request: Request, session: Session, form: FormData) -> Response:
    email = forms.required(str(form.get("email", "")), "email", "Email")
    admin = form.get("platform_admin") == "on"
    token = await call(portal_of(request).platform.create_user, session.principal, email, admin)
    return await _users_page(request, session, link=portal_of(request).link_url(request, token))


@action(_rerender_users)
async def user_link(request: Request, session: Session, form: FormData) -> Response:
    user_id: int = request.path_params["user_id"]
    token = await call(portal_of(request).platform.password_link, session.principal, user_id)
    return await _users_page(request, session, link=portal_of(request).link_url(request, token))


@action(_rerender_users)
async def user_lock(request: Request, session: Session, form: FormData) -> Response:
    user_id: int = request.path_params["user_id"]
    lock = form.get("lock") == "yes"
    await call(portal_of(request).platform.set_user_disabled, session.principal, user_id, lock)
    return redirect("/platform/users", "user-locked" if lock else "user-unlocked")


def platform_routes() -> list[Route]:
    post = ["POST"]
    return [
        Route("/platform/participants", participants, methods=["GET"]),
        Route("/platform/participants", create_participant, methods=post),
        Route("/platform/participants/{site_id:int}", edit_participant_page, methods=["GET"]),
        Route("/platform/participants/{site_id:int}", edit_participant, methods=post),
        Route("/platform/keys", keys, methods=["GET"]),
        Route("/platform/keys/rotate", rotate_keys, methods=post),
        Route("/platform/salts/rotate", rotate_salts, methods=post),
        Route("/platform/optout", optout_page, methods=["GET"]),
        Route("/platform/optout", optout, methods=post),
        Route("/platform/audit", audit, methods=["GET"]),
        Route("/platform/users", users, methods=["GET"]),
        Route("/platform/users", create_user, methods=post),
        Route("/platform/users/{user_id:int}/link", user_link, methods=post),
        Route("/platform/users/{user_id:int}/lock", user_lock, methods=post),
    ]

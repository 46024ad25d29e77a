"""API keys and client-side integration (keypairs, root-level domains, mobile app ids)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.portal import forms
from uid2.portal.account_service import Session
from uid2.portal.errors import PortalError, bad_field
from uid2.portal.pages_participant import participant_page, site_context, site_id_of
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

# --- API keys -------------------------------------------------------------------------------


async def _keys_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    portal = portal_of(request)
    site, context = await participant_page(request, session)
    keys = await call(portal.participants.api_keys, session.principal, site.site_id)
    context.update(
        keys=keys,
        allowed_roles=sorted(r.value for r in portal.participants.allowed_roles(site)),
        errors=errors or {},
        form=form or {},
    )
    return render(request, "participant/api_keys.html", context, session=session, status=status)


def _values(request: Request, form: FormData) -> dict[str, object]:
    values = form_values(form, lists=("roles",))
    # which key's or keypair's form failed, so that its message shows beside its own field
    values["failed_key_id"] = request.path_params.get("key_id")
    values["failed_subscription_id"] = request.path_params.get("subscription_id")
    return values


async def _rerender_keys(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _keys_page(
        request,
        session,
        errors=form_errors(error),
        form=_values(request, form),
        status=error.status,
    )


@page
async def api_keys(request: Request, session: Session) -> Response:
    return await _keys_page(request, session)


@action(_rerender_keys)
async def create_api_key(request: Request, session: Session, form: FormData) -> Response:
    name = forms.required(str(form.get("name", "")), "name", "A name")
    roles = forms.roles(str(r) for r in form.getlist("roles"))
    created = await call(
        portal_of(request).participants.create_api_key,
        session.principal,
        site_id_of(request),
        name,
        roles,
    )
    context = await site_context(request, session)
    context["created"] = created
    return render(request, "participant/api_key_created.html", context, session=session)


def _key_id(request: Request) -> str:
    key_id: str = request.path_params["key_id"]
    return key_id


@action(_rerender_keys)
async def edit_api_key(request: Request, session: Session, form: FormData) -> Response:
    portal, site_id, key_id = portal_of(request), site_id_of(request), _key_id(request)
    name = forms.required(str(form.get("name", "")), "name", "A name")
    roles = forms.roles(str(r) for r in form.getlist("roles"))
    await call(
        portal.participants.update_api_key,
        session.principal,
        site_id,
        key_id,
        name=name,
        roles=roles,
    )
    return redirect(f"/p/{site_id}/api-keys", "key-updated")


@action(_rerender_keys)
async def disable_api_key(request: Request, session: Session, form: FormData) -> Response:
    site_id, key_id = site_id_of(request), _key_id(request)
    if str(form.get("confirm_key_id", "")).strip() != key_id:
        raise bad_field("confirm_key_id", "type the key id to confirm")
    await call(portal_of(request).participants.disable_api_key, session.principal, site_id, key_id)
    return redirect(f"/p/{site_id}/api-keys", "key-disabled")


# --- client-side integration ----------------------------------------------------------------


async def _client_side_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    context = await site_context(request, session)
    pairs = await call(
        portal_of(request).participants.keypairs, session.principal, site_id_of(request)
    )
    context.update(
        keypairs=[p for p in pairs if not p.disabled], errors=errors or {}, form=form or {}
    )
    return render(request, "participant/client_side.html", context, session=session, status=status)


async def _rerender_client_side(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _client_side_page(
        request,
        session,
        errors=form_errors(error),
        form=_values(request, form),
        status=error.status,
    )


@page
async def client_side(request: Request, session: Session) -> Response:
    return await _client_side_page(request, session)


@action(_rerender_client_side)
async def create_keypair(request: Request, session: Session, form: FormData) -> Response:
    site_id = site_id_of(request)
    name = str(form.get("name", "")).strip() or None
    await call(portal_of(request).participants.create_keypair, session.principal, site_id, name)
    return redirect(f"/p/{site_id}/client-side", "keypair-created")


@action(_rerender_client_side)
async def disable_keypair(request: Request, session: Session, form: FormData) -> Response:
    site_id = site_id_of(request)
    subscription_id: str = request.path_params["subscription_id"]
    if str(form.get("confirm_subscription_id", "")).strip() != subscription_id:
        raise bad_field("confirm_subscription_id", "type the subscription id to confirm")
    await call(
        portal_of(request).participants.disable_keypair,
        session.principal,
        site_id,
        subscription_id,
    )
    return redirect(f"/p/{site_id}/client-side", "keypair-disabled")


def merged(current: tuple[str, ...], form: FormData, field: str, normalise: bool) -> list[str]:
    """The list after a bulk paste (append or replace) and the ticked removals."""
    pasted = forms.split_pasted(str(form.get(field, "")))
    if normalise:
        pasted = [forms.root_domain(p) for p in pasted]
    removed = {str(v) for v in form.getlist("remove")}
    base = [] if form.get("mode") == "replace" else [c for c in current if c not in removed]
    return list(dict.fromkeys([*base, *pasted]))


async def _save_names(request: Request, session: Session, form: FormData, kind: str) -> Response:
    portal, site_id = portal_of(request), site_id_of(request)
    site = await call(portal.participants.site, session.principal, site_id)
    if kind == "domains":
        names = merged(site.domain_names, form, "domains", normalise=True)
        await call(portal.participants.set_domains, session.principal, site_id, names)
        return redirect(f"/p/{site_id}/client-side", "domains-saved")
    names = merged(site.app_names, form, "app_names", normalise=False)
    await call(portal.participants.set_app_names, session.principal, site_id, names)
    return redirect(f"/p/{site_id}/client-side", "apps-saved")


@action(_rerender_client_side)
async def save_domains(request: Request, session: Session, form: FormData) -> Response:
    return await _save_names(request, session, form, "domains")


@action(_rerender_client_side)
async def save_app_names(request: Request, session: Session, form: FormData) -> Response:
    return await _save_names(request, session, form, "app_names")


def integration_routes() -> list[Route]:
    prefix = "/p/{site_id:int}"
    post = ["POST"]
    return [
        Route(prefix + "/api-keys", api_keys, methods=["GET"]),
        Route(prefix + "/api-keys", create_api_key, methods=post),
        # key ids are base64 and may hold "/": the path convertor takes the rest of the path
        Route(prefix + "/api-keys/{key_id:path}/edit", edit_api_key, methods=post),
        Route(prefix + "/api-keys/{key_id:path}/disable", disable_api_key, methods=post),
        Route(prefix + "/client-side", client_side, methods=["GET"]),
        Route(prefix + "/client-side/keypairs", create_keypair, methods=post),
        Route(
            prefix + "/client-side/keypairs/{subscription_id}/disable",
            disable_keypair,
            methods=post,
        ),
        Route(prefix + "/client-side/domains", save_domains, methods=post),
        Route(prefix + "/client-side/app-names", save_app_names, methods=post),
    ]

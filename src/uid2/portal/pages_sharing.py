"""Sharing permissions: grant by participant type or one by one, revoke, and see who can
decrypt this participant's tokens (portal-and-sharing §2.3 f)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.portal import forms
from uid2.portal.account_service import Session
from uid2.portal.errors import PortalError
from uid2.portal.pages_participant import site_context, site_id_of
from uid2.portal.participant_service import SharingPage
from uid2.portal.web import action, call, form_errors, page, portal_of, redirect, render
from uid2.store.records import ParticipantType, Site

TYPE_LABELS = {
    ParticipantType.PUBLISHER: "Publisher",
    ParticipantType.ADVERTISER: "Advertiser",
    ParticipantType.DSP: "DSP",
    ParticipantType.DATA_PROVIDER: "Data provider",
}


def _matches(site: Site, query: str, type_filter: ParticipantType | None) -> bool:
    if type_filter is not None and type_filter not in site.types:
        return False
    return not query or query in site.name.lower() or query == str(site.site_id)


def sharing_rows(
    sharing: SharingPage, query: str, type_filter: ParticipantType | None
) -> dict[str, object]:
    keyset = sharing.overview.keyset
    granted_sites = set() if keyset is None else set(keyset.allowed_sites or ())
    granted_types = frozenset() if keyset is None else keyset.allowed_types
    open_acl = keyset is not None and keyset.allowed_sites is None
    readers = sharing.overview.readers
    return {
        "keyset": keyset,
        "open_acl": open_acl,
        "granted_types": {t.value for t in granted_types},
        "recommended": {t.value for t in sharing.overview.recommended_types},
        "individual": [s for s in sharing.others if s.site_id in granted_sites],
        "candidates": [s for s in sharing.others if _matches(s, query, type_filter)],
        "by_type": {s.site_id for s in sharing.others if s.types & granted_types},
        "readers": [] if readers is None else [s for s in sharing.others if s.site_id in readers],
        "granted_sites": granted_sites,
    }


async def _sharing_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    query = request.query_params.get("q", "").strip().lower()
    type_filter = None
    if request.query_params.get("type"):
        type_filter = next(iter(forms.participant_types([request.query_params["type"]])))
    context = await site_context(request, session)
    sharing = await call(
        portal_of(request).participants.sharing, session.principal, site_id_of(request)
    )
    context.update(sharing_rows(sharing, query, type_filter))
    context.update(
        query=query,
        type_filter=None if type_filter is None else type_filter.value,
        type_labels={t.value: label for t, label in TYPE_LABELS.items()},
        errors=errors or {},
    )
    return render(request, "participant/sharing.html", context, session=session, status=status)


async def _rerender(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _sharing_page(request, session, errors=form_errors(error), status=error.status)


@page
async def sharing(request: Request, session: Session) -> Response:
    return await _sharing_page(request, session)


async def _update(
    request: Request,
    session: Session,
    *,
    add_sites: frozenset[int] = frozenset(),
    remove_sites: frozenset[int] = frozenset(),
    types: frozenset[ParticipantType] | None = None,
) -> Response:
    site_id = site_id_of(request)
    result = await call(
        portal_of(request).participants.update_sharing,
        session.principal,
        site_id,
        add_sites=add_sites,
        remove_sites=remove_sites,
        types=types,
    )
    notice = "sharing-saved" if result.changed else "sharing-unchanged"
    return redirect(f"/p/{site_id}/sharing", notice)


@action(_rerender)
async def save_types(request: Request, session: Session, form: FormData) -> Response:
    types = forms.participant_types(str(t) for t in form.getlist("types"))
    return await _update(request, session, types=types)


@action(_rerender)
async def grant_sites(request: Request, session: Session, form: FormData) -> Response:
    sites = forms.site_ids(str(s) for s in form.getlist("sites"))
    if not sites:
        raise PortalError(400, "tick at least one participant", "sites")
    return await _update(request, session, add_sites=sites)


@action(_rerender)
async def revoke_sites(request: Request, session: Session, form: FormData) -> Response:
    sites = forms.site_ids(str(s) for s in form.getlist("sites"))
    if not sites:
        raise PortalError(400, "tick at least one participant to remove", "revoke")
    return await _update(request, session, remove_sites=sites)


def sharing_routes() -> list[Route]:
    prefix = "/p/{site_id:int}/sharing"
    return [
        Route(prefix, sharing, methods=["GET"]),
        Route(prefix + "/types", save_types, methods=["POST"]),
        Route(prefix + "/grant", grant_sites, methods=["POST"]),
        Route(prefix + "/revoke", revoke_sites, methods=["POST"]),
    ]

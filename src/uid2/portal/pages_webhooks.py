"""Opt-out webhooks: configuration and delivery status (a participant's page)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.portal import forms
from uid2.portal.account_service import Session
from uid2.portal.errors import PortalError
from uid2.portal.pages_participant import site_context, site_id_of
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

# shown after a redirect (?notice=...): fixed texts, never user input
NOTICES = {
    "webhook-added": "The webhook was added. It receives every opt-out recorded from now on.",
    "webhook-disabled": "The webhook was disabled. Its undelivered opt-outs are marked failed.",
}


async def _webhooks_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    context = await site_context(request, session)
    overview = await call(
        portal_of(request).participants.webhooks.overview, session.principal, site_id_of(request)
    )
    context.update(overview=overview, errors=errors or {}, form=form or {})
    notice = NOTICES.get(request.query_params.get("notice", ""))
    if notice is not None:
        context["notice"] = notice
    return render(request, "participant/webhooks.html", context, session=session, status=status)


async def _rerender(
    request: Request, session: Session, form: FormData, error: PortalError
) -> Response:
    return await _webhooks_page(
        request, session, errors=form_errors(error), form=form_values(form), status=error.status
    )


@page
async def webhooks(request: Request, session: Session) -> Response:
    return await _webhooks_page(request, session)


@action(_rerender)
async def add_webhook(request: Request, session: Session, form: FormData) -> Response:
    site_id = site_id_of(request)
    template = forms.required(str(form.get("url_template", "")), "url_template", "A URL")
    method = str(form.get("method", "GET"))
    await call(
        portal_of(request).participants.webhooks.add, session.principal, site_id, template, method
    )
    return redirect(f"/p/{site_id}/webhooks", "webhook-added")


@action(_rerender)
async def disable_webhook(request: Request, session: Session, form: FormData) -> Response:
    site_id = site_id_of(request)
    webhook_id: int = request.path_params["webhook_id"]
    await call(
        portal_of(request).participants.webhooks.disable, session.principal, site_id, webhook_id
    )
    return redirect(f"/p/{site_id}/webhooks", "webhook-disabled")


def webhook_routes() -> list[Route]:
    prefix = "/p/{site_id:int}/webhooks"
    return [
        Route(prefix, webhooks, methods=["GET"]),
        Route(prefix, add_webhook, methods=["POST"]),
        Route(prefix + "/{webhook_id:int}/disable", disable_webhook, methods=["POST"]),
    ]

"""The HTML side's plumbing: sessions from cookies, CSRF, rendering, and handler decorators.

Handlers are ``async``; every call into the services (database, argon2) runs in the thread
pool through :func:`call`, so the event loop never waits on them.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from uid2.portal.account_service import AccountService, Session, csrf_matches
from uid2.portal.errors import PortalError
from uid2.portal.notices import NOTICES
from uid2.portal.participant_service import ParticipantService
from uid2.portal.platform_service import PlatformService
from uid2.portal.ratelimit import AttemptLimiter
from uid2.portal.settings import PortalSettings

if TYPE_CHECKING:  # pages_optout imports this module
    from uid2.portal.pages_optout import OptOutDesk

SESSION_COOKIE = "uid2_portal_session"
ANON_CSRF_COOKIE = "uid2_portal_csrf"  # double-submit token for forms shown before sign-in
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _datetime(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters["datetime"] = _datetime

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Portal:
    """Everything a handler needs, stored on ``app.state.portal``."""

    settings: PortalSettings
    accounts: AccountService
    participants: ParticipantService
    platform: PlatformService
    limiter: AttemptLimiter
    clock_ms: Callable[[], int]
    optout: OptOutDesk  # the consumer opt-out page's signing key, limiter and recorder

    def link_url(self, request: Request, token: str) -> str:
        """The one-time link for ``token``, on the public URL or the requested host."""
        base = self.settings.public_url or str(request.base_url).rstrip("/")
        return f"{base}/set-password/{token}"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


async def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


_UNSET = object()


async def session_of(request: Request) -> Session | None:
    """The request's session, looked up once per request."""
    cached = getattr(request.state, "portal_session", _UNSET)
    if cached is _UNSET:
        token = request.cookies.get(SESSION_COOKIE)
        cached = None if not token else await call(portal_of(request).accounts.session, token)
        request.state.portal_session = cached
    return cached if isinstance(cached, Session) else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    session: Session | None = None,
    status: int = 200,
) -> Response:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    values = {
        "session": session,
        "principal": None if session is None else session.principal,
        "csrf_token": session.csrf_token if session else anon_csrf(request),
        "notice": notice,
        "errors": {},
        "form": {},
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, template, values, status_code=status)
    if session is None and ANON_CSRF_COOKIE not in request.cookies:
        set_cookie(request, response, ANON_CSRF_COOKIE, values["csrf_token"], max_age=None)
    return response


def anon_csrf(request: Request) -> str:
    cached = getattr(request.state, "anon_csrf", None)
    if not isinstance(cached, str):
        cached = request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(32)
        request.state.anon_csrf = cached
    return cached


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=portal_of(request).settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    if notice is not None:
        url += ("&" if "?" in url else "?") + "notice=" + quote(notice)
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    return redirect("/login?next=" + quote(request.url.path, safe="/"))


def error_page(request: Request, error: PortalError, session: Session | None) -> Response:
    context = {"status": error.status, "message": error.message}
    return render(request, "error.html", context, session=session, status=error.status)


def form_values(
    form: FormData, *, lists: tuple[str, ...] = (), exclude: tuple[str, ...] = ("csrf_token",)
) -> dict[str, object]:
    """What was typed, to show again beside a refusal; ``lists`` are multi-valued fields."""
    values: dict[str, object] = {k: str(v) for k, v in form.items() if k not in exclude}
    for name in lists:
        values[name] = [str(v) for v in form.getlist(name)]
    return values


def form_errors(error: PortalError) -> dict[str, str]:
    return {error.field or "_form": error.message}


Page = Callable[[Request, Session], Awaitable[Response]]
Action = Callable[[Request, Session, FormData], Awaitable[Response]]
Rerender = Callable[[Request, Session, FormData, PortalError], Awaitable[Response]]


def page(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A signed-in GET page; refusals render the error page."""

    async def endpoint(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return login_redirect(request)
        try:
            return await handler(request, session)
        except PortalError as error:
            return error_page(request, error, session)

    return endpoint


def action(
    rerender: Rerender | None = None,
) -> Callable[[Action], Callable[[Request], Awaitable[Response]]]:
    """A signed-in form POST: checks the CSRF token, then runs ``handler``.

    A refusal re-renders the form through ``rerender`` (with the field's message and what was
    typed), or shows the error page.
    """

    def wrap(handler: Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = await session_of(request)
            if session is None:
                return login_redirect(request)
            form = await request.form()
            if not csrf_matches(session.csrf_token, _text(form.get("csrf_token"))):
                expired = PortalError(403, "this form has expired: reload the page and try again")
                return error_page(request, expired, session)
            try:
                return await handler(request, session, form)
            except PortalError as error:
                if rerender is None or error.status in (403, 404):
                    return error_page(request, error, session)
                return await rerender(request, session, form, error)

        return endpoint

    return wrap


def anonymous_form_ok(request: Request, form: FormData) -> bool:
    """The double-submit check for forms posted before sign-in (login CSRF)."""
    cookie = request.cookies.get(ANON_CSRF_COOKIE)
    return cookie is not None and csrf_matches(cookie, _text(form.get("csrf_token")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None

"""Sign-in, sign-out, setting a password through a one-time link, and reset requests."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.portal.account_service import csrf_matches
from uid2.portal.errors import PortalError
from uid2.portal.web import (
    SESSION_COOKIE,
    anonymous_form_ok,
    call,
    client_address,
    form_values,
    portal_of,
    redirect,
    render,
    session_of,
    set_cookie,
)

log = logging.getLogger("uid2.portal")


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through the portal.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _throttled(request: Request) -> PortalError | None:
    portal = portal_of(request)
    wait_s = portal.limiter.allow(client_address(request), portal.clock_ms())
    if wait_s is None:
        return None
    return PortalError(429, f"too many attempts from your address: wait {wait_s} seconds")


def _expired_form() -> PortalError:
    return PortalError(403, "this form has expired: reload the page and try again")


async def login_page(request: Request) -> Response:
    if await session_of(request) is not None:
        return redirect(_safe_next(request.query_params.get("next")))
    form = {"next": request.query_params.get("next", "")}
    return render(request, "login.html", {"form": form})


async def login(request: Request) -> Response:
    form = await request.form()
    values = form_values(form, exclude=("password",))
    problem = None if anonymous_form_ok(request, form) else _expired_form()
    problem = problem or _throttled(request)
    if problem is None:
        try:
            session = await call(
                portal_of(request).accounts.log_in,
                str(form.get("email", "")),
                str(form.get("password", "")),
            )
        except PortalError as error:
            problem = error
    if problem is not None:
        context = {"form": values, "errors": {"_form": problem.message}}
        response = render(request, "login.html", context, status=problem.status)
        if problem.status == 429:
            response.headers["Retry-After"] = "60"
        return response
    response = redirect(_safe_next(str(form.get("next", ""))))
    max_age = (session.expires_ms - portal_of(request).clock_ms()) // 1000
    set_cookie(request, response, SESSION_COOKIE, session.token, max_age=max(1, max_age))
    return response


async def logout(request: Request) -> Response:
    session = await session_of(request)
    form = await request.form()
    if session is not None and csrf_matches(session.csrf_token, str(form.get("csrf_token", ""))):
        await call(portal_of(request).accounts.log_out, session.token)
    response = redirect("/login", "signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def set_password_page(request: Request) -> Response:
    token = request.path_params["token"]
    is_open = await call(portal_of(request).accounts.link_is_open, token)
    return render(request, "set_password.html", {"link_open": is_open})


async def set_password(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    password, again = str(form.get("password", "")), str(form.get("password_again", ""))
    problem = None if anonymous_form_ok(request, form) else _expired_form()
    problem = problem or _throttled(request)
    if problem is None and password != again:
        problem = PortalError(400, "the two passwords differ", "password_again")
    if problem is None:
        try:
            await call(portal_of(request).accounts.redeem_link, token, password)
            return redirect("/login", "password-set")
        except PortalError as error:
            problem = error
    errors = {problem.field or "_form": problem.message}
    context = {"link_open": True, "errors": errors}
    return render(request, "set_password.html", context, status=problem.status)


async def forgot_password_page(request: Request) -> Response:
    return render(request, "forgot_password.html", {})


async def forgot_password(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", ""))
    problem = None if anonymous_form_ok(request, form) else _expired_form()
    problem = problem or _throttled(request)
    if problem is not None:
        context = {"form": {"email": email}, "errors": {"_form": problem.message}}
        return render(request, "forgot_password.html", context, status=problem.status)
    portal = portal_of(request)
    token = await call(portal.accounts.request_reset, email)
    link = None
    if token is not None and portal.settings.dev_mode:
        link = portal.link_url(request, token)
        log.info("password reset link (development mode): %s", link)
    # Without a mail server the link reaches nobody outside development: a platform admin
    # can issue one from the Users page. The answer never tells whether the account exists.
    return render(request, "forgot_password.html", {"sent": True, "dev_link": link})


def auth_routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/set-password/{token}", set_password_page, methods=["GET"]),
        Route("/set-password/{token}", set_password, methods=["POST"]),
        Route("/forgot-password", forgot_password_page, methods=["GET"]),
        Route("/forgot-password", forgot_password, methods=["POST"]),
    ]

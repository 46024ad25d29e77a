"""Sign-in, sessions, CSRF, lockout, rate limits and one-time links, over the HTML forms."""

from __future__ import annotations

import logging
import re

import pytest
from portal_world import ADMIN, ALICE, BASE_URL, BOB, PASSWORD, World

from uid2.portal.settings import PortalSettings
from uid2.portal.web import ANON_CSRF_COOKIE, SESSION_COOKIE

MINUTE_MS = 60_000
LINK = re.compile(r"https://testserver/set-password/([A-Za-z0-9_-]+)")


def test_sign_in_sets_a_secure_httponly_samesite_session_cookie(world: World) -> None:
    client = world.client()
    response = client.sign_in(ALICE)
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get(f"/p/{world.sites['news']}").status_code == 200


def test_a_wrong_password_or_unknown_email_gets_the_same_generic_answer(world: World) -> None:
    client = world.client()
    wrong = client.sign_in(ALICE, "not the password at all")
    unknown = client.sign_in("nobody@nowhere.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "invalid email or password" in wrong.text and "invalid email or password" in unknown.text
    assert SESSION_COOKIE not in client.cookies


def test_the_login_form_needs_its_csrf_cookie(world: World) -> None:
    client = world.client()
    client.get("/login")
    client.cookies.delete(ANON_CSRF_COOKIE)
    response = client.post("/login", data={"email": ALICE, "password": PASSWORD, "csrf_token": "x"})
    assert response.status_code == 403 and SESSION_COOKIE not in client.cookies


def test_five_failures_lock_the_account_for_fifteen_minutes(world: World) -> None:
    client = world.client()
    for _ in range(5):
        assert client.sign_in(ALICE, "wrong password!!").status_code == 401
    locked = client.sign_in(ALICE)  # even the right password
    assert locked.status_code == 429 and "try again in 15 minute" in locked.text
    world.clock.advance(15 * MINUTE_MS)
    assert client.sign_in(ALICE).status_code == 303
    assert "user.locked" in world.audit_actions()


def test_a_success_resets_the_failure_count(world: World) -> None:
    client = world.client()
    for _ in range(4):
        client.sign_in(ALICE, "wrong password!!")
    assert client.sign_in(ALICE).status_code == 303
    other = world.client()
    for _ in range(4):
        assert other.sign_in(ALICE, "wrong password!!").status_code == 401
    assert other.sign_in(ALICE).status_code == 303


def test_attempts_per_address_are_rate_limited(world: World) -> None:
    client = world.client(PortalSettings(login_attempts_per_minute=3))
    for _ in range(3):
        client.sign_in("x@y.example", "whatever password")
    limited = client.sign_in(ALICE)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    world.clock.advance(MINUTE_MS)
    assert client.sign_in(ALICE).status_code == 303


def test_signed_in_forms_refuse_a_missing_or_foreign_csrf_token(world: World) -> None:
    client = world.client()
    client.sign_in(ALICE)
    news = world.sites["news"]
    data = {"name": "k1", "roles": "GENERATOR"}
    assert client.post(f"/p/{news}/api-keys", data=data).status_code == 403
    other = world.client()
    other.sign_in(BOB)
    foreign = other.csrf(f"/p/{news}/api-keys")
    response = client.post(f"/p/{news}/api-keys", data={**data, "csrf_token": foreign})
    assert response.status_code == 403
    assert "apikey.create" not in world.audit_actions()


def test_sign_out_ends_the_session_on_the_server(world: World) -> None:
    client = world.client()
    client.sign_in(ALICE)
    token = client.cookies[SESSION_COOKIE]
    csrf = client.csrf(f"/p/{world.sites['news']}")
    assert (
        client.post("/logout", data={"csrf_token": csrf}).headers["location"].startswith("/login")
    )
    replay = world.client()
    replay.cookies.set(SESSION_COOKIE, token, domain="testserver.local")  # the client's jar name
    assert replay.cookies.get(SESSION_COOKIE) == token
    assert replay.get(f"/p/{world.sites['news']}").headers["location"].startswith("/login")


def test_sessions_expire(world: World) -> None:
    client = world.client(PortalSettings(session_lifetime_minutes=30))
    client.sign_in(ALICE)
    world.clock.advance(31 * MINUTE_MS)
    assert client.get("/").headers["location"].startswith("/login")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(world: World, target: str) -> None:
    client = world.client()
    token = client.csrf("/login")
    data = {"email": ALICE, "password": PASSWORD, "csrf_token": token, "next": target}
    assert client.post("/login", data=data).headers["location"] == "/"


def test_pages_carry_security_headers_and_are_not_cached(world: World) -> None:
    response = world.client().get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


def _invite(world: World, email: str) -> str:
    admin = world.client()
    admin.sign_in(ALICE)
    news = world.sites["news"]
    page = admin.submit(
        f"/p/{news}/team", f"/p/{news}/team/invite", {"email": email, "role": "operations"}
    )
    found = LINK.search(page.text)
    assert page.status_code == 200 and found is not None
    return found.group(1)


def _set_password(world: World, token: str, password: str, again: str | None = None) -> object:
    client = world.client()
    csrf = client.csrf("/login")  # the same anonymous token; a spent link shows no form
    data = {"password": password, "password_again": again or password, "csrf_token": csrf}
    return client.post(f"/set-password/{token}", data=data)


def test_an_invitee_sets_a_password_once_through_the_link(world: World) -> None:
    token = _invite(world, "new@news.example")
    assert world.client().sign_in("new@news.example", "").status_code == 401  # no password yet
    short = _set_password(world, token, "short")
    assert short.status_code == 400 and "at least 12 characters" in short.text  # type: ignore[attr-defined]
    differ = _set_password(world, token, PASSWORD, PASSWORD + "x")
    assert differ.status_code == 400 and "differ" in differ.text  # type: ignore[attr-defined]
    assert _set_password(world, token, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    assert world.client().sign_in("new@news.example").status_code == 303
    again = _set_password(world, token, "another long password")
    assert again.status_code == 400 and "invalid, used or expired" in again.text  # type: ignore[attr-defined]
    assert "invalid, used or expired" in world.client().get(f"/set-password/{token}").text


def test_a_new_invite_link_voids_the_old_one(world: World) -> None:
    first = _invite(world, "new@news.example")
    admin = world.client()
    admin.sign_in(ALICE)
    news = world.sites["news"]
    with world.uow() as uow:
        user = uow.users.get_by_email("new@news.example")
    assert user is not None
    page = admin.submit(f"/p/{news}/team", f"/p/{news}/team/{user.user_id}/resend", {})
    second = LINK.search(page.text)
    assert second is not None and second.group(1) != first
    assert _set_password(world, first, PASSWORD).status_code == 400  # type: ignore[attr-defined]
    assert _set_password(world, second.group(1), PASSWORD).status_code == 303  # type: ignore[attr-defined]


def test_invite_links_expire_after_seven_days(world: World) -> None:
    token = _invite(world, "late@news.example")
    world.clock.advance(7 * 24 * 60 * MINUTE_MS)
    page = world.client().get(f"/set-password/{token}")
    assert "invalid, used or expired" in page.text


def test_reset_links_are_shown_and_logged_only_in_development(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    production = world.client()
    page = production.submit("/forgot-password", "/forgot-password", {"email": ALICE})
    assert page.status_code == 200 and LINK.search(page.text) is None
    dev = world.client(PortalSettings(dev_mode=True, login_attempts_per_minute=100))
    with caplog.at_level(logging.INFO, logger="uid2.portal"):
        page = dev.submit("/forgot-password", "/forgot-password", {"email": ALICE})
    found = LINK.search(page.text)
    assert found is not None and found.group(0) in caplog.text
    unknown = dev.submit("/forgot-password", "/forgot-password", {"email": "no@one.example"})
    assert LINK.search(unknown.text) is None and "If an account has this email" in unknown.text
    assert _set_password(world, found.group(1), "a brand new password").status_code == 303  # type: ignore[attr-defined]
    assert world.client().sign_in(ALICE, "a brand new password").status_code == 303
    assert world.client().sign_in(ALICE).status_code == 401


def test_a_password_reset_ends_existing_sessions(world: World) -> None:
    signed_in = world.client()
    signed_in.sign_in(ALICE)
    dev = world.client(PortalSettings(dev_mode=True, login_attempts_per_minute=100))
    page = dev.submit("/forgot-password", "/forgot-password", {"email": ALICE})
    found = LINK.search(page.text)
    assert found is not None
    _set_password(world, found.group(1), "a brand new password")
    assert signed_in.get("/").headers["location"].startswith("/login")


def test_a_locked_user_is_signed_out_and_cannot_sign_in(world: World) -> None:
    bob = world.client()
    bob.sign_in(BOB)
    admin = world.client()
    admin.sign_in(ADMIN)
    with world.uow() as uow:
        user = uow.users.get_by_email(BOB)
    assert user is not None
    response = admin.submit(
        "/platform/users", f"/platform/users/{user.user_id}/lock", {"lock": "yes"}
    )
    assert response.status_code == 303
    assert bob.get("/").headers["location"].startswith("/login")
    assert world.client().sign_in(BOB).status_code == 401


def test_no_secret_reaches_the_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        client = world.client()
        client.sign_in(ALICE)
        world.client().sign_in(BOB, "wrong password here")
        token = client.cookies[SESSION_COOKIE]
    assert PASSWORD not in caplog.text and token not in caplog.text
    assert BASE_URL  # the client talks HTTPS, so the Secure cookie came back

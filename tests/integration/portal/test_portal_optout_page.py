"""The consumer opt-out page (/optout): two steps, a signed confirmation, a per-address limit,
and one answer for every identity, over a real store."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import pytest
from portal_world import ADMIN, CSRF, World

from uid2.admin import RecordOptOut, record_optout
from uid2.admin.reports import lookup_optout
from uid2.core.enums import IdentityType
from uid2.portal.settings import PortalSettings
from uid2.portal.web import ANON_CSRF_COOKIE

MINUTE_MS = 60_000
EMAIL = "Jane.Doe+News@Example.com"
PHONE = "+14155550123"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
CONFIRM_HEADING = "Confirm your opt-out"
DONE_HEADING = "Opt-out recorded"
LIBERAL = PortalSettings(login_attempts_per_minute=10_000, optout_attempts_per_minute=10_000)


def recorded(world: World) -> int:
    with world.uow() as uow:
        return len(uow.optouts.list_since(0))


def opted_out(world: World, identity_type: IdentityType, value: str) -> bool:
    return lookup_optout(RecordOptOut(identity_type, value), world.uow()).opted_out


def start(client: Any, identity_type: str, identity: str) -> Any:
    """Step one: the form, as a browser posts it after showing /optout."""
    return client.submit(
        "/optout", "/optout", {"identity_type": identity_type, "identity": identity}
    )


def carried(confirm_page: Any) -> dict[str, str]:
    """The hidden fields of the confirmation page's form (the CSRF token included)."""
    assert confirm_page.status_code == 200 and CONFIRM_HEADING in confirm_page.text
    return {name: html.unescape(value) for name, value in HIDDEN.findall(confirm_page.text)}


def opt_out(client: Any, identity_type: str, identity: str) -> Any:
    """Both steps; the answer to the second."""
    return client.post("/optout/confirm", data=carried(start(client, identity_type, identity)))


@pytest.mark.parametrize(
    ("kind", "identity_type", "value"),
    [("email", IdentityType.Email, EMAIL), ("phone", IdentityType.Phone, PHONE)],
)
def test_two_steps_record_exactly_one_optout(
    world: World, kind: str, identity_type: IdentityType, value: str
) -> None:
    client = world.client(LIBERAL)
    form = client.get("/optout")
    assert form.status_code == 200 and 'action="/optout"' in form.text
    assert '<label for="identity">' in form.text and "<legend>" in form.text

    confirm = start(client, kind, value)
    fields = carried(confirm)
    assert fields["identity_type"] == kind and fields["identity"] == value
    assert html.escape(value) in confirm.text and "cannot be undone" in confirm.text
    assert 'action="/optout/confirm"' in confirm.text
    assert confirm.headers["cache-control"] == "no-store"
    assert recorded(world) == 0 and not opted_out(world, identity_type, value)

    done = client.post("/optout/confirm", data=fields)
    assert done.status_code == 200 and DONE_HEADING in done.text
    assert value not in done.text and html.escape(value) not in done.text
    assert recorded(world) == 1
    assert opted_out(world, identity_type, value)
    with world.uow() as uow:
        entry = uow.audit.list_all()[-1]
    assert entry.action == "optout.add" and entry.actor == "portal:optout-page"


def test_the_email_is_matched_after_normalisation(world: World) -> None:
    client = world.client(LIBERAL)
    assert opt_out(client, "email", "  JaneDoe@gmail.com ").status_code == 200
    assert opted_out(world, IdentityType.Email, "jane.doe+ads@gmail.com")


@pytest.mark.parametrize(
    ("identity_type", "identity", "field", "message"),
    [
        ("email", "not-an-email", "identity", "Enter a valid email address"),
        ("email", "", "identity", "Enter your email address"),
        ("email", "a@" + "b" * 300 + ".example", "identity", "Enter a valid email address"),
        ("phone", "12345678901", "identity", "international format"),
        ("phone", "+1 234 567 8901", "identity", "international format"),
        ("phone", "jane@example.com", "identity", "international format"),
        ("fax", "+12345678901", "identity_type", "choose email or phone"),
    ],
)
def test_an_invalid_identity_is_refused_next_to_its_field_and_kept(
    world: World, identity_type: str, identity: str, field: str, message: str
) -> None:
    client = world.client(LIBERAL)
    refused = start(client, identity_type, identity)
    assert refused.status_code == 400 and CONFIRM_HEADING not in refused.text
    shown = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', refused.text)
    assert shown is not None and message in shown.group(1)
    if field == "identity":
        assert 'aria-invalid="true" aria-describedby="identity-error"' in refused.text
        assert f'value="{html.escape(identity[:256])}"' in refused.text  # kept, to be corrected
    else:
        assert 'aria-describedby="identity_type-error"' in refused.text
    if identity_type == "phone":
        assert 'value="phone" checked' in refused.text
    assert "confirmation" not in dict(HIDDEN.findall(refused.text))
    assert recorded(world) == 0


def test_the_record_step_needs_the_confirmation_page(world: World) -> None:
    client = world.client(LIBERAL)
    csrf = client.csrf("/optout")
    bare = {"identity_type": "email", "identity": EMAIL, "csrf_token": csrf}
    fields = carried(start(client, "email", EMAIL))
    other = carried(start(client, "email", "someone.else@example.com"))
    token = fields["confirmation"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    attempts = [
        bare,  # no token at all
        {**bare, "confirmation": ""},
        {**bare, "confirmation": "garbage"},
        {**fields, "confirmation": flipped},  # tampered signature
        {**fields, "confirmation": f"{world.clock() + 1}.{token.partition('.')[2]}"},  # time
        {**fields, "confirmation": other["confirmation"]},  # another identity's token
        {**fields, "identity": "someone.else@example.com"},  # the identity swapped
        {**fields, "identity_type": "phone"},
        {**fields, "identity": "not-an-email"},
    ]
    for data in attempts:
        refused = client.post("/optout/confirm", data=data)
        assert refused.status_code == 400, data
        assert "not valid or has expired" in refused.text and DONE_HEADING not in refused.text
        assert EMAIL not in refused.text  # the stale form starts empty
    assert recorded(world) == 0
    assert client.post("/optout/confirm", data=fields).status_code == 200
    assert recorded(world) == 1


def test_a_confirmation_expires_after_fifteen_minutes(world: World) -> None:
    client = world.client(LIBERAL)
    late = carried(start(client, "email", EMAIL))
    world.clock.advance(15 * MINUTE_MS + 1)
    expired = client.post("/optout/confirm", data=late)
    assert expired.status_code == 400 and "expired" in expired.text
    assert recorded(world) == 0

    in_time = carried(start(client, "email", EMAIL))
    world.clock.advance(15 * MINUTE_MS)
    assert client.post("/optout/confirm", data=in_time).status_code == 200
    assert recorded(world) == 1


def test_a_confirmation_is_bound_to_the_browser_that_was_shown_it(world: World) -> None:
    mine = world.client(LIBERAL)
    fields = carried(start(mine, "email", EMAIL))
    theirs = world.client(LIBERAL)
    csrf = theirs.csrf("/optout")
    stolen = theirs.post("/optout/confirm", data={**fields, "csrf_token": csrf})
    assert stolen.status_code == 400 and recorded(world) == 0


def test_another_worker_with_the_same_kek_accepts_the_confirmation(world: World) -> None:
    first, second = world.client(LIBERAL), world.client(LIBERAL)  # two apps, as two workers
    fields = carried(start(first, "email", EMAIL))
    # (the jar files a dotless host's cookies under "<host>.local")
    cookie = first.cookies[ANON_CSRF_COOKIE]
    second.cookies.set(ANON_CSRF_COOKIE, cookie, domain="testserver.local")
    assert second.post("/optout/confirm", data=fields).status_code == 200
    assert recorded(world) == 1


def test_both_posts_need_the_csrf_cookie_and_token(world: World) -> None:
    client = world.client(LIBERAL)
    client.get("/optout")
    data = {"identity_type": "email", "identity": EMAIL}
    no_token = client.post("/optout", data=data)
    assert no_token.status_code == 403 and CONFIRM_HEADING not in no_token.text
    assert client.post("/optout", data={**data, "csrf_token": "forged"}).status_code == 403

    fields = carried(start(client, "email", EMAIL))
    without = {k: v for k, v in fields.items() if k != "csrf_token"}
    assert client.post("/optout/confirm", data=without).status_code == 403
    forged = client.post("/optout/confirm", data={**fields, "csrf_token": "forged"})
    assert forged.status_code == 403 and EMAIL not in forged.text
    client.cookies.delete(ANON_CSRF_COOKIE)
    assert client.post("/optout/confirm", data=fields).status_code == 403
    assert recorded(world) == 0


def test_the_done_page_is_the_same_for_every_identity(world: World) -> None:
    never = "never.seen@example.com"
    seen = "seen.before@example.com"
    already = "already.out@example.com"
    # seen before: it went through step one once, and a platform admin looked it up
    carried(start(world.client(LIBERAL), "email", seen))
    admin = world.client(LIBERAL)
    admin.sign_in(ADMIN)
    lookup = {"identity_type": "email", "identity": seen, "record": "no"}
    assert admin.submit("/platform/optout", "/platform/optout", lookup).status_code == 200
    record_optout(RecordOptOut(IdentityType.Email, already), world.uow(), world.ctx())
    assert recorded(world) == 1

    answers = [opt_out(world.client(LIBERAL), "email", value) for value in (never, seen, already)]
    assert {a.status_code for a in answers} == {200}
    bodies = {CSRF.sub("", a.text) for a in answers}
    assert len(bodies) == 1 and DONE_HEADING in bodies.pop()
    assert len({a.content for a in answers}) == 1  # no per-request value to remove, even
    headers = [sorted((k, v) for k, v in a.headers.items()) for a in answers]
    assert headers[0] == headers[1] == headers[2]
    assert recorded(world) == 4  # the one already opted out is recorded again (append-only)
    assert all(opted_out(world, IdentityType.Email, v) for v in (never, seen, already))


def test_posts_are_rate_limited_per_address(world: World) -> None:
    client = world.client(
        PortalSettings(login_attempts_per_minute=10_000, optout_attempts_per_minute=3)
    )
    assert opt_out(client, "email", EMAIL).status_code == 200  # posts 1 and 2
    pending = carried(start(client, "phone", PHONE))  # post 3
    limited = client.post("/optout/confirm", data=pending)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Too many requests" in limited.text and DONE_HEADING not in limited.text
    assert PHONE not in limited.text
    again = start(client, "email", "other@example.com")
    assert again.status_code == 429 and "retry-after" in again.headers
    assert recorded(world) == 1

    world.clock.advance(MINUTE_MS)
    assert client.post("/optout/confirm", data=pending).status_code == 200
    assert recorded(world) == 2 and opted_out(world, IdentityType.Phone, PHONE)


def test_the_optout_limit_is_separate_from_the_sign_in_limit(world: World) -> None:
    client = world.client(PortalSettings(login_attempts_per_minute=1, optout_attempts_per_minute=2))
    client.sign_in("x@y.example", "whatever password")
    assert client.sign_in("x@y.example", "whatever password").status_code == 429
    assert opt_out(client, "email", EMAIL).status_code == 200
    assert recorded(world) == 1


def test_no_identity_reaches_the_logs_or_the_audit_trail(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = world.client(LIBERAL)
    with caplog.at_level(logging.DEBUG):
        opt_out(client, "email", EMAIL)
        opt_out(client, "phone", PHONE)
        start(client, "email", "bad-email-typed-by-jane")
        client.post("/optout/confirm", data={"identity_type": "email", "identity": EMAIL})
    assert recorded(world) == 2
    for secret in (EMAIL, EMAIL.lower(), "janedoe", PHONE, PHONE[1:], "bad-email-typed-by-jane"):
        assert secret.lower() not in caplog.text.lower()
    with world.uow() as uow:
        trail = repr(uow.audit.list_all()).lower()
    assert "janedoe" not in trail and "jane.doe" not in trail and PHONE[1:] not in trail


def test_the_page_is_anonymous_and_linked_from_sign_in(world: World) -> None:
    client = world.client(LIBERAL)
    assert 'href="/optout"' in client.get("/login").text
    page = client.get("/optout")
    assert page.status_code == 200 and "Sign out" not in page.text
    assert ANON_CSRF_COOKIE in client.cookies
    assert client.get("/optout/confirm").headers["location"] == "/optout"


def test_the_limit_is_read_from_the_environment() -> None:
    assert PortalSettings.from_env({}).optout_attempts_per_minute == 10
    env = {"UID2_PORTAL_OPTOUT_ATTEMPTS_PER_MINUTE": "4"}
    assert PortalSettings.from_env(env).optout_attempts_per_minute == 4

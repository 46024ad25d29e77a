"""The consumer opt-out page in Chromium, against a real `uid2 serve portal` process: the two
steps through accessible locators, the identity never in a URL, and the opt-out in the store."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest
from playwright.sync_api import Locator, Page, Request, expect
from portal_browser import CHROMIUM, NO_CHROMIUM, PortalStore

from uid2.admin import RecordOptOut
from uid2.admin.reports import lookup_optout
from uid2.core.enums import IdentityType
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine
from uid2.store.location import StoreLocation

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]

EMAIL = "Casey.Browser+Shoes@Example.org"


def expect_controls_labelled(page: Page) -> None:
    controls = page.locator("input:not([type=hidden]), select, textarea, button")
    for control in controls.filter(visible=True).all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))


def expect_field_error(field: Locator, message: str | re.Pattern[str]) -> None:
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(message)


def store_lookup(store: PortalStore, value: str) -> tuple[bool, int]:
    """Whether the store the server uses holds an opt-out for ``value``, and how many in all."""
    location = StoreLocation.from_environ(store.env)
    kek = location.kek()
    engine = make_engine(location.url())
    try:
        box = None if kek is None else SecretBox(kek)
        found = lookup_optout(
            RecordOptOut(IdentityType.Email, value), SqlAlchemyUnitOfWork(engine, box)
        )
        with SqlAlchemyUnitOfWork(engine, box, read_only=True) as uow:
            count = len(uow.optouts.list_since(0))
    finally:
        engine.dispose()
    return found.opted_out, count


def test_a_person_opts_out_an_email_in_two_steps(page: Page, portal_store: PortalStore) -> None:
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    assert store_lookup(portal_store, EMAIL) == (False, 0)

    page.goto("/login")
    page.get_by_role("link", name="Opt out of UID2 targeted advertising").click()
    expect(page.get_by_role("heading", name="Opt out of UID2", level=1)).to_be_visible()
    expect_controls_labelled(page)
    expect(page.get_by_role("group", name="What do you want to opt out?")).to_be_visible()
    expect(page.get_by_role("radio", name="Email address")).to_be_checked()
    identity = page.get_by_label("Email address or phone number")
    cont = page.get_by_role("button", name="Continue")

    # a typo: refused next to the field, what was typed is kept, nothing is recorded
    identity.fill("casey.example.org")
    cont.click()
    expect_field_error(identity, re.compile("Enter a valid email address"))
    expect(identity).to_have_value("casey.example.org")
    expect(page.get_by_role("button", name="Confirm opt-out")).to_have_count(0)

    # step one: the confirmation page says what will happen and shows the email back
    identity.fill(EMAIL)
    cont.click()
    expect(page.get_by_role("heading", name="Confirm your opt-out", level=1)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(EMAIL)
    expect(page.get_by_role("main")).to_contain_text("cannot be undone")
    expect_controls_labelled(page)
    assert store_lookup(portal_store, EMAIL) == (False, 0)

    # step two: recorded, and the answer says nothing about the email's history
    page.get_by_role("button", name="Confirm opt-out").click()
    expect(page.get_by_role("heading", name="Opt-out recorded", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Your opt-out request has been recorded.")
    expect(page.get_by_role("main")).not_to_contain_text(EMAIL)
    assert store_lookup(portal_store, EMAIL) == (True, 1)

    # the email travelled only in POST bodies, never in a URL
    posts = [r for r in requests if r.method == "POST"]
    assert [r.url.rsplit("/", 1)[-1] for r in posts] == ["optout", "optout", "confirm"]
    assert quote_plus(EMAIL) in (posts[-1].post_data or "")
    forms = {EMAIL, EMAIL.lower(), quote(EMAIL), quote_plus(EMAIL), quote(EMAIL, safe="")}
    for request in requests:
        assert not any(form.lower() in request.url.lower() for form in forms), request.url
        assert "casey" not in request.url.lower(), request.url

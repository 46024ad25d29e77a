"""The portal in a real browser: Chromium drives a `uid2 serve portal` process over HTTP.

Locators are accessible ones (labels, roles and names), so each scenario also checks that the
controls it uses are labelled. Every scenario works on its own participant or user, so the
order of the tests does not matter even though they share one server.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from portal_browser import ADMIN_EMAIL, CHROMIUM, NO_CHROMIUM, PASSWORD, PortalStore, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]


def listed(group: Locator) -> list[str]:
    """The labels of the checkboxes in a fieldset, sorted."""
    return sorted(text.strip() for text in group.locator("label").all_inner_texts())


def expect_controls_labelled(page: Page) -> None:
    """Every visible form control on the page has an accessible name."""
    controls = page.locator("input:not([type=hidden]), select, textarea, button")
    for control in controls.filter(visible=True).all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))


def expect_field_error(page: Page, field: Locator, message: str | re.Pattern[str]) -> None:
    """The field is marked invalid and described by the message shown next to it."""
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(message)


# --- 1. participants ------------------------------------------------------------------------


def test_platform_admin_creates_a_participant_with_field_errors(admin_page: Page) -> None:
    page = admin_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Participants").click()
    expect(page.get_by_role("heading", name="Participants", level=1)).to_be_visible()
    expect_controls_labelled(page)
    rows = page.get_by_role("table", name="All participants").get_by_role("row")
    count_before = rows.count()
    name = page.get_by_label("Name", exact=True)
    create = page.get_by_role("button", name="Create", exact=True)

    # an empty name: refused next to the field, the ticked types are kept, nothing is created
    page.get_by_role("checkbox", name="Publisher").check()
    create.click()
    expect_field_error(page, name, "A name is required")
    expect(page.get_by_role("checkbox", name="Publisher")).to_be_checked()
    expect(rows).to_have_count(count_before)

    # a name that exists already
    name.fill("Shoe Shop")
    create.click()
    expect_field_error(page, name, re.compile("already exists"))
    expect(name).to_have_value("Shoe Shop")
    expect(rows).to_have_count(count_before)

    # a good one, with two types
    name.fill("Garden Gazette")
    page.get_by_role("checkbox", name="Data provider").check()
    create.click()
    expect(page).to_have_url(re.compile(r"/platform/participants/\d+\?notice="))
    expect(page.get_by_role("status")).to_have_text("The participant was created.")
    heading = page.get_by_role("heading", name=re.compile(r"^Garden Gazette \(site \d+\)$"))
    expect(heading).to_be_visible()
    expect_controls_labelled(page)
    expect(page.get_by_role("checkbox", name="Publisher")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Data provider")).to_be_checked()
    expect(page.get_by_role("checkbox", name="DSP")).not_to_be_checked()

    page.goto("/platform/participants")
    expect(rows).to_have_count(count_before + 1)
    row = rows.filter(has=page.get_by_role("link", name="Garden Gazette"))
    expect(row.get_by_role("cell").nth(2)).to_have_text("data_provider, publisher")
    expect(row.get_by_role("cell").nth(3)).to_have_text("enabled")


# --- 2. team invitations --------------------------------------------------------------------

ADMIN_ROLE = "Admin: also the team and the audit trail"


def test_an_invited_admin_sets_a_password_through_the_one_time_link(
    admin_page: Page, new_context: Callable[[], BrowserContext], portal_store: PortalStore
) -> None:
    site_id = portal_store.sites["Shoe Shop"]
    page = admin_page
    page.goto(f"/p/{site_id}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team", level=1)).to_be_visible()
    expect_controls_labelled(page)

    email = page.get_by_label("Email", exact=True)
    email.fill("ivy@shoe.example")
    page.get_by_label("Role", exact=True).select_option(label=ADMIN_ROLE)
    page.get_by_role("button", name="Invite", exact=True).click()
    invitation = page.get_by_role("status")
    expect(invitation).to_contain_text("one-time link")
    link = page.locator("#invite-link").inner_text().strip()
    assert re.fullmatch(re.escape(origin_of(page)) + r"/set-password/[\w-]+", link), link
    member = page.get_by_role("table", name="Members").get_by_role("row", name=re.compile("ivy"))
    expect(member.get_by_role("cell").nth(2)).to_have_text("invited")
    expect(page.get_by_label("Role of ivy@shoe.example")).to_have_value("admin")

    # inviting the same email again is refused on the email field
    email.fill("ivy@shoe.example")
    page.get_by_role("button", name="Invite", exact=True).click()
    expect_field_error(page, email, re.compile("already a team member"))

    # the invitee, in a browser of their own
    invitee = new_context().new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Set your password")).to_be_visible()
    expect_controls_labelled(invitee)
    password = invitee.get_by_label("New password")
    again = invitee.get_by_label("Repeat the password")
    set_password = invitee.get_by_role("button", name="Set password")

    # too short: the browser's own check (minlength) stops the form...
    password.fill("too short")
    again.fill("too short")
    set_password.click()
    assert password.evaluate("input => input.validity.tooShort")
    expect(invitee).to_have_url(link)
    # ...and the server refuses it too, next to the field, when the browser does not check
    invitee.locator("form").evaluate("form => { form.noValidate = true; }")
    set_password.click()
    expect_field_error(invitee, password, re.compile("at least 12 characters"))

    invitee.get_by_label("New password").fill("ivy's long passphrase")
    invitee.get_by_label("Repeat the password").fill("ivy's long passphrase")
    invitee.get_by_role("button", name="Set password").click()
    expect(invitee).to_have_url(re.compile(r"/login\?notice=password-set$"))
    expect(invitee.get_by_role("status")).to_have_text("Your password is set. Sign in with it.")

    sign_in(invitee, "ivy@shoe.example", "ivy's long passphrase")
    expect(invitee).to_have_url(re.compile(rf"/p/{site_id}$"))
    expect(invitee.get_by_role("heading", name="Shoe Shop", level=1)).to_be_visible()
    expect(invitee.locator("dt:has-text('Your role') + dd")).to_have_text("Admin")

    # the link is spent
    invitee.goto(link)
    expect(invitee.get_by_role("alert")).to_contain_text("This link is invalid, used or expired")
    expect(invitee.get_by_label("New password")).to_have_count(0)

    page.reload()
    expect(member.get_by_role("cell").nth(2)).to_have_text("active")


def origin_of(page: Page) -> str:
    match = re.match(r"https?://[^/]+", page.url)
    assert match is not None
    return match.group(0)


# --- 3. API keys ----------------------------------------------------------------------------


def test_api_keys_are_shown_once_and_disabled_by_typing_their_id(
    admin_page: Page, portal_store: PortalStore
) -> None:
    page = admin_page
    # the permissions offered follow the participant's types
    page.goto(f"/p/{portal_store.sites['Bid Co']}/api-keys")
    permissions = page.get_by_role("group", name="Permissions")
    assert listed(permissions) == ["ID_READER", "SHARER"]

    site_id = portal_store.sites["Shoe Shop"]
    page.goto(f"/p/{site_id}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect_controls_labelled(page)
    assert listed(permissions) == ["GENERATOR", "MAPPER", "SHARER"]

    # no permission ticked: refused, nothing created
    name = page.get_by_label("Name", exact=True)
    name.fill("Checkout server")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("choose at least one permission")).to_be_visible()
    # a group cannot be aria-invalid; it is described by the message instead
    expect(permissions).to_have_accessible_description("choose at least one permission")
    expect(name).to_have_value("Checkout server")

    permissions.get_by_role("checkbox", name="GENERATOR").check()
    permissions.get_by_role("checkbox", name="MAPPER").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("will not be shown again")
    key_id = page.locator("dt:has-text('Key id') + dd").inner_text().strip()
    key = page.locator("#api-key").inner_text().strip()
    secret = page.locator("#api-secret").inner_text().strip()
    assert re.fullmatch(r"UID2-C-[A-Z]-\d+-\S+", key), key
    assert len(secret) >= 32 and key_id and key_id in key
    expect(page.locator("dt:has-text('Permissions') + dd")).to_have_text("GENERATOR, MAPPER")

    page.get_by_role("link", name=re.compile("I have saved them")).click()
    keys = page.get_by_role("table", name="Keys")
    row = keys.get_by_role("row").filter(has_text="Checkout server")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(key_id)
    expect(row).to_contain_text("GENERATOR, MAPPER")
    expect(row.get_by_role("cell").nth(4)).to_have_text("active")
    html = page.content()
    assert secret not in html and key not in html

    # disabling asks for the key id
    row.get_by_text("Edit Checkout server").click()
    expect_controls_labelled(page)  # with the edit and disable forms open
    confirm = row.get_by_label(f"Type {key_id} to disable this key")
    confirm.fill("not the id")
    row.get_by_role("button", name="Disable").click()
    # the form comes back open, with the message beside the field that needs it
    expect_field_error(page, confirm, "type the key id to confirm")
    expect(row.get_by_role("cell").nth(4)).to_have_text("active")

    confirm.fill(key_id)
    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("The API key was disabled.")
    expect(row.get_by_role("cell").nth(4)).to_have_text("disabled")
    expect(row.get_by_text("Edit Checkout server")).to_have_count(0)


# --- 4. client-side integration -------------------------------------------------------------


def test_client_side_keys_and_pasted_domains(admin_page: Page, portal_store: PortalStore) -> None:
    page = admin_page
    site_id = portal_store.sites["News Daily"]
    page.goto(f"/p/{site_id}")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Client-side integration").click()
    expect(page.get_by_role("heading", name="Client-side integration", level=1)).to_be_visible()
    nag = page.get_by_text("Client-side token generation needs at least one key")
    expect(nag).to_be_visible()

    page.get_by_label("Name of the new key").fill("Article pages")
    page.get_by_role("button", name="Create a client-side key").click()
    expect(page.get_by_role("status")).to_have_text("The client-side key was created.")
    row = page.get_by_role("table", name=re.compile("^Keys")).get_by_role("row").nth(1)
    cells = row.get_by_role("cell")
    expect(cells.nth(0)).to_have_text("Article pages")
    subscription_id = cells.nth(1).inner_text().strip()
    assert re.fullmatch(r"\w{6,}", subscription_id), subscription_id
    expect(cells.nth(2)).to_contain_text(re.compile(r"^UID2-X-[A-Z]-\S+"))
    expect(row.get_by_label(f"Type {subscription_id} to confirm")).to_be_visible()
    expect_controls_labelled(page)

    domains = page.get_by_label("Add domains")
    domains.fill("https://shop.example.com/cart, news.example.co.uk\nexample.org")
    page.get_by_role("button", name="Save domains").click()
    expect(page.get_by_role("status")).to_have_text("The domains were saved.")
    listed_domains = page.get_by_role("group", name="Listed domains (tick to remove)")
    expect(listed_domains.get_by_role("checkbox")).to_have_count(3)
    assert listed(listed_domains) == ["example.co.uk", "example.com", "example.org"]
    expect(nag).to_have_count(0)

    # an invalid entry: refused next to the field, what was typed is kept, the list is unchanged
    domains.fill("not a domain!")
    page.get_by_role("button", name="Save domains").click()
    expect_field_error(page, domains, re.compile("invalid domain"))
    expect(domains).to_have_value("not a domain!")
    assert listed(listed_domains) == ["example.co.uk", "example.com", "example.org"]

    domains.fill("")
    listed_domains.get_by_role("checkbox", name="example.co.uk").check()
    page.get_by_role("button", name="Save domains").click()
    expect(page.get_by_role("status")).to_have_text("The domains were saved.")
    expect(listed_domains.get_by_role("checkbox")).to_have_count(2)
    assert listed(listed_domains) == ["example.com", "example.org"]


# --- 5. sharing -----------------------------------------------------------------------------


def test_sharing_by_type_and_one_by_one(admin_page: Page, portal_store: PortalStore) -> None:
    page = admin_page
    sites = portal_store.sites
    site_id = sites["Sneaker Hub"]
    page.goto(f"/p/{site_id}/sharing")
    expect(page.get_by_role("alert")).to_contain_text("has no encryption keyset yet")

    # a client-side key gives the participant its keyset
    page.goto(f"/p/{site_id}/client-side")
    page.get_by_role("button", name="Create a client-side key").click()
    expect(page.get_by_role("status")).to_have_text("The client-side key was created.")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sharing").click()
    who = page.get_by_role("region", name="Who can decrypt Sneaker Hub's tokens")
    types = page.get_by_role("group", name="Types that can decrypt")
    dsp = types.get_by_role("checkbox", name="DSP")
    saved = page.get_by_role("status")

    # a new keyset is open to every bidder; unticking DSP makes an explicit, empty list
    expect(who).to_contain_text("Every bidder")
    expect_controls_labelled(page)
    expect(dsp).to_be_checked()
    dsp.uncheck()
    page.get_by_role("button", name="Save types").click()
    expect(saved).to_contain_text("Sharing permissions were saved.")
    expect(who).to_contain_text("Nobody yet.")

    # grant every DSP
    dsp.check()
    page.get_by_role("button", name="Save types").click()
    expect(saved).to_contain_text("Sharing permissions were saved.")
    expect(who.get_by_role("listitem")).to_have_text([f"Bid Co ({sites['Bid Co']}) · dsp"])
    expect(dsp).to_be_checked()
    grant_table = page.get_by_role("table", name=re.compile("^Participants"))
    bid_co = grant_table.get_by_role("row", name=re.compile("Bid Co"))
    expect(bid_co).to_contain_text("shared by type")
    expect(bid_co.get_by_role("checkbox")).to_be_disabled()

    # revoke it
    dsp.uncheck()
    page.get_by_role("button", name="Save types").click()
    expect(saved).to_contain_text("Sharing permissions were saved.")
    expect(who).to_contain_text("Nobody yet.")
    expect(dsp).not_to_be_checked()

    # grant one participant, found by searching
    search = page.get_by_role("search")
    search.get_by_label("Search").fill("data")
    search.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]q=data"))
    expect(grant_table).to_have_accessible_name("Participants matching the filter")
    expect(grant_table.get_by_role("row")).to_have_count(2)  # header and Data Mart
    grant_table.get_by_role("checkbox", name="Data Mart").check()
    page.get_by_role("button", name="Grant the ticked participants").click()
    expect(saved).to_contain_text("Sharing permissions were saved.")
    data_mart = f"Data Mart ({sites['Data Mart']}) · data_provider"
    expect(who.get_by_role("listitem")).to_have_text([data_mart])
    one_by_one = page.get_by_role("group", name="Tick to revoke")
    assert listed(one_by_one) == [f"Data Mart ({sites['Data Mart']})"]

    # revoke it (the form asks for confirmation first)
    questions: list[str] = []
    page.on("dialog", lambda dialog: questions.append(dialog.message))
    one_by_one.get_by_role("checkbox", name=re.compile("Data Mart")).check()
    page.get_by_role("button", name="Revoke").click()
    expect(who).to_contain_text("Nobody yet.")
    assert questions == ["Remove the ticked participants' permission?"]
    expect(page.get_by_text("No individual grants.")).to_be_visible()


# --- 6. signing in and out ------------------------------------------------------------------


def test_sign_out_and_a_wrong_password(page: Page, portal_store: PortalStore) -> None:
    site_id = portal_store.sites["Shoe Shop"]
    sign_in(page)
    # Secure cookies over plain http://127.0.0.1: Chromium keeps them on loopback
    session_cookies = page.context.cookies()
    session = next(c for c in session_cookies if c["name"] == "uid2_portal_session")
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?notice=signed-out$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert "uid2_portal_session" not in {c["name"] for c in page.context.cookies()}

    # the pages send you to sign in, even with the old session cookie
    page.goto(f"/p/{site_id}/api-keys")
    expect(page).to_have_url(re.compile(rf"/login\?next=/p/{site_id}/api-keys$"))
    expect_controls_labelled(page)
    page.context.add_cookies(session_cookies)
    page.goto("/platform/participants")
    expect(page).to_have_url(re.compile(r"/login\?next=/platform/participants$"))

    # a wrong password and an unknown email get the same, generic answer
    for email, password in [(ADMIN_EMAIL, "not the password"), ("nobody@example.com", PASSWORD)]:
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password").fill(password)
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="Sign in").click()
        assert answer.value.status == 401
        expect(page.get_by_role("alert")).to_have_text("invalid email or password")
        expect(page.get_by_label("Email", exact=True)).to_have_value(email)
        expect(page.get_by_label("Password")).to_have_value("")

    # signing in from there goes back to the page asked for
    page.get_by_label("Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/platform/participants$"))
    expect(page.get_by_role("heading", name="Participants", level=1)).to_be_visible()

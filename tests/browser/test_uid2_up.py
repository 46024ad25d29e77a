"""`uid2 up` end to end: the whole stack as one subprocess, its demo sites in Chromium.

One `uid2 up` runs for the module (UID2_HOME in a temporary directory, five free ports). A
shopper buys on the demo shop; the DSP's receiver must store the raw UID2 that
/v3/identity/map gives for the email, and the browser must never send the email, its hash or
the raw UID2 anywhere. The ad page then closes the loop through the advertiser's receiver.
The last test stops `uid2 up` with SIGINT and runs it again on the same data.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect
from portal_browser import CHROMIUM, NO_CHROMIUM
from uid2_up_stack import CHILDREN, CLEAN_EXITS, UpStack, pick_base_port

from uid2 import IdentityMapV3Client, IdentityMapV3Input
from uid2.core.dii import hash_dii, hash_dii_b64, normalize_email

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]

EMAIL = "Jane.Doe+shoes@example.com"
ACTION_TIMEOUT_MS = 15_000
PLATFORM_ADMIN = "admin@demo.uid2.example"  # uid2.cli.demo_seed.LOGINS
DEMO_PARTICIPANTS = ("Demo Shoe Shop", "Demo Bid Co", "Demo Data Co")


@dataclass(frozen=True)
class Seen:
    """One request the page made: its URL and body (empty for a GET)."""

    method: str
    url: str
    body: bytes

    @classmethod
    def of(cls, request: Request) -> Seen:
        return cls(request.method, request.url, request.post_data_buffer or b"")


@dataclass(frozen=True)
class Purchase:
    raw_uid: str  # what /v3/identity/map returns for EMAIL
    event: dict[str, Any]  # the DSP receiver's event
    requests: list[Seen]
    local_storage: str


@dataclass(frozen=True)
class AdVisit:
    event: dict[str, Any]  # the advertiser receiver's event
    requests: list[Seen]
    html: str  # as served
    dom: str  # as rendered


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpStack]:
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    root = tmp_path_factory.mktemp("uid2-up")
    up = UpStack(home=root / "home", logs=root, base=pick_base_port())
    up.start()
    try:
        yield up
    finally:
        if up.process is not None:
            code, _ = up.stop()
            leftovers = up.leftovers()
            up.kill()
            assert code in CLEAN_EXITS, f"uid2 up exited {code} on SIGINT:\n{up.stderr()}"
            assert not leftovers, f"children left running: {leftovers}"


def _context(browser: Browser) -> BrowserContext:
    context = browser.new_context()
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    return context


def _record(page: Page) -> list[Seen]:
    seen: list[Seen] = []
    page.on("request", lambda request: seen.append(Seen.of(request)))
    return seen


def _map_email(stack: UpStack, email: str) -> str:
    mapper = stack.demo()["keys"]["data_mapper"]
    client = IdentityMapV3Client(stack.operator_url, mapper["key"], mapper["secret"])
    try:
        response = client.generate_identity_map(IdentityMapV3Input.from_emails([email]))
    finally:
        client.close()
    raw_uid: str = response.mapped_identities[email].current_raw_uid
    return raw_uid


def _last_seq(rows: list[dict[str, Any]]) -> int:
    return max((int(row["seq"]) for row in rows), default=0)


@pytest.fixture(scope="module")
def purchase(stack: UpStack, browser: Browser) -> Purchase:
    """A shopper buys on the demo shop; returns the DSP receiver's new event."""
    raw_uid = _map_email(stack, EMAIL)
    db = stack.printed_events_db()  # the command the summary prints, used as printed
    before = _last_seq(stack.events(db))
    context = _context(browser)
    try:
        page = context.new_page()
        seen = _record(page)
        page.goto(stack.demo_url + "/shop")
        page.get_by_label("Email for your receipt").fill(EMAIL)
        page.get_by_role("button", name="Buy").click()
        expect(page.locator("#result")).to_have_attribute("data-status", "sent")
        new = stack.wait_for_events(db, lambda rows: [r for r in rows if r["seq"] > before])
        local_storage = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    finally:
        context.close()
    assert len(new) == 1, f"one purchase, one event: {new}"
    return Purchase(raw_uid, new[0], seen, local_storage)


@pytest.fixture(scope="module")
def ad_visit(stack: UpStack, browser: Browser, purchase: Purchase) -> AdVisit:
    """The shopper (a fresh browser) is shown the DSP's ad after the purchase."""
    before = _last_seq(stack.events(stack.advertiser_db))
    context = _context(browser)
    try:
        page = context.new_page()
        seen = _record(page)
        with page.expect_request_finished(lambda r: "/px/creative" in r.url):
            response = page.goto(stack.demo_url + "/ad")
        assert response is not None and response.ok
        html = response.text()
        expect(page.locator("img#creative-pixel")).to_be_attached()
        dom = page.content()
        new = stack.wait_for_events(
            stack.advertiser_db, lambda rows: [r for r in rows if r["seq"] > before]
        )
    finally:
        context.close()
    assert len(new) == 1, f"one ad, one impression: {new}"
    return AdVisit(new[0], seen, html, dom)


# --- helpers for the leak checks ------------------------------------------------------------


def _b64_variants(b64: str) -> list[str]:
    """A base64 value as it could travel: standard, URL-safe, unpadded."""
    url_safe = b64.replace("+", "-").replace("/", "_")
    return [b64, url_safe, b64.rstrip("="), url_safe.rstrip("=")]


def _forms(text: str) -> str:
    """The text, percent-decoded and form-decoded too, all lower case."""
    return "\n".join((text, unquote(text), unquote_plus(text))).lower()


def _leaks(seen: list[Seen], secrets: list[str]) -> list[str]:
    found = []
    for request in seen:
        haystack = _forms(request.url) + "\n" + _forms(request.body.decode("latin-1"))
        found += [
            f"{secret!r} in {request.method} {request.url}"
            for secret in secrets
            if secret.lower() in haystack
        ]
    return found


# --- 1. the tracking pixel ------------------------------------------------------------------


def test_shop_purchase_stores_the_raw_uid2_identity_map_returns(
    stack: UpStack, purchase: Purchase
) -> None:
    event = purchase.event
    assert event["raw_uid2"] == purchase.raw_uid
    assert (event["kind"], event["event"], event["status"]) == ("tracking", "purchase", "SUCCESS")
    # the token was made with the shop's CSTG key: its site is the sender
    assert event["sender_site_id"] == stack.demo()["sites"]["Demo Shoe Shop"]
    assert event["params"].get("value") == "89.00"
    # the pixel went from the browser to the DSP's receiver
    dsp_host = stack.receiver_hosts[0]
    assert any(f"//{dsp_host}/px/tracking?" in r.url for r in purchase.requests)


# --- 2. nothing identifying leaves the page -------------------------------------------------


def test_shop_never_sends_the_email_its_hash_or_the_raw_uid2(purchase: Purchase) -> None:
    normalized = normalize_email(EMAIL)
    assert normalized is not None
    secrets = [
        EMAIL,
        normalized,
        *_b64_variants(hash_dii_b64(normalized)),
        hash_dii(normalized).hex(),
        hashlib.sha256(EMAIL.encode()).hexdigest(),  # the un-normalised email, hashed
        *_b64_variants(base64.b64encode(hashlib.sha256(EMAIL.encode()).digest()).decode()),
        *_b64_variants(purchase.raw_uid),
    ]
    urls = [r.url for r in purchase.requests]
    # the page, its scripts, client-side generation and the pixel were all seen
    assert any(url.endswith("/v2/token/client-generate") for url in urls), urls
    assert any("/px/tracking?" in url for url in urls), urls
    assert _leaks(purchase.requests, secrets) == []
    # the identity kept in localStorage holds neither the email nor its hash
    stored = purchase.local_storage.lower()
    assert [s for s in secrets if s.lower() in stored] == []


# --- 3. the creative pixel closes the loop --------------------------------------------------


def test_ad_page_creative_pixel_reaches_the_advertiser_with_the_same_raw_uid2(
    stack: UpStack, purchase: Purchase, ad_visit: AdVisit
) -> None:
    event = ad_visit.event
    assert (event["kind"], event["event"], event["status"]) == (
        "creative",
        "impression",
        "SUCCESS",
    )
    assert event["raw_uid2"] == purchase.raw_uid
    assert event["sender_site_id"] == stack.demo()["sites"]["Demo Bid Co"]
    advertiser_host = stack.receiver_hosts[1]
    pixels = [r.url for r in ad_visit.requests if f"//{advertiser_host}/px/creative?" in r.url]
    assert len(pixels) == 1, [r.url for r in ad_visit.requests]
    assert "uid2_token=" in pixels[0]
    # the DSP put a token in the page, never the raw UID2
    raw_forms = _b64_variants(purchase.raw_uid)
    for text in (ad_visit.html, ad_visit.dom):
        assert [f for f in raw_forms if f.lower() in _forms(text)] == []
    assert _leaks(ad_visit.requests, raw_forms) == []


# --- 5. the summary and the portal ----------------------------------------------------------


def test_summary_lists_the_portal_and_logins_that_sign_in(stack: UpStack, browser: Browser) -> None:
    portal = stack.printed_url("portal")
    assert portal == stack.portal_url
    assert stack.printed_url("demo shop") == stack.demo_url + "/shop"
    assert stack.printed_url("demo ad page") == stack.demo_url + "/ad"
    logins = stack.printed_logins()
    assert PLATFORM_ADMIN in logins, stack.stdout()
    assert {login["email"] for login in stack.demo()["logins"]} == set(logins)

    context = _context(browser)
    try:
        page = context.new_page()
        page.goto(portal + "/login")
        page.get_by_label("Email").fill(PLATFORM_ADMIN)
        page.get_by_label("Password").fill(logins[PLATFORM_ADMIN])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        # a platform admin: the participants page lists the seeded demo
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Participants").click()
        table = page.get_by_role("table", name="All participants")
        for name in DEMO_PARTICIPANTS:
            expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    finally:
        context.close()


# --- 4. Ctrl-C, and a second run on the same data (keep this test last) ---------------------


def test_sigint_stops_everything_and_a_second_run_reuses_the_data(
    stack: UpStack, purchase: Purchase, ad_visit: AdVisit
) -> None:
    assert len(stack.children) == CHILDREN, stack.children
    assert all(" serve " in cmd for cmd in stack.children.values()), stack.children
    demo_before = (stack.home / "demo.json").read_text()
    dsp_before = stack.events(stack.dsp_db)
    advertiser_before = stack.events(stack.advertiser_db)
    assert purchase.event in dsp_before and ad_visit.event in advertiser_before

    code, seconds = stack.stop()
    assert code in CLEAN_EXITS, f"uid2 up exited {code} on SIGINT:\n{stack.stderr()}"
    assert seconds < 20
    assert stack.leftovers() == {}
    assert re.search(r"error|traceback", stack.stderr(), re.I) is None, stack.stderr()

    stack.start()  # same UID2_HOME, same ports
    assert (stack.home / "demo.json").read_text() == demo_before  # same sites, keys, logins
    assert stack.events(stack.dsp_db) == dsp_before
    assert stack.events(stack.advertiser_db) == advertiser_before
    # the reused mapper key still works, and the email still maps to the same raw UID2
    assert _map_email(stack, EMAIL) == purchase.raw_uid
    # the fixture stops this second run with SIGINT and checks it the same way

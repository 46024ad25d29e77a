"""Browser-test fixtures: one seeded store, one portal process and one Chromium per module;
a fresh browser context (no cookies) per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from portal_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NO_CHROMIUM,
    PortalStore,
    accept_dialogs,
    seed_store,
    serve_portal,
    sign_in,
)

NAVIGATION_TIMEOUT_MS = 15_000
ACTION_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def portal_store(tmp_path_factory: pytest.TempPathFactory) -> PortalStore:
    if not CHROMIUM.exists():  # skip before paying for the store and the server
        pytest.skip(NO_CHROMIUM)
    return seed_store(tmp_path_factory.mktemp("portal-home"))


@pytest.fixture(scope="module")
def portal_url(portal_store: PortalStore) -> Iterator[str]:
    with serve_portal(portal_store) as url:
        yield url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture
def new_context(browser: Browser, portal_url: str) -> Iterator[Callable[[], BrowserContext]]:
    """Opens more browser contexts (another user, no shared cookies); all closed afterwards."""
    opened: list[BrowserContext] = []

    def open_context() -> BrowserContext:
        context = browser.new_context(base_url=portal_url)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Page:
    context = new_context()
    tab = context.new_page()
    accept_dialogs(tab)
    return tab


@pytest.fixture
def admin_page(page: Page) -> Page:
    """A page signed in as the platform admin."""
    sign_in(page)
    return page

"""uid2-pixel.js in Chromium, against a real operator over a real control plane.

The page (http://localhost) loads src/uid2/pixel/static/uid2-pixel.js, makes tokens with
client-side token generation and fires pixels at a stub receiver; the tokens the receiver gets
are decrypted with our SDK (BidstreamClient) and compared with /v3/identity/map. Each test
runs in a fresh browser context, so localStorage starts empty.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
from pixel_js_world import PixelWorld, pixel_world
from playwright.sync_api import Browser, Page, Request, Route
from portal_browser import CHROMIUM, NO_CHROMIUM

from uid2.core.dii import hash_dii, hash_dii_b64, is_phone_valid, normalize_email
from uid2.core.encoding import b64encode

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "normalization.json").read_text("utf-8")
)
STORAGE_KEY = "uid2-pixel-identity"
CSTG = "/v2/token/client-generate"
REFRESH = "/v2/token/refresh"


class Tab:
    """One page of the publisher's site, with every request the page made."""

    def __init__(self, page: Page, world: PixelWorld) -> None:
        self.page = page
        self.world = world
        self.requests: list[Request] = []
        page.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        self.requests.append(request)

    def create(self, **overrides: object) -> None:
        self.page.evaluate(
            "config => { window.pixel = uid2Pixel.create(config); }",
            self.world.sdk_config(**overrides),
        )

    def fire(self, event: str, dii: dict[str, str], params: dict[str, Any] | None = None) -> Any:
        return self.page.evaluate(
            "([event, dii, params]) => window.pixel.fire(event, dii, params)",
            [event, dii, params],
        )

    def operator_calls(self, path: str) -> list[Request]:
        url = self.world.operator_url + path
        return [r for r in self.requests if r.url.split("?")[0] == url]

    def pixel_requests(self) -> list[Request]:
        return [r for r in self.requests if r.url.startswith(self.world.pixel_url)]

    def stored_text(self) -> str | None:
        text: str | None = self.page.evaluate("k => localStorage.getItem(k)", STORAGE_KEY)
        return text

    def stored(self) -> dict[str, Any]:
        text = self.stored_text()
        assert text is not None
        record: dict[str, Any] = json.loads(text)
        return record

    def edit_identity(self, **fields: object) -> None:
        """Changes fields of the stored identity, as time passing (or damage) would."""
        self.page.evaluate(
            """([key, fields]) => {
                const record = JSON.parse(localStorage.getItem(key));
                Object.assign(record.identity, fields);
                localStorage.setItem(key, JSON.stringify(record));
            }""",
            [STORAGE_KEY, fields],
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PixelWorld]:
    if not CHROMIUM.exists():  # skip before paying for the operator
        pytest.skip(NO_CHROMIUM)
    with pixel_world(tmp_path_factory.mktemp("pixel-js")) as made:
        yield made


@pytest.fixture
def tab(browser: Browser, world: PixelWorld) -> Iterator[Tab]:
    context = browser.new_context(base_url=world.site_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    opened = Tab(page, world)
    page.goto("/")
    opened.create()
    yield opened
    context.close()


def token_of(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("uid2_token")
    return None if values is None else values[0]


def status_of(request: Request) -> int | None:
    response = request.response()
    return None if response is None else response.status


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def forms(secret: str) -> set[str]:
    """The ways a string could show up in a URL or a body."""
    return {secret, secret.lower(), quote(secret, safe=""), quote_plus(secret)}


def assert_not_sent(requests: list[Request], secrets: list[str]) -> None:
    for request in requests:
        body = (request.post_data_buffer or b"").decode("latin-1")
        for secret in secrets:
            for form in forms(secret):
                assert form not in request.url, (request.url, secret)
                assert form not in body, (request.url, secret)


# --- normalisation ------------------------------------------------------------------------------


def test_the_normaliser_agrees_with_the_operator_on_every_vector(tab: Tab) -> None:
    emails = [v["input"] for v in VECTORS["email"]]
    phones = [v["input"] for v in VECTORS["phone"]]
    hashes = [v["input"] for v in VECTORS["hash_input"]]
    got = tab.page.evaluate(
        """async ([emails, phones, hashes]) => ({
            normalized: emails.map(e => uid2Pixel.normalizeEmail(e)),
            email: await Promise.all(emails.map(e => uid2Pixel.hashIdentity({email: e}))),
            phone: await Promise.all(phones.map(p => uid2Pixel.hashIdentity({phone: p}))),
            hash: await Promise.all(hashes.map(h => uid2Pixel.hashIdentity({emailHash: h}))),
            phoneHash: await Promise.all(hashes.map(h => uid2Pixel.hashIdentity({phoneHash: h}))),
            lone: await uid2Pixel.hashIdentity({email: `a${String.fromCharCode(0xd800)}b@x.com`}),
        })""",
        [emails, phones, hashes],
    )
    email_results = zip(VECTORS["email"], got["normalized"], got["email"], strict=True)
    for vector, normalized, hashed in email_results:
        expected = normalize_email(vector["input"])
        assert normalized == expected, vector
        assert hashed == (None if expected is None else hash_dii_b64(expected)), vector
        operator = vector["operator"]
        assert normalized == (None if operator is None else operator["normalized"]), vector
        assert hashed == (None if operator is None else operator["hash_b64"]), vector
    for vector, hashed in zip(VECTORS["phone"], got["phone"], strict=True):
        assert is_phone_valid(vector["input"]) == vector["operator_valid"], vector
        assert hashed == (vector["hash_b64"] if vector["operator_valid"] else None), vector
    hash_results = zip(VECTORS["hash_input"], got["hash"], got["phoneHash"], strict=True)
    for vector, hashed, phone_hashed in hash_results:
        hex_hash = vector["hash_hex"]
        expected = None if hex_hash is None else b64encode(bytes.fromhex(hex_hash))
        assert hashed == phone_hashed == expected, vector
    # a lone surrogate is hashed as "?", as the operator's UTF-8 encoder does
    assert got["lone"] == hash_dii_b64("a\ud800b@x.com") == hash_dii_b64("a?b@x.com")
    assert tab.pixel_requests() == [] and tab.operator_calls(CSTG) == []


# --- firing -------------------------------------------------------------------------------------


def test_a_pixel_carries_a_token_for_the_email_and_nothing_else(tab: Tab) -> None:
    email = "Jane.Doe+Shoes@Example.com"
    params = {"value": "12.50", "currency": "EUR", "order": "a&b=c"}
    result = tab.fire("purchase", {"email": email}, params)
    assert result["status"] == "sent"
    (received,) = tab.world.receiver.wait_for("purchase")
    assert query_of(received) == query_of(result["url"])
    query = query_of(received)
    assert query["ev"] == ["purchase"] and query["order"] == ["a&b=c"]
    assert query["value"] == ["12.50"] and query["currency"] == ["EUR"]
    assert list(query)[:2] == ["uid2_token", "ev"] and list(query)[-1] == "cb"
    assert re.fullmatch("[0-9a-f]{16}", query["cb"][0])
    token = token_of(received)
    assert token is not None
    raw_uid = tab.world.raw_uid_of_token(token)
    assert raw_uid == tab.world.raw_uid_of_email(email)
    assert len(tab.operator_calls(CSTG)) == 1 and tab.operator_calls(REFRESH) == []
    # neither the DII nor its hash leaves the page in clear, nor is stored
    normalized = normalize_email(email)
    assert normalized is not None
    dii_hash = hash_dii(normalized)
    secrets = [email, normalized, b64encode(dii_hash), dii_hash.hex()]
    assert_not_sent(tab.requests, secrets)
    assert_not_sent(tab.pixel_requests(), [raw_uid])
    assert len(tab.pixel_requests()) == 1
    stored = tab.stored_text()
    assert stored is not None and not any(s.lower() in stored.lower() for s in secrets)
    record = tab.stored()
    assert len(record["dii_hash_fingerprint"]) == 44 and not record.get("optout")
    assert record["identity"]["advertising_token"] == token


def test_the_identity_is_cached_for_the_same_person(tab: Tab) -> None:
    first = tab.fire("cached-view", {"email": "cached@example.com"})
    second = tab.fire("cached-view", {"email": " CACHED@example.com "})
    assert first["status"] == second["status"] == "sent"
    assert token_of(first["url"]) == token_of(second["url"])
    assert len(tab.operator_calls(CSTG)) == 1 and tab.operator_calls(REFRESH) == []
    # the same event twice reaches the receiver twice (the cache-buster differs)
    assert first["url"] != second["url"]
    tab.world.receiver.wait_for("cached-view", count=2)


def test_concurrent_fires_share_one_generation(tab: Tab) -> None:
    results = tab.page.evaluate(
        """() => Promise.all(["a", "b", "c"].map(
            n => window.pixel.fire("burst-" + n, {email: "burst@example.com"})))"""
    )
    assert [r["status"] for r in results] == ["sent"] * 3
    assert len({token_of(r["url"]) for r in results}) == 1
    assert len(tab.operator_calls(CSTG)) == 1


def test_the_cache_buster_can_be_turned_off(tab: Tab) -> None:
    tab.create(cacheBuster=False)
    result = tab.fire("no-cb", {"email": "no-cb@example.com"}, {"n": 1})
    assert list(query_of(result["url"])) == ["uid2_token", "ev", "n"]


def test_another_person_gets_a_new_identity(tab: Tab) -> None:
    first = tab.fire("signup", {"email": "first@example.com"})
    fingerprint = tab.stored()["dii_hash_fingerprint"]
    second = tab.fire("signup", {"email": "second@example.com"})
    assert first["status"] == second["status"] == "sent"
    assert len(tab.operator_calls(CSTG)) == 2
    assert tab.stored()["dii_hash_fingerprint"] != fingerprint
    world = tab.world
    assert world.raw_uid_of_token(token_of(first["url"]) or "") == world.raw_uid_of_email(
        "first@example.com"
    )
    assert world.raw_uid_of_token(token_of(second["url"]) or "") == world.raw_uid_of_email(
        "second@example.com"
    )


def test_phones_and_hashes_work_and_a_hash_is_the_same_person(tab: Tab) -> None:
    phone = tab.fire("call", {"phone": "+12345678901"})
    assert phone["status"] == "sent"
    raw = tab.world.raw_uid_of_token(token_of(phone["url"]) or "")
    assert raw == tab.world.raw_uid_of_phone("+12345678901")
    email = "hashed@example.com"
    hex_hash = hash_dii(email).hex().upper()
    by_hash = tab.fire("lead", {"emailHash": hex_hash})
    by_email = tab.fire("lead", {"email": email})  # same fingerprint: no new generation
    assert by_hash["status"] == by_email["status"] == "sent"
    assert token_of(by_hash["url"]) == token_of(by_email["url"])
    assert tab.world.raw_uid_of_token(token_of(by_hash["url"]) or "") == (
        tab.world.raw_uid_of_email(email)
    )
    assert len(tab.operator_calls(CSTG)) == 2
    assert_not_sent(tab.requests, [email, hex_hash, hash_dii_b64(email), "+12345678901"])


# --- refresh ------------------------------------------------------------------------------------


def test_a_due_identity_is_refreshed(tab: Tab) -> None:
    email = "refresh@example.com"
    first = tab.fire("visit", {"email": email})
    before = tab.stored()["identity"]
    tab.edit_identity(refresh_from=0)  # refresh_from has passed
    second = tab.fire("visit", {"email": email})
    assert first["status"] == second["status"] == "sent"
    (refresh,) = tab.operator_calls(REFRESH)
    assert refresh.post_data == before["refresh_token"]
    assert refresh.headers["content-type"] == "text/plain"
    assert len(tab.operator_calls(CSTG)) == 1
    after = tab.stored()["identity"]
    assert after["refresh_response_key"] != before["refresh_response_key"]
    assert after["refresh_token"] != before["refresh_token"]
    assert token_of(second["url"]) == after["advertising_token"]
    raw_uid = tab.world.raw_uid_of_email(email)
    assert tab.world.raw_uid_of_token(token_of(second["url"]) or "") == raw_uid
    tab.fire("visit", {"email": email})  # the new refresh_from is in the future
    assert len(tab.operator_calls(REFRESH)) == 1 and len(tab.operator_calls(CSTG)) == 1
    # the new refresh token and key work too
    tab.edit_identity(refresh_from=0)
    assert tab.fire("visit", {"email": email})["status"] == "sent"
    assert len(tab.operator_calls(REFRESH)) == 2 and len(tab.operator_calls(CSTG)) == 1


def test_an_expired_refresh_token_means_a_new_generation(tab: Tab) -> None:
    tab.fire("visit", {"email": "expired@example.com"})
    tab.edit_identity(refresh_expires=0, refresh_from=0)
    assert tab.fire("visit", {"email": "expired@example.com"})["status"] == "sent"
    assert len(tab.operator_calls(CSTG)) == 2 and tab.operator_calls(REFRESH) == []


def test_a_rejected_refresh_means_a_new_generation(tab: Tab) -> None:
    tab.fire("visit", {"email": "rejected@example.com"})
    token = tab.stored()["identity"]["refresh_token"]
    damaged = token[:100] + ("A" if token[100] != "A" else "B") + token[101:]
    tab.edit_identity(refresh_from=0, refresh_token=damaged)
    result = tab.fire("visit", {"email": "rejected@example.com"})
    assert result["status"] == "sent"
    (refresh,) = tab.operator_calls(REFRESH)
    assert status_of(refresh) == 400
    assert len(tab.operator_calls(CSTG)) == 2
    assert tab.world.raw_uid_of_token(token_of(result["url"]) or "") == (
        tab.world.raw_uid_of_email("rejected@example.com")
    )


# --- opt-out ------------------------------------------------------------------------------------


def test_an_opted_out_user_gets_a_pixel_without_a_token(tab: Tab) -> None:
    result = tab.fire("optout-purchase", {"email": "optout@example.com"}, {"value": "3"})
    assert result["status"] == "optout"
    (received,) = tab.world.receiver.wait_for("optout-purchase")
    query = query_of(received)
    assert "uid2_token" not in query and list(query) == ["ev", "value", "cb"]
    assert query["ev"] == ["optout-purchase"] and query["value"] == ["3"]
    record = tab.stored()
    assert record["optout"] is True and record["identity"] is None
    again = tab.fire("optout-purchase", {"email": "optout@example.com"})
    assert again["status"] == "optout" and token_of(again["url"]) is None
    assert len(tab.operator_calls(CSTG)) == 1  # remembered: no second generation
    tab.world.receiver.wait_for("optout-purchase", count=2)


def test_an_opt_out_on_refresh_is_remembered(tab: Tab) -> None:
    email = "refresh-optout@example.com"
    assert tab.fire("refresh-optout", {"email": email})["status"] == "sent"
    tab.edit_identity(refresh_from=0)
    result = tab.fire("refresh-optout", {"email": email})
    assert result["status"] == "optout" and token_of(result["url"]) is None
    assert tab.stored()["optout"] is True
    assert tab.fire("refresh-optout", {"email": email})["status"] == "optout"
    assert len(tab.operator_calls(REFRESH)) == 1 and len(tab.operator_calls(CSTG)) == 1
    hits = tab.world.receiver.wait_for("refresh-optout", count=3)
    assert [token_of(u) is None for u in hits] == [False, True, True]


# --- nothing is sent ----------------------------------------------------------------------------


def test_invalid_input_sends_nothing_at_all(tab: Tab) -> None:
    cases: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
        ("bad-1", {"email": "not-an-email"}, None),
        ("bad-2", {"email": "a@b@c.com"}, None),
        ("bad-3", {"phone": "555-555-5555"}, None),
        ("bad-4", {"emailHash": "DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs"}, None),
        ("bad-5", {"email": "x@example.com", "phone": "+12345678901"}, None),
        ("bad-6", {}, None),
        ("bad-7", {"email": "x@example.com"}, {"uid2_token": "forged"}),
        ("bad-7b", {"email": "x@example.com"}, {"cb": "1"}),
        ("bad-8", {"email": "x@example.com"}, {"note": "by X@Example.com"}),
        ("bad-9", {"phone": "+12345678901"}, {"tel": "+12345678901"}),
        ("", {"email": "x@example.com"}, None),
    ]
    before = len(tab.requests)
    for event, dii, params in cases:
        assert tab.fire(event, dii, params) == {"status": "invalid"}, (event, dii, params)
    time.sleep(0.3)
    assert tab.requests[before:] == []
    assert tab.stored_text() is None
    assert not any("ev=bad-" in url for url in tab.world.receiver.urls)


def test_an_unreachable_operator_fires_nothing(tab: Tab) -> None:
    def abort(route: Route) -> None:
        route.abort()

    tab.page.route("**/v2/token/**", abort)
    result = tab.fire("down", {"email": "down@example.com"})
    assert result == {"status": "error"}
    time.sleep(0.3)
    assert tab.pixel_requests() == [] and tab.world.receiver.for_event("down") == []
    assert tab.stored_text() is None
    # with a token in hand, a failed refresh keeps using it until identity_expires
    tab.page.unroute("**/v2/token/**", abort)
    first = tab.fire("flaky", {"email": "down@example.com"})
    tab.page.route("**/v2/token/**", abort)
    tab.edit_identity(refresh_from=0)
    second = tab.fire("flaky", {"email": "down@example.com"})
    assert first["status"] == second["status"] == "sent"
    assert token_of(first["url"]) == token_of(second["url"])
    tab.edit_identity(identity_expires=0)
    assert tab.fire("flaky", {"email": "down@example.com"}) == {"status": "error"}


def test_a_page_not_registered_for_the_keypair_gets_errors(tab: Tab) -> None:
    # the same page, reached as 127.0.0.1: its Origin is not the site's domain (403)
    tab.page.goto(tab.world.pixel_url.replace("/pixel", "/"))
    tab.create()
    assert tab.fire("wrong-origin", {"email": "origin@example.com"}) == {"status": "error"}
    (call,) = tab.operator_calls(CSTG)
    assert status_of(call) == 403
    assert tab.world.receiver.for_event("wrong-origin") == []


def test_create_checks_its_config(tab: Tab) -> None:
    message = tab.page.evaluate(
        """config => {
            try { uid2Pixel.create(config); return null; } catch (e) { return e.message; }
        }""",
        {k: v for k, v in tab.world.sdk_config().items() if k != "pixelUrl"},
    )
    assert message is not None and "pixelUrl" in message

"""The portal while its PostgreSQL cannot be reached: a clear 503, and nothing lost or half-done.

The portal runs in-process on a fresh PostgreSQL schema reached through a :class:`TcpProxy`;
the test reads and seeds the same schema directly. Changes acknowledged before the cut must all
be there after the restore; requests refused during the cut must have written nothing.
"""

from __future__ import annotations

import html
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_client import Api, ok
from portal_world import ALICE, BASE_URL, PASSWORD, PortalClient, World, build_world
from sqlalchemy.engine import make_url

from uid2.portal.app import create_app
from uid2.portal.errors import UNAVAILABLE_MESSAGE
from uid2.portal.settings import PortalSettings
from uid2.store import SecretBox, make_engine, upgrade_schema
from uid2.store.secrets import generate_kek

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))
from postgres_schema import fresh_schema
from tcp_proxy import TcpProxy

POSTGRES_URL = os.environ.get("UID2_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL, reason="UID2_TEST_POSTGRES_URL is not set: no PostgreSQL to cut off"
    ),
]
V1 = "/api/v1"
SETTINGS = PortalSettings(login_attempts_per_minute=10_000, optout_attempts_per_minute=10_000)
UNAVAILABLE_HEADING = "<h1>Temporarily unavailable</h1>"
OPTED_OUT = "jane@example.com"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@dataclass(frozen=True)
class Portal:
    world: World  # seeded and read directly
    proxy: TcpProxy
    app: Any  # the portal, on the same schema through the proxy

    def client(self) -> PortalClient:
        return PortalClient(self.app, base_url=BASE_URL, follow_redirects=False)

    def signed_in(self, email: str) -> PortalClient:
        client = self.client()
        assert client.sign_in(email).status_code == 303
        return client

    def api(self, email: str) -> Api:
        client = self.client()
        answer = client.post(f"{V1}/session", json={"email": email, "password": PASSWORD})
        return Api(client, ok(answer)["csrf_token"])


@pytest.fixture
def portal() -> Iterator[Portal]:
    assert POSTGRES_URL is not None
    upstream = make_url(POSTGRES_URL)
    with (
        fresh_schema(POSTGRES_URL, "uid2_down") as url,
        TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy,
    ):
        direct = make_engine(url)
        upgrade_schema(direct)
        world = build_world(direct, SecretBox(generate_kek()))
        proxied = make_engine(make_url(url).set(port=proxy.port).render_as_string(False))
        try:
            app = create_app(SETTINGS, proxied, world.box, clock_ms=world.clock)
            yield Portal(world, proxy, app)
        finally:
            proxied.dispose()
            direct.dispose()


def _state(engine_of: World) -> tuple[object, ...]:
    """Everything the requests below could write, read directly (not through the proxy)."""
    with engine_of.uow() as uow:
        return (
            uow.api_keys.list_all(),
            uow.keysets.list_all(),
            uow.sites.list_all(),
            uow.optouts.list_since(0),
            [entry.action for entry in uow.audit.list_all()],
        )


def test_the_portal_answers_503_while_the_database_is_down_and_loses_nothing(
    portal: Portal,
) -> None:
    world, news = portal.world, portal.world.sites["news"]
    page, api = portal.signed_in(ALICE), portal.api(ALICE)
    _make_acknowledged_changes(page, api, world)
    acknowledged = _state(world)
    csrf = page.csrf(f"/p/{news}/api-keys")
    consumer = portal.client()
    confirmation = _optout_confirmation(consumer)  # step one needs no database

    portal.proxy.cut()
    _assert_pages_refused(page, news, csrf)
    _assert_api_refused(api, news, world.sites["adv"])
    _assert_signing_in_refused(portal)
    refused_optout = consumer.post("/optout/confirm", data=confirmation)
    _assert_unavailable_page(refused_optout)
    health = page.get("/healthz")
    assert (health.status_code, health.text) == (503, "database unreachable")
    assert _state(world) == acknowledged  # nothing half-written by a refused request

    portal.proxy.restore()
    listing = page.get(f"/p/{news}/api-keys")  # the first request: served at once
    assert listing.status_code == 200
    assert "page-key" in listing.text and "api-key" in listing.text
    assert "refused" not in listing.text
    assert ok(api.get(f"{V1}/me"))["user"]["email"] == ALICE  # the sessions outlived the outage
    assert page.get("/healthz").status_code == 200
    assert _state(world) == acknowledged  # every acknowledged change, and nothing else
    # trying again works
    assert ok(
        api.post(f"{V1}/participants/{news}/api-keys", {"name": "again", "roles": ["GENERATOR"]}),
        201,
    )
    assert "Opt-out recorded" in consumer.post("/optout/confirm", data=confirmation).text


def _optout_confirmation(consumer: PortalClient) -> dict[str, str]:
    """The hidden fields of the consumer opt-out's confirmation form (step two's body)."""
    answer = consumer.submit(
        "/optout", "/optout", {"identity_type": "email", "identity": OPTED_OUT}
    )
    assert answer.status_code == 200
    return {name: html.unescape(value) for name, value in HIDDEN.findall(answer.text)}


def _make_acknowledged_changes(page: PortalClient, api: Api, world: World) -> None:
    news, adv, data = (world.sites[name] for name in ("news", "adv", "data"))
    keys, sharing = f"/p/{news}/api-keys", f"/p/{news}/sharing"
    created = page.submit(keys, keys, {"name": "page-key", "roles": ["GENERATOR"]})
    assert created.status_code == 200 and 'id="api-key"' in created.text
    p = f"{V1}/participants/{news}"
    ok(api.post(p + "/api-keys", {"name": "api-key", "roles": ["SHARER"]}), 201)
    assert ok(api.post(p + "/sharing", {"add_sites": [adv]}))["changed"] is True
    granted = page.submit(sharing, sharing + "/grant", {"sites": [str(data)]})
    assert granted.status_code == 303 and "sharing-saved" in granted.headers["location"]
    assert ok(api.put(p + "/domains", {"domain_names": ["news.example"]}))
    with world.uow() as uow:
        keyset = uow.keysets.default_for_site(news)
        site = uow.sites.get(news)
    assert keyset is not None and keyset.allowed_sites == frozenset({adv, data})
    assert site is not None and site.domain_names == ("news.example",)


def _assert_unavailable_page(response: httpx.Response, *, heading: bool = True) -> None:
    assert response.status_code == 503, (response.request.url.path, response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert UNAVAILABLE_MESSAGE in response.text
    assert not heading or UNAVAILABLE_HEADING in response.text
    assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
    assert response.headers["content-security-policy"]  # the portal's headers still apply


def _assert_unavailable_json(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url.path, response.text)
    assert response.json() == {
        "error": {"status": 503, "message": UNAVAILABLE_MESSAGE, "field": None}
    }


def _assert_pages_refused(page: PortalClient, news: int, csrf: str) -> None:
    for path in ("/", f"/p/{news}", f"/p/{news}/api-keys", f"/p/{news}/sharing"):
        _assert_unavailable_page(page.get(path))
    form = {"name": "refused-page-key", "roles": ["GENERATOR"], "csrf_token": csrf}
    _assert_unavailable_page(page.post(f"/p/{news}/api-keys", data=form))
    grant = {"sites": [str(news)], "csrf_token": csrf}
    _assert_unavailable_page(page.post(f"/p/{news}/sharing/grant", data=grant))


def _assert_api_refused(api: Api, news: int, adv: int) -> None:
    p = f"{V1}/participants/{news}"
    for response in (
        api.get(f"{V1}/me"),
        api.get(p + "/api-keys"),
        api.post(p + "/api-keys", {"name": "refused-api-key", "roles": ["GENERATOR"]}),
        api.post(p + "/sharing", {"remove_sites": [adv]}),
        api.put(p + "/domains", {"domain_names": ["refused.example"]}),
    ):
        _assert_unavailable_json(response)


def _assert_signing_in_refused(portal: Portal) -> None:
    anonymous = portal.client()
    _assert_unavailable_json(
        anonymous.post(f"{V1}/session", json={"email": ALICE, "password": PASSWORD})
    )
    assert anonymous.get("/login").status_code == 200  # the form itself needs no database
    _assert_unavailable_page(anonymous.sign_in(ALICE), heading=False)  # the form, with the message

"""The portal's JSON API (``/api/v1``, ``/api/openapi.json``) over a real SQLite store.

Every refusal is checked twice: the answer (status, JSON error, field) and the store (nothing
written: repositories and the audit trail are unchanged).
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from api_client import (
    ANON_CSRF_COOKIE,
    SESSION_COOKIE,
    Api,
    anonymous,
    fill_path,
    ok,
    refused,
    sign_in,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from portal_world import (
    ADMIN,
    ALICE,
    BOB,
    CSRF,
    DANA,
    PASSWORD,
    T0_MS,
    Clock,
    World,
    build_world,
    give_keyset,
)

from uid2.admin import Context, CreateApiKey, Role, create_api_key
from uid2.admin.context import Entropy, system_entropy
from uid2.admin.optouts import RecordOptOut, record_optout
from uid2.core.enums import IdentityType
from uid2.portal.api import OPERATIONS
from uid2.portal.openapi import refusal_statuses
from uid2.store import SecretBox, make_engine, sqlite_url, upgrade_schema
from uid2.store.records import ParticipantType
from uid2.store.secrets import generate_kek

V1 = "/api/v1"


def site_path(world: World, site: str, rest: str = "") -> str:
    return f"{V1}/participants/{world.sites[site]}{rest}"


def user_id(world: World, email: str) -> int:
    with world.uow() as uow:
        user = uow.users.get_by_email(email)
    assert user is not None
    return user.user_id


def api_keys_of(world: World, site: str) -> list[Any]:
    with world.uow() as uow:
        return uow.api_keys.list_for_site(world.sites[site])


def domains_of(world: World, site: str) -> tuple[str, ...]:
    with world.uow() as uow:
        found = uow.sites.get(world.sites[site])
    assert found is not None
    return found.domain_names


def app_names_of(world: World, site: str) -> tuple[str, ...]:
    with world.uow() as uow:
        found = uow.sites.get(world.sites[site])
    assert found is not None
    return found.app_names


def roles_at(world: World, site: str) -> dict[str, str]:
    with world.uow() as uow:
        members = uow.memberships.list_for_site(world.sites[site])
        return {
            uow.users.get(m.user_id).email: m.role.value  # type: ignore[union-attr]
            for m in members
        }


def keyset_acl(world: World, site: str) -> tuple[object, object]:
    with world.uow() as uow:
        keyset = uow.keysets.default_for_site(world.sites[site])
    assert keyset is not None
    return keyset.allowed_sites, keyset.allowed_types


# --- worlds and sessions --------------------------------------------------------------------------
#
# Building a world hashes four passwords and signing in verifies one (argon2: about 1 s and
# 0.2 s). The conftest's world is built once per module here, with one API session per user,
# and each test gets a copy of its database: the same sites, users, store and sessions.


@dataclass(frozen=True)
class Template:
    db: Path
    box: SecretBox
    sites: dict[str, int]
    sessions: dict[str, tuple[str, str]]  # email -> (session cookie, CSRF token)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    db = tmp_path_factory.mktemp("template") / "portal.db"
    engine = make_engine(sqlite_url(db))
    upgrade_schema(engine)
    world = build_world(engine, SecretBox(generate_kek()))
    sessions = {}
    for email in (ADMIN, ALICE, BOB, DANA):
        response = world.client().post(f"{V1}/session", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        sessions[email] = (response.cookies[SESSION_COOKIE], response.json()["csrf_token"])
    engine.dispose()
    return Template(db, world.box, dict(world.sites), sessions)


def copy_world(template: Template, db: Path) -> World:
    with closing(sqlite3.connect(template.db)) as source, closing(sqlite3.connect(db)) as copy:
        source.backup(copy)
    return World(make_engine(sqlite_url(db)), template.box, Clock(), dict(template.sites))


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    """Overrides the conftest's ``world`` with a copy of the module's template."""
    world = copy_world(template, tmp_path / "portal.db")
    yield world
    world.engine.dispose()


def session_api(world: World, template: Template, email: str) -> Api:
    """A client holding ``email``'s session cookie (made by POST /api/v1/session) and token."""
    cookie, csrf = template.sessions[email]
    client = world.client()
    client.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")
    return Api(client, csrf)


SignedIn = Callable[[str], Api]


@pytest.fixture
def signed_in(world: World, template: Template) -> SignedIn:
    return lambda email: session_api(world, template, email)


@pytest.fixture
def admin(signed_in: SignedIn) -> Api:
    return signed_in(ADMIN)


@pytest.fixture
def alice(signed_in: SignedIn) -> Api:
    return signed_in(ALICE)


@pytest.fixture
def bob(signed_in: SignedIn) -> Api:
    return signed_in(BOB)


@pytest.fixture
def dana(signed_in: SignedIn) -> Api:
    return signed_in(DANA)


# --- sessions ---------------------------------------------------------------------------------


def test_sign_in_answers_the_csrf_token_user_and_memberships_and_sets_a_secure_cookie(
    world: World,
) -> None:
    client = world.client()
    response = client.post(
        "/api/v1/session", json={"email": " Alice@News.Example ", "password": PASSWORD}
    )
    body = ok(response)
    assert body["user"] == {
        "user_id": user_id(world, ALICE),
        "email": ALICE,
        "platform_admin": False,
        "pending": False,
        "disabled": False,
    }
    assert body["memberships"] == [{"site_id": world.sites["news"], "role": "admin"}]
    assert len(body["csrf_token"]) == 64 and int(body["csrf_token"], 16) >= 0
    assert body["expires_ms"] == T0_MS + 12 * 3_600_000

    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/", "max-age=43200"} <= attributes
    token = response.cookies[SESSION_COOKIE]
    assert token and token not in response.text  # the session token is only in the cookie

    me = ok(client.get(f"{V1}/me"))
    assert me["csrf_token"] == body["csrf_token"]
    assert me["user"]["email"] == ALICE


def test_a_platform_admin_has_no_memberships_but_the_flag(world: World) -> None:
    response = world.client().post("/api/v1/session", json={"email": ADMIN, "password": PASSWORD})
    body = ok(response)
    assert body["user"]["platform_admin"] is True
    assert body["memberships"] == []


def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_401(world: World) -> None:
    client = world.client()
    wrong = client.post("/api/v1/session", json={"email": ALICE, "password": "not the password"})
    unknown = client.post(
        "/api/v1/session", json={"email": "zed@nowhere.example", "password": PASSWORD}
    )
    message = refused(wrong, 401, None)
    assert refused(unknown, 401, None) == message
    assert "password" in message and "email" in message
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert client.cookies.get(SESSION_COOKIE) is None
    refused(client.get(f"{V1}/me"), 401)


def test_too_many_wrong_passwords_lock_the_account(world: World) -> None:
    client = world.client()
    for _ in range(5):
        refused(client.post("/api/v1/session", json={"email": BOB, "password": "wrong" * 3}), 401)
    locked = client.post("/api/v1/session", json={"email": BOB, "password": PASSWORD})
    refused(locked, 429)
    world.clock.advance(16 * 60_000)
    ok(client.post("/api/v1/session", json={"email": BOB, "password": PASSWORD}))


@pytest.mark.parametrize(
    ("content_type", "content", "status"),
    [
        ("text/plain", json.dumps({"email": ALICE, "password": PASSWORD}), 415),
        ("application/x-www-form-urlencoded", f"email={ALICE}&password=x", 415),
        (None, json.dumps({"email": ALICE, "password": PASSWORD}), 415),
        ("application/json", '{"email": "alice@news.example", "password": ', 400),
        ("application/json", "\xff\xfe{}", 400),
        ("application/json", "[1, 2]", 400),
        ("application/json", '"just a string"', 400),
        ("application/json", "{}", 400),
        ("application/json", json.dumps({"email": ALICE}), 400),
        ("application/json", json.dumps({"email": 7, "password": PASSWORD}), 400),
        ("application/json", json.dumps({"email": ALICE, "password": None}), 400),
        ("application/json", json.dumps({"email": [ALICE], "password": PASSWORD}), 400),
        ("application/json", '{"email": "\\ud800@news.example", "password": "x"}', 400),
        ("application/json", "[" * 50_000 + "]" * 50_000, 400),
    ],
)
def test_sign_in_refuses_what_is_not_a_json_object_of_two_strings(
    world: World, content_type: str | None, content: str, status: int
) -> None:
    client = world.client()
    headers = {} if content_type is None else {"Content-Type": content_type}
    raw = content.encode("latin-1") if content.startswith("\xff") else content.encode()
    response = client.post("/api/v1/session", content=raw, headers=headers)
    refused(response, status, None)
    assert client.cookies.get(SESSION_COOKIE) is None


def test_json_with_a_charset_parameter_is_json(world: World) -> None:
    response = world.client().post(
        "/api/v1/session",
        content=json.dumps({"email": DANA, "password": PASSWORD}),
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert ok(response)["memberships"] == [{"site_id": world.sites["dsp"], "role": "admin"}]


def test_me_needs_a_session(world: World) -> None:
    refused(anonymous(world).get(f"{V1}/me"), 401, None)
    refused(world.client().get(f"{V1}/me", headers={"Cookie": f"{SESSION_COOKIE}=forged"}), 401)


def test_signing_out_ends_the_session_on_the_server(world: World, alice: Api) -> None:
    token = alice.client.cookies.get(SESSION_COOKIE)
    assert token
    replay = world.client()
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    assert ok(replay.get(f"{V1}/me", headers=cookie))["user"]["email"] == ALICE

    refused(alice.delete(f"{V1}/session", csrf=None), 403)
    refused(alice.delete(f"{V1}/session", csrf="0" * 64), 403)
    ok(replay.get(f"{V1}/me", headers=cookie))  # still signed in

    response = alice.delete(f"{V1}/session")
    ok(response, 204)
    [cleared] = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert "max-age=0" in cleared.lower()
    refused(alice.get(f"{V1}/me"), 401)
    refused(world.client().get(f"{V1}/me", headers=cookie), 401)  # the old value, replayed
    refused(alice.post(site_path(world, "news", "/keypairs"), {}), 401)
    assert ok(anonymous(world).delete(f"{V1}/session"), 204) is None  # signed out already


# --- CSRF and sessions on writes ----------------------------------------------------------------


def _writes(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    news, bob = world.sites["news"], user_id(world, BOB)
    p = f"{V1}/participants/{news}"
    return [
        ("POST", p + "/api-keys", {"name": "k", "roles": ["GENERATOR"]}),
        ("POST", p + "/keypairs", {"name": "web"}),
        ("PUT", p + "/domains", {"domain_names": ["example.com"]}),
        ("PUT", p + "/app-names", {"app_names": ["com.example.app"]}),
        ("POST", p + "/team", {"email": "eve@news.example", "role": "admin"}),
        ("PATCH", f"{p}/team/{bob}", {"role": "admin"}),
        ("DELETE", f"{p}/team/{bob}", {}),
        ("POST", f"{V1}/participants", {"name": "Evil Co", "types": ["dsp"]}),
        ("PATCH", p, {"name": "Renamed"}),
        ("POST", f"{V1}/platform/keys/rotate", {"force": True}),
        ("POST", f"{V1}/platform/salts/rotate", {"fraction": 1, "force": True}),
    ]


def _snapshot(world: World) -> tuple[object, ...]:
    with world.uow() as uow:
        return (
            uow.api_keys.list_all(),
            uow.cstg_keypairs.list_all(),
            uow.sites.list_all(),
            uow.users.list_all(),
            [uow.memberships.list_for_site(s) for s in world.sites.values()],
            uow.keysets.list_all(),
            uow.keyset_keys.list_all(),
            uow.salts.list_buckets(),
            uow.audit.list_all(),
        )


def test_writes_without_the_csrf_header_or_with_a_wrong_one_are_403_and_write_nothing(
    world: World, admin: Api, dana: Api
) -> None:
    before = _snapshot(world)
    for method, path, body in _writes(world):
        for token in (None, "", "0" * 64, dana.csrf, admin.csrf.upper()):  # type: ignore[union-attr]
            response = admin.request(method, path, body, csrf=token)
            refused(response, 403, None)
            assert "X-CSRF-Token" in response.json()["error"]["message"]
    assert _snapshot(world) == before


def test_the_csrf_token_in_a_query_or_the_body_does_not_count(world: World, admin: Api) -> None:
    before = _snapshot(world)
    path = site_path(world, "news", "/keypairs")
    refused(admin.post(path, {"csrf_token": admin.csrf}, csrf=None), 403)
    refused(admin.post(path, {}, csrf=None, params={"csrf_token": admin.csrf or ""}), 403)
    assert _snapshot(world) == before


def test_writes_and_reads_without_a_session_are_401_and_write_nothing(
    world: World, alice: Api
) -> None:
    stranger = Api(world.client(), csrf=alice.csrf)  # even with a valid-looking CSRF token
    before = _snapshot(world)
    for method, path, body in _writes(world):
        refused(stranger.request(method, path, body), 401, None)
    for path in (f"{V1}/participants", site_path(world, "news"), f"{V1}/platform/keys"):
        refused(stranger.get(path), 401, None)
    assert _snapshot(world) == before


def test_writes_need_a_json_content_type(world: World, alice: Api) -> None:
    before = _snapshot(world)
    path = site_path(world, "news", "/api-keys")
    body = json.dumps({"name": "k", "roles": ["GENERATOR"]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        refused(alice.post(path, content=body, content_type=content_type), 415)
    refused(alice.post(path, content=body, content_type=None), 415)
    refused(alice.post(path, content='{"name": "k", "roles": ['), 400)
    refused(alice.post(path, content='["name"]'), 400)
    # A lone surrogate escape is no text: the email would pass its check, then break the store.
    lone = '{"email": "\\ud800@news.example", "role": "admin"}'
    refused(alice.post(site_path(world, "news", "/team"), content=lone), 400)
    assert _snapshot(world) == before


def test_an_empty_json_body_reads_as_an_empty_object(world: World, alice: Api) -> None:
    created = ok(alice.post(site_path(world, "news", "/keypairs"), content=b""), 201)
    assert created["name"] == created["subscription_id"]


# --- participants --------------------------------------------------------------------------------


def test_members_see_only_their_participants(world: World, alice: Api, admin: Api) -> None:
    listed = ok(alice.get(f"{V1}/participants"))
    assert [s["site_id"] for s in listed] == [world.sites["news"]]
    assert listed[0] == {
        "site_id": world.sites["news"],
        "name": "News Co",
        "types": ["publisher"],
        "domain_names": [],
        "app_names": [],
        "enabled": True,
    }
    assert {s["site_id"] for s in ok(admin.get(f"{V1}/participants"))} >= set(world.sites.values())
    news = ok(alice.get(site_path(world, "news")))
    assert news["allowed_roles"] == ["GENERATOR", "SHARER"]
    dsp = ok(admin.get(site_path(world, "dsp")))
    assert dsp["allowed_roles"] == ["ID_READER", "SHARER"]
    refused(admin.get(f"{V1}/participants/999999"), 404)
    refused(admin.get(f"{V1}/participants/99999999999999999999999"), 404)


# --- API keys ------------------------------------------------------------------------------------


def test_an_api_key_shows_its_key_and_secret_once(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/api-keys")
    created = ok(alice.post(path, {"name": " Server key ", "roles": ["generator", "SHARER"]}), 201)
    news = world.sites["news"]
    assert created["name"] == "Server key"
    assert created["site_id"] == news
    assert created["roles"] == ["GENERATOR", "SHARER"]
    assert created["key"].startswith("UID2-C-") and created["key"].startswith(created["key_id"])
    assert len(base64.b64decode(created["secret"], validate=True)) == 32

    listing = alice.get(path)
    assert ok(listing) == [
        {
            "key_id": created["key_id"],
            "site_id": news,
            "name": "Server key",
            "roles": ["GENERATOR", "SHARER"],
            "disabled": False,
            "created": T0_MS // 1000,
        }
    ]
    for shown_once in (created["key"], created["secret"]):
        assert shown_once not in listing.text
        assert shown_once not in alice.get(site_path(world, "news")).text
    [stored] = api_keys_of(world, "news")
    assert stored.key_hash != created["key"] and stored.name == "Server key"
    assert world.audit_actions()[-1] == "apikey.create"


def test_api_key_roles_must_suit_the_participants_types(
    world: World, alice: Api, dana: Api
) -> None:
    path = site_path(world, "news", "/api-keys")
    before = _snapshot(world)
    assert "ID_READER" in refused(
        alice.post(path, {"name": "k", "roles": ["ID_READER"]}), 400, "roles"
    )
    refused(alice.post(path, {"name": "k", "roles": ["GENERATOR", "MAPPER"]}), 400, "roles")
    refused(alice.post(path, {"name": "k", "roles": ["OWNER"]}), 400, "roles")
    refused(alice.post(path, {"name": "k", "roles": []}), 400, "roles")
    refused(alice.post(path, {"name": "k", "roles": [" "]}), 400, "roles")
    refused(alice.post(path, {"name": "k", "roles": "GENERATOR"}), 400, "roles")
    refused(alice.post(path, {"name": "k", "roles": [1]}), 400, "roles")
    refused(alice.post(path, {"name": "k"}), 400, "roles")
    refused(alice.post(path, {"roles": ["GENERATOR"]}), 400, "name")
    refused(alice.post(path, {"name": "   ", "roles": ["GENERATOR"]}), 400, "name")
    refused(alice.post(path, {"name": 5, "roles": ["GENERATOR"]}), 400, "name")
    refused(alice.post(path, {"name": "x" * 256, "roles": ["GENERATOR"]}), 400, "name")
    assert _snapshot(world) == before
    reader = ok(
        dana.post(site_path(world, "dsp", "/api-keys"), {"name": "bidder", "roles": ["ID_READER"]}),
        201,
    )
    assert reader["roles"] == ["ID_READER"]


def test_an_api_key_is_renamed_and_its_roles_changed_in_one_patch(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/api-keys")
    created = ok(alice.post(path, {"name": "first", "roles": ["GENERATOR"]}), 201)
    key_path = f"{path}/{quote(created['key_id'], safe='')}"
    updated = ok(alice.patch(key_path, {"name": "renamed", "roles": ["SHARER", "GENERATOR"]}))
    assert updated == {
        "key_id": created["key_id"],
        "site_id": world.sites["news"],
        "name": "renamed",
        "roles": ["GENERATOR", "SHARER"],
        "disabled": False,
    }
    assert ok(alice.patch(key_path, {"roles": ["SHARER"]}))["name"] == "renamed"
    assert ok(alice.patch(key_path, {"name": "again"}))["roles"] == ["SHARER"]
    [listed] = ok(alice.get(path))
    assert (listed["name"], listed["roles"]) == ("again", ["SHARER"])

    before = _snapshot(world)
    refused(alice.patch(key_path, {"roles": ["ID_READER"]}), 400, "roles")
    refused(alice.patch(key_path, {"roles": []}), 400, "roles")
    refused(alice.patch(key_path, {"name": ""}), 400, "name")
    refused(alice.patch(f"{path}/UID2-C-L-999-nope", {"name": "x"}), 404)
    assert _snapshot(world) == before


def test_a_duplicate_api_key_name_is_409_and_changes_nothing(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/api-keys")
    ok(alice.post(path, {"name": "taken", "roles": ["GENERATOR"]}), 201)
    other = ok(alice.post(path, {"name": "other", "roles": ["GENERATOR"]}), 201)
    before = _snapshot(world)
    refused(alice.post(path, {"name": "taken", "roles": ["SHARER"]}), 409, "name")
    other_path = f"{path}/{quote(other['key_id'], safe='')}"
    refused(alice.patch(other_path, {"name": "taken", "roles": ["SHARER"]}), 409, "name")
    assert _snapshot(world) == before  # the roles did not change either: one transaction
    stored = {k.name: sorted(r.value for r in k.roles) for k in api_keys_of(world, "news")}
    assert stored == {"taken": ["GENERATOR"], "other": ["GENERATOR"]}


def test_an_api_key_is_disabled(world: World, alice: Api, dana: Api, admin: Api) -> None:
    path = site_path(world, "news", "/api-keys")
    created = ok(alice.post(path, {"name": "old", "roles": ["GENERATOR"]}), 201)
    fresh = ok(alice.post(path, {"name": "new", "roles": ["GENERATOR"]}), 201)
    disabled = ok(alice.post(f"{path}/{quote(created['key_id'], safe='')}/disable"))
    assert disabled["disabled"] is True and disabled["key_id"] == created["key_id"]
    listed = ok(alice.get(path))
    assert [(k["name"], k["disabled"]) for k in listed] == [("new", False), ("old", True)]
    assert fresh["key_id"] in {k["key_id"] for k in listed}

    dsp_key = ok(
        dana.post(site_path(world, "dsp", "/api-keys"), {"name": "d", "roles": ["SHARER"]}), 201
    )
    before = _snapshot(world)
    # A key of another participant is unknown under this participant's path.
    refused(admin.post(f"{path}/{quote(dsp_key['key_id'], safe='')}/disable"), 404)
    refused(alice.post(f"{path}/UID2-C-L-1-zzzzz/disable"), 404)
    assert _snapshot(world) == before


class _SlashEntropy:
    """Random bytes whose base64 starts ``ab/+c``: a key id with a slash and a plus."""

    def token_bytes(self, n: int) -> bytes:
        text = "ab/+c" + "A" * (((n + 2) // 3) * 4 - 5)
        return base64.b64decode(text)[:n]


def test_api_keys_whose_ids_hold_a_slash_can_be_edited_and_disabled(
    world: World, alice: Api
) -> None:
    fixed = _SlashEntropy()
    entropy = Entropy(token_bytes=fixed.token_bytes, random_below=system_entropy().random_below)
    ctx = Context(now_ms=world.clock(), actor="test", entropy=entropy)
    cmd = CreateApiKey(world.sites["news"], frozenset({Role.GENERATOR}), "slashed")
    key_id = create_api_key(cmd, world.uow(), ctx).key_id
    assert "/" in key_id and "+" in key_id

    path = site_path(world, "news", "/api-keys")
    assert [k["key_id"] for k in ok(alice.get(path))] == [key_id]
    escaped = f"{path}/{quote(key_id, safe='')}"
    assert ok(alice.patch(escaped, {"name": "renamed"}))["name"] == "renamed"
    assert ok(alice.patch(f"{path}/{key_id}", {"roles": ["SHARER"]}))["roles"] == ["SHARER"]
    assert ok(alice.post(f"{escaped}/disable"))["disabled"] is True


# --- client-side keys, domains and app ids -------------------------------------------------------


def test_keypairs_are_created_listed_and_disabled(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/keypairs")
    assert ok(alice.get(path)) == []
    created = ok(alice.post(path, {"name": "web site"}), 201)
    assert set(created) == {"subscription_id", "site_id", "name", "public_key"}  # no private key
    assert len(created["subscription_id"]) == 10
    assert created["public_key"].startswith("UID2-X-")
    assert (created["site_id"], created["name"]) == (world.sites["news"], "web site")
    unnamed = ok(alice.post(path, {}), 201)
    assert unnamed["name"] == unnamed["subscription_id"]

    listed = {p["subscription_id"]: p for p in ok(alice.get(path))}
    assert listed[created["subscription_id"]] == {
        **created,
        "created": T0_MS // 1000,
        "disabled": False,
    }
    with world.uow() as uow:
        private = uow.cstg_keypairs.get(created["subscription_id"]).private_key  # type: ignore[union-attr]
    assert private and private not in alice.get(path).text

    ok(alice.post(f"{path}/{created['subscription_id']}/disable"), 204)
    listed = {p["subscription_id"]: p["disabled"] for p in ok(alice.get(path))}
    assert listed == {created["subscription_id"]: True, unnamed["subscription_id"]: False}
    assert world.audit_actions()[-1] == "cstg.disable"

    before = _snapshot(world)
    refused(alice.post(f"{path}/NOPENOPE12/disable"), 404)
    refused(alice.post(path, {"name": 7}), 400, "name")
    assert _snapshot(world) == before


def test_domains_are_reduced_to_root_level_domains(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/domains")
    given_names = [
        "https://shop.example.co.uk/x",
        "WWW.Example.com",
        "example.com",
        "http://news.example.org:8443/path?q=1",
        "a.b.c.github.io",
        "dev.localhost",
    ]
    site = ok(alice.put(path, {"domain_names": given_names}))
    expected = ["c.github.io", "example.co.uk", "example.com", "example.org", "localhost"]
    assert site["domain_names"] == expected
    assert list(domains_of(world, "news")) == expected
    assert world.audit_actions()[-1] == "participant.set_domains"


@pytest.mark.parametrize(
    "bad",
    ["co.uk", "127.0.0.1", "http://[::1", "http://[not-an-ip]/", "exa mple.com", "-x-.com", ""],
)
def test_an_invalid_domain_refuses_the_whole_list(world: World, alice: Api, bad: str) -> None:
    path = site_path(world, "news", "/domains")
    ok(alice.put(path, {"domain_names": ["example.com"]}))
    before = _snapshot(world)
    refused(alice.put(path, {"domain_names": ["other.example.net", bad]}), 400, "domains")
    assert domains_of(world, "news") == ("example.com",)
    assert _snapshot(world) == before


def test_domain_and_app_lists_must_be_lists_of_strings(world: World, alice: Api) -> None:
    before = _snapshot(world)
    for body in (
        {},
        {"domain_names": "example.com"},
        {"domain_names": [1]},
        {"domain_names": None},
    ):
        refused(alice.put(site_path(world, "news", "/domains"), body), 400, "domain_names")
    for body in ({}, {"app_names": "com.example.app"}, {"app_names": [["x"]]}):
        refused(alice.put(site_path(world, "news", "/app-names"), body), 400, "app_names")
    assert _snapshot(world) == before


def test_app_names_are_replaced(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/app-names")
    names = ["com.example.app", "123456789", "COM.EXAMPLE.APP", "  org.news.reader  "]
    site = ok(alice.put(path, {"app_names": names}))
    assert site["app_names"] == ["123456789", "com.example.app", "org.news.reader"]
    before = _snapshot(world)
    refused(alice.put(path, {"app_names": ["com.example.app", "not an app"]}), 400, "app_names")
    assert _snapshot(world) == before
    assert ok(alice.put(path, {"app_names": []}))["app_names"] == []
    assert app_names_of(world, "news") == ()


# --- sharing ------------------------------------------------------------------------------------


def test_sharing_before_any_keyset(world: World, alice: Api) -> None:
    path = site_path(world, "news", "/sharing")
    assert ok(alice.get(path)) == {
        "has_keyset": False,
        "allowed_sites": None,
        "allowed_types": [],
        "readers": [],
        "recommended_types": ["dsp"],
    }
    before = _snapshot(world)
    refused(alice.post(path, {"add_sites": [world.sites["dsp"]]}), 409)
    refused(alice.post(path, {"types": ["dsp"]}), 409)
    assert _snapshot(world) == before


def test_sharing_with_sites_and_types_sets_the_readers(
    world: World, alice: Api, admin: Api
) -> None:
    give_keyset(world, "news")  # a SHARER key: the keyset is shared with nobody yet
    path = site_path(world, "news", "/sharing")
    dsp, adv, data = world.sites["dsp"], world.sites["adv"], world.sites["data"]
    overview = ok(alice.get(path))
    assert overview["has_keyset"] is True
    assert (overview["allowed_sites"], overview["allowed_types"], overview["readers"]) == (
        [],
        [],
        [],
    )

    result = ok(alice.post(path, {"types": ["DSP"]}))
    assert (result["changed"], result["allowed_sites"], result["allowed_types"]) == (
        True,
        [],
        ["dsp"],
    )
    assert ok(alice.get(path))["readers"] == [dsp]

    result = ok(alice.post(path, {"add_sites": [adv, data]}))
    assert result["allowed_sites"] == sorted([adv, data])
    assert ok(alice.get(path))["readers"] == sorted([adv, data, dsp])

    result = ok(alice.post(path, {"remove_sites": [data], "add_sites": []}))
    assert result["allowed_sites"] == [adv]
    assert ok(alice.get(path))["readers"] == sorted([adv, dsp])
    assert ok(alice.post(path, {"remove_sites": [data]}))["changed"] is False

    # A type grant covers participants created later.
    later = ok(admin.post(f"{V1}/participants", {"name": "New Bidder", "types": ["dsp"]}), 201)
    assert ok(alice.get(path))["readers"] == sorted([adv, dsp, later["site_id"]])

    result = ok(alice.post(path, {"types": [], "remove_sites": [adv]}))
    assert (result["allowed_sites"], result["allowed_types"]) == ([], [])
    assert ok(alice.get(path))["readers"] == []
    assert keyset_acl(world, "news") == (frozenset(), frozenset())
    assert world.audit_actions().count("share.update") == 4


def test_a_publishers_first_generator_key_shares_with_every_bidder(
    world: World, alice: Api
) -> None:
    give_keyset(world, "news", Role.GENERATOR)
    overview = ok(alice.get(site_path(world, "news", "/sharing")))
    assert (overview["has_keyset"], overview["allowed_sites"], overview["readers"]) == (
        True,
        None,
        None,
    )
    result = ok(
        alice.post(site_path(world, "news", "/sharing"), {"add_sites": [world.sites["data"]]})
    )
    assert (result["allowed_sites"], result["allowed_types"]) == ([world.sites["data"]], ["dsp"])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"add_sites": [999_999]}, 404, None),
        ({"add_sites": [-5]}, 404, None),
        ({"add_sites": ["dsp"]}, 400, "add_sites"),
        ({"add_sites": [1.0]}, 400, "add_sites"),
        ({"add_sites": [True]}, 400, "add_sites"),
        ({"add_sites": 3}, 400, "add_sites"),
        ({"add_sites": [10**20]}, 400, "add_sites"),
        ({"remove_sites": [2**63]}, 400, "remove_sites"),
        ({"types": ["bidders"]}, 400, "types"),
        ({"types": "dsp"}, 400, "types"),
    ],
)
def test_sharing_refusals_write_nothing(
    world: World, alice: Api, body: dict[str, Any], status: int, field: str | None
) -> None:
    give_keyset(world, "news")
    path = site_path(world, "news", "/sharing")
    ok(alice.post(path, {"add_sites": [world.sites["adv"]], "types": ["dsp"]}))
    before = _snapshot(world)
    # The refused member comes with valid changes: none of them is made either.
    valid = {"add_sites": [world.sites["data"]], "remove_sites": [world.sites["adv"]], "types": []}
    refused(alice.post(path, {**valid, **body}), status, field)
    assert _snapshot(world) == before
    dsp = frozenset({ParticipantType.DSP})
    assert keyset_acl(world, "news") == (frozenset({world.sites["adv"]}), dsp)


def test_a_site_cannot_be_added_to_its_own_acl(world: World, alice: Api) -> None:
    give_keyset(world, "news")
    before = _snapshot(world)
    refused(
        alice.post(site_path(world, "news", "/sharing"), {"add_sites": [world.sites["news"]]}), 400
    )
    assert _snapshot(world) == before


# --- team ----------------------------------------------------------------------------------------


def _set_password(world: World, link: str, password: str) -> httpx.Response:
    browser = world.client()
    path = urlsplit(link).path
    page = browser.get(path)
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None
    assert browser.cookies.get(ANON_CSRF_COOKIE) == found.group(1)
    form = {"password": password, "password_again": password, "csrf_token": found.group(1)}
    return browser.post(path, data=form)


def test_an_invitation_link_lets_a_new_member_set_a_password_and_sign_in(
    world: World, alice: Api
) -> None:
    path = site_path(world, "news", "/team")
    invited = ok(alice.post(path, {"email": " Carol@News.Example ", "role": "Operations"}), 201)
    assert invited["email"] == "carol@news.example"
    assert (invited["pending"], invited["platform_admin"], invited["disabled"]) == (
        True,
        False,
        False,
    )
    link = invited["invite_link"]
    assert link.startswith("https://testserver/set-password/")
    team = {m["email"]: m for m in ok(alice.get(path))}
    assert team["carol@news.example"]["role"] == "operations"
    assert team["carol@news.example"]["pending"] is True
    assert {e: m["role"] for e, m in team.items()} == {
        ALICE: "admin",
        BOB: "operations",
        "carol@news.example": "operations",
    }

    # Without the anonymous CSRF cookie and field, the form is refused.
    stranger = world.client()
    link_path = urlsplit(link).path
    form = {"password": "a new long password", "password_again": "a new long password"}
    assert stranger.post(link_path, data={**form, "csrf_token": "x"}).status_code == 403

    done = _set_password(world, link, "carol's long password")
    assert done.status_code == 303
    assert done.headers["location"] == "/login?notice=password-set"
    carol = sign_in(world, "carol@news.example", "carol's long password")
    me = ok(carol.get(f"{V1}/me"))
    assert me["memberships"] == [{"site_id": world.sites["news"], "role": "operations"}]
    assert me["user"]["pending"] is False

    # The link is spent: its page says so, and posting the form anyway is refused.
    browser = world.client()
    assert "invalid, used or expired" in browser.get(link_path).text
    token = browser.csrf("/login")  # a valid anonymous CSRF cookie and field
    again = {"password": "another long password", "password_again": "another long password"}
    assert browser.post(link_path, data={**again, "csrf_token": token}).status_code == 400
    sign_in(world, "carol@news.example", "carol's long password")  # unchanged


def test_inviting_an_existing_user_gives_no_link(
    world: World, alice: Api, signed_in: SignedIn
) -> None:
    path = site_path(world, "news", "/team")
    invited = ok(alice.post(path, {"email": DANA, "role": "admin"}), 201)
    assert invited["invite_link"] is None and invited["pending"] is False
    dana = signed_in(DANA)
    assert {m["site_id"] for m in ok(dana.get(f"{V1}/me"))["memberships"]} == {
        world.sites["news"],
        world.sites["dsp"],
    }
    before = _snapshot(world)
    refused(alice.post(path, {"email": DANA, "role": "admin"}), 409, "email")
    refused(alice.post(path, {"email": "not an email", "role": "admin"}), 400, "email")
    refused(alice.post(path, {"email": "x@news.example", "role": "owner"}), 400, "role")
    refused(alice.post(path, {"email": "x@news.example"}), 400, "role")
    refused(alice.post(path, {"role": "admin"}), 400, "email")
    assert _snapshot(world) == before


def test_an_admin_changes_roles_and_removes_members(world: World, alice: Api, bob: Api) -> None:
    bob_path = site_path(world, "news", f"/team/{user_id(world, BOB)}")
    assert ok(alice.patch(bob_path, {"role": "admin"}), 204) is None
    assert roles_at(world, "news") == {ALICE: "admin", BOB: "admin"}
    assert ok(bob.get(f"{V1}/me"))["memberships"][0]["role"] == "admin"
    refused(alice.patch(bob_path, {"role": "boss"}), 400, "role")
    refused(alice.patch(bob_path, {}), 400, "role")
    ok(alice.patch(bob_path, {"role": "operations"}), 204)
    assert roles_at(world, "news") == {ALICE: "admin", BOB: "operations"}

    ok(alice.delete(bob_path), 204)
    assert roles_at(world, "news") == {ALICE: "admin"}
    refused(bob.get(site_path(world, "news")), 403)  # the session reads memberships afresh
    assert ok(bob.get(f"{V1}/participants")) == []
    refused(alice.delete(bob_path), 404)
    refused(alice.patch(bob_path, {"role": "admin"}), 404)
    assert world.audit_actions()[-3:] == ["team.set_role", "team.set_role", "team.remove"]


def test_an_admin_cannot_remove_or_demote_themselves_nor_the_last_admin(
    world: World, alice: Api, admin: Api
) -> None:
    alice_path = site_path(world, "news", f"/team/{user_id(world, ALICE)}")
    before = _snapshot(world)
    assert "yourself" in refused(alice.delete(alice_path), 409)
    refused(alice.patch(alice_path, {"role": "operations"}), 409)
    assert "one Admin" in refused(admin.patch(alice_path, {"role": "operations"}), 409)
    assert "one Admin" in refused(admin.delete(alice_path), 409)
    assert _snapshot(world) == before
    assert roles_at(world, "news") == {ALICE: "admin", BOB: "operations"}

    # With a second Admin, the first may be demoted by the other.
    bob_path = site_path(world, "news", f"/team/{user_id(world, BOB)}")
    ok(alice.patch(bob_path, {"role": "admin"}), 204)
    ok(admin.patch(alice_path, {"role": "operations"}), 204)
    assert roles_at(world, "news") == {ALICE: "operations", BOB: "admin"}


def test_an_operations_member_cannot_manage_the_team_nor_read_the_audit_trail(
    world: World, bob: Api
) -> None:
    team = site_path(world, "news", "/team")
    alice_path = f"{team}/{user_id(world, ALICE)}"
    before = _snapshot(world)
    refused(bob.post(team, {"email": "mallory@news.example", "role": "admin"}), 403)
    refused(bob.patch(alice_path, {"role": "operations"}), 403)
    refused(bob.delete(alice_path), 403)
    refused(bob.get(site_path(world, "news", "/audit")), 403)
    assert _snapshot(world) == before
    assert {m["email"] for m in ok(bob.get(team))} == {ALICE, BOB}  # reading is fine
    ok(bob.post(site_path(world, "news", "/keypairs"), {"name": "ops key"}), 201)


def test_the_site_audit_trail_holds_the_participants_rows_newest_first(
    world: World, alice: Api, admin: Api
) -> None:
    ok(alice.post(site_path(world, "news", "/keypairs"), {"name": "one"}), 201)
    ok(alice.put(site_path(world, "news", "/domains"), {"domain_names": ["example.com"]}))
    ok(admin.put(site_path(world, "dsp", "/domains"), {"domain_names": ["bid.example"]}))
    entries = ok(alice.get(site_path(world, "news", "/audit")))
    assert {e["site_id"] for e in entries} == {world.sites["news"]}
    assert [e["action"] for e in entries[:2]] == ["participant.set_domains", "cstg.create"]
    assert entries[0]["actor"] == f"portal:{ALICE}"
    assert entries[0]["details"]["domain_names"] == ["example.com"]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True)
    older = ok(alice.get(site_path(world, "news", "/audit"), before=str(seqs[0])))
    assert [e["seq"] for e in older] == seqs[1:]
    for bad in ("abc", "-1", "1.5", "²", "١", "99999999999999999999999"):
        refused(alice.get(site_path(world, "news", "/audit"), before=bad), 400, "before")


# --- access control ------------------------------------------------------------------------------


def test_a_member_of_one_participant_gets_403_at_another(world: World, alice: Api) -> None:
    give_keyset(world, "dsp")
    dsp = site_path(world, "dsp")
    dana_id = user_id(world, DANA)
    before = _snapshot(world)
    for rest in ("", "/api-keys", "/keypairs", "/sharing", "/team", "/audit"):
        refused(alice.get(dsp + rest), 403)
    for method, rest, body in (
        ("POST", "/api-keys", {"name": "k", "roles": ["ID_READER"]}),
        ("POST", "/keypairs", {"name": "k"}),
        ("PUT", "/domains", {"domain_names": ["example.com"]}),
        ("PUT", "/app-names", {"app_names": ["com.example.app"]}),
        ("POST", "/sharing", {"add_sites": [world.sites["news"]]}),
        ("POST", "/team", {"email": "alice2@news.example", "role": "admin"}),
        ("PATCH", f"/team/{dana_id}", {"role": "operations"}),
        ("DELETE", f"/team/{dana_id}", {}),
        ("PATCH", "", {"name": "Mine now"}),
    ):
        refused(alice.request(method, dsp + rest, body), 403)
    assert _snapshot(world) == before


@pytest.mark.parametrize("who", [ALICE, BOB, DANA])
def test_only_platform_admins_reach_the_platform_endpoints(
    world: World, signed_in: SignedIn, who: str
) -> None:
    api = signed_in(who)
    before = _snapshot(world)
    refused(api.get(f"{V1}/platform/keys"), 403)
    refused(api.get(f"{V1}/platform/audit"), 403)
    refused(api.post(f"{V1}/platform/keys/rotate", {"force": True}), 403)
    refused(api.post(f"{V1}/platform/salts/rotate", {"fraction": 0.5, "force": True}), 403)
    refused(
        api.post(
            f"{V1}/platform/optout/lookup", {"identity_type": "email", "identity": "a@b.example"}
        ),
        403,
    )
    refused(api.post(f"{V1}/participants", {"name": "Mine", "types": ["dsp"]}), 403)
    own = world.sites["dsp" if who == DANA else "news"]
    refused(api.patch(f"{V1}/participants/{own}", {"enabled": False}), 403)
    assert _snapshot(world) == before


# --- platform ------------------------------------------------------------------------------------


def test_a_platform_admin_creates_and_edits_participants(world: World, admin: Api) -> None:
    created = ok(
        admin.post(
            f"{V1}/participants", {"name": " Travel Co ", "types": ["publisher", "Advertiser"]}
        ),
        201,
    )
    assert created["name"] == "Travel Co"
    assert created["types"] == ["advertiser", "publisher"]
    assert (created["enabled"], created["domain_names"], created["app_names"]) == (True, [], [])
    assert created["site_id"] not in world.sites.values()
    assert created in ok(admin.get(f"{V1}/participants"))

    before = _snapshot(world)
    refused(admin.post(f"{V1}/participants", {"name": "Travel Co", "types": ["dsp"]}), 409, "name")
    refused(admin.post(f"{V1}/participants", {"name": "X", "types": []}), 400, "types")
    refused(admin.post(f"{V1}/participants", {"name": "X", "types": ["bank"]}), 400, "types")
    refused(admin.post(f"{V1}/participants", {"name": "X"}), 400, "types")
    refused(admin.post(f"{V1}/participants", {"types": ["dsp"]}), 400, "name")
    assert _snapshot(world) == before

    path = f"{V1}/participants/{created['site_id']}"
    edited = ok(admin.patch(path, {"name": "Travel Group", "types": ["dsp"], "enabled": False}))
    assert (edited["name"], edited["types"], edited["enabled"]) == ("Travel Group", ["dsp"], False)
    assert ok(admin.get(path))["name"] == "Travel Group"
    assert ok(admin.patch(path, {"enabled": True}))["name"] == "Travel Group"
    assert ok(admin.patch(path, {"enabled": None}))["enabled"] is True  # null leaves it

    before = _snapshot(world)
    refused(admin.patch(path, {"name": "News Co"}), 409, "name")
    refused(admin.patch(path, {"types": []}), 400, "types")
    refused(admin.patch(path, {"enabled": "no"}), 400, "enabled")
    refused(admin.patch(path, {"name": ""}), 400, "name")
    refused(admin.patch(f"{V1}/participants/999999", {"name": "Ghost"}), 404)
    refused(admin.patch(f"{V1}/participants/99999999999999999999", {"name": "Ghost"}), 404)
    assert _snapshot(world) == before


def test_platform_keys_list_keysets_and_salt_ages(world: World, admin: Api) -> None:
    give_keyset(world, "news")
    page = ok(admin.get(f"{V1}/platform/keys"))
    by_site = {k["site_id"]: k for k in page["keysets"]}
    news = by_site[world.sites["news"]]
    assert news["default"] is True and news["enabled"] is True
    assert news["allowed_sites"] == [] and news["allowed_types"] == []
    assert news["active_key_id"] in news["key_ids"]
    assert {-1, -2} <= set(by_site)  # master and refresh keysets
    salts = page["salts"]
    assert salts["bucket_count"] == 16
    assert sum(b["buckets"] for b in salts["bands"]) == 16
    assert salts["newest_ms"] >= salts["oldest_ms"]


def test_a_forced_key_rotation_adds_a_key_to_every_enabled_keyset(world: World, admin: Api) -> None:
    give_keyset(world, "news")

    def key_counts() -> dict[int, int]:
        keysets = ok(admin.get(f"{V1}/platform/keys"))["keysets"]
        return {k["keyset_id"]: len(k["key_ids"]) for k in keysets}

    counts = key_counts()
    result = ok(admin.post(f"{V1}/platform/keys/rotate", {"force": True}))
    assert {r["keyset_id"] for r in result["rotated"]} == set(counts)
    assert result["skipped_keysets"] == []
    assert all(r["activates"] <= r["expires"] for r in result["rotated"])
    assert key_counts() == {k: n + 1 for k, n in counts.items()}
    assert world.audit_actions()[-1] == "keys.rotate"
    refused(admin.post(f"{V1}/platform/keys/rotate", {"force": "yes"}), 400, "force")


@pytest.mark.parametrize("fraction", [0, 2, -0.5, "x", "0.5", True, None, [0.5], 1e400])
def test_salt_rotation_refuses_a_fraction_outside_zero_to_one(
    world: World, admin: Api, fraction: object
) -> None:
    before = _snapshot(world)
    body = json.dumps({"fraction": fraction, "force": True}).replace("Infinity", "1e400")
    refused(admin.post(f"{V1}/platform/salts/rotate", content=body), 400, "fraction")
    assert _snapshot(world) == before


def test_salt_rotation_refuses_integers_beyond_the_float_range(world: World, admin: Api) -> None:
    before = _snapshot(world)
    body = '{"fraction": 1' + "0" * 400 + "}"
    refused(admin.post(f"{V1}/platform/salts/rotate", content=body), 400, "fraction")
    assert _snapshot(world) == before


def test_salts_rotate_once_a_day_unless_forced(world: World, admin: Api) -> None:
    path = f"{V1}/platform/salts/rotate"
    result = ok(admin.post(path, {"fraction": 0.5}))
    assert result == {"rotated": 8, "bucket_count": 16, "skipped_reason": None}
    again = ok(admin.post(path, {"fraction": 0.5}))
    assert again["rotated"] == 0 and "already rotated" in again["skipped_reason"]
    assert ok(admin.post(path, {"fraction": 1, "force": True}))["rotated"] == 16
    assert ok(admin.post(path, {"force": True}))["rotated"] == 1  # the default: 1/365
    assert world.audit_actions().count("salts.rotate") == 3


def test_optout_lookup(world: World, admin: Api) -> None:
    path = f"{V1}/platform/optout/lookup"
    body = {"identity_type": "email", "identity": "Someone@Example.com"}
    assert ok(admin.post(path, body)) == {"opted_out": False, "since": None}
    record_optout(RecordOptOut(IdentityType.Email, "someone@example.com"), world.uow(), world.ctx())
    assert ok(admin.post(path, {**body, "identity_type": "EMAIL"})) == {
        "opted_out": True,
        "since": T0_MS // 1000,
    }
    phone = {"identity_type": "phone", "identity": "+12345678901"}
    assert ok(admin.post(path, phone))["opted_out"] is False
    before = _snapshot(world)
    refused(admin.post(path, {**body, "identity_type": "fax"}), 400, "identity_type")
    refused(admin.post(path, {"identity": "a@b.example"}), 400, "identity_type")
    refused(admin.post(path, {**phone, "identity": "12345"}), 400, "identity")
    refused(admin.post(path, {**body, "identity": "not an email"}), 400, "identity")
    refused(admin.post(path, {"identity_type": "email"}), 400, "identity")
    assert _snapshot(world) == before  # a lookup writes nothing, not even the audit trail


def test_the_platform_audit_trail_pages_back(world: World, admin: Api, alice: Api) -> None:
    ok(alice.post(site_path(world, "news", "/keypairs"), {"name": "n"}), 201)
    ok(admin.post(f"{V1}/participants", {"name": "Audit Co", "types": ["dsp"]}), 201)
    entries = ok(admin.get(f"{V1}/platform/audit"))
    assert [e["action"] for e in entries[:2]] == ["participant.create", "cstg.create"]
    assert entries[0]["actor"] == f"portal:{ADMIN}"
    assert entries[0]["details"]["name"] == "Audit Co"
    assert len(entries) == len(world.audit_actions())
    assert {e["site_id"] for e in entries} > {world.sites["news"], world.sites["dsp"]}
    page = ok(admin.get(f"{V1}/platform/audit", before=str(entries[1]["seq"])))
    assert page == entries[2:]
    assert ok(admin.get(f"{V1}/platform/audit", before="1")) == []
    refused(admin.get(f"{V1}/platform/audit", before="x"), 400, "before")


# --- OpenAPI -------------------------------------------------------------------------------------


ROUTE_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _template(route: str) -> str:
    """The OpenAPI form of a route path: ``{site_id:int}`` -> ``{site_id}``."""
    return ROUTE_PARAM.sub(r"{\1}", route)


def test_the_openapi_document_describes_every_operation(world: World) -> None:
    doc = ok(anonymous(world).get("/api/openapi.json"))
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
    }
    operation_ids = []
    for op in OPERATIONS:
        path = _template(op.path)
        documented = doc["paths"][path][op.method.lower()]
        operation_ids.append(documented["operationId"])
        assert documented["summary"] == op.summary
        params = {(p["name"], p["in"]): p for p in documented.get("parameters", [])}
        for name, convertor in ROUTE_PARAM.findall(op.path):
            param = params.pop((name, "path"))
            assert param["required"] is True
            assert param["schema"]["type"] == ("integer" if convertor == "int" else "string")
        for query in op.query:
            assert params.pop((query["name"], "query")) == query
        if op.method != "GET":
            assert params.pop(("X-CSRF-Token", "header"))["required"] is True
        assert params == {}
        # Each status listed, no 4XX range: the success and every refusal the operation can give.
        assert set(documented["responses"]) == {str(s) for s in {op.status, *refusal_statuses(op)}}
        assert "401" in documented["responses"]
        if op.body is None:
            assert "requestBody" not in documented
        else:
            schema = documented["requestBody"]["content"]["application/json"]["schema"]
            assert schema == op.body
    assert len(operation_ids) == len(set(operation_ids))
    documented_ops = {
        (path, method.upper()) for path, item in doc["paths"].items() for method in item
    }
    assert documented_ops == {(_template(op.path), op.method) for op in OPERATIONS} | {
        ("/api/v1/session", "POST"),
        ("/api/v1/session", "DELETE"),
    }
    sign_out = doc["paths"]["/api/v1/session"]["delete"]
    assert [p["name"] for p in sign_out["parameters"]] == ["X-CSRF-Token"]


def _real_ids(world: World, api: Api) -> dict[str, object]:
    """An id of each kind the paths take, for records that exist (made through ``api``)."""
    body = {"name": "k", "roles": ["SHARER"]}
    key = ok(api.post(site_path(world, "news", "/api-keys"), body), 201)
    pair = ok(api.post(site_path(world, "news", "/keypairs"), {"name": "p"}), 201)
    return {
        "site_id": world.sites["news"],
        "key_id": key["key_id"],
        "subscription_id": pair["subscription_id"],
        "user_id": user_id(world, BOB),
    }


def test_every_documented_operation_is_routed(world: World, admin: Api) -> None:
    doc = ok(admin.get("/api/openapi.json"))
    ids = _real_ids(world, admin)
    order = {"get": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}  # sign out last
    calls = sorted(
        ((order[m], path, m) for path, item in doc["paths"].items() for m in item),
        key=lambda c: (c[0], c[1] == "/api/v1/session"),
    )
    for _, path, method in calls:
        response = admin.request(method.upper(), fill_path(path, ids), {})
        assert response.status_code not in (405, 307), (method, path, response.status_code)
        if response.status_code != 204:
            assert response.headers["content-type"].startswith("application/json"), (
                method,
                path,
                response.status_code,
                response.text,
            )


def test_documented_success_statuses_are_the_answered_ones(world: World, admin: Api) -> None:
    doc = ok(admin.get("/api/openapi.json"))
    ids = _real_ids(world, admin)
    p = f"{V1}/participants/{{site_id}}"
    bodies = {
        ("post", f"{p}/keypairs/{{subscription_id}}/disable"): {},
        ("patch", f"{p}/team/{{user_id}}"): {"role": "admin"},
        ("delete", f"{p}/team/{{user_id}}"): {},
        ("post", f"{p}/keypairs"): {"name": "another"},
        ("post", f"{p}/api-keys"): {"name": "another", "roles": ["GENERATOR"]},
        ("patch", f"{p}/api-keys/{{key_id}}"): {"name": "renamed"},
        ("post", f"{p}/api-keys/{{key_id}}/disable"): {},
        ("post", f"{V1}/participants"): {"name": "Status Co", "types": ["dsp"]},
        ("post", f"{p}/team"): {"email": "new@news.example", "role": "admin"},
    }
    for (method, path), body in bodies.items():
        response = admin.request(method.upper(), fill_path(path, ids), body)
        documented = doc["paths"][path][method]["responses"]
        success = [s for s in documented if s.startswith("2")]
        assert success == [str(response.status_code)], (method, path, response.status_code)


# --- hypothesis: arbitrary JSON never breaks a write ---------------------------------------------

MEMBERS = [
    "name", "roles", "types", "enabled", "domain_names", "app_names", "add_sites",
    "remove_sites", "email", "role", "force", "fraction", "identity_type", "identity",
    "password",
]  # fmt: skip
WORDS = [
    "GENERATOR", "SHARER", "ID_READER", "MAPPER", "publisher", "dsp", "advertiser",
    "data_provider", "admin", "operations", "email", "phone", "example.com",
    "https://shop.example.co.uk/x", "http://[::1", "com.example.app", "someone@example.com",
    "+12345678901", ALICE, "", " ", "1", "²",
]  # fmt: skip
# Values at the edges: beyond the id columns and the float range, and lone surrogates (JSON
# "\\ud800" escapes, which decode to a str that no database can store).
EDGES = [
    2**31, -(2**31) - 1, 2**63, 10**20, 10**400, float("nan"), float("inf"), "\ud800",
    "x\udfff@news.example", ["\udbff"],
]  # fmt: skip

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-3, max_value=40),  # real site and user ids among them
    st.floats(),  # NaN and infinities too
    st.text(max_size=20),
)
_leaves = st.one_of(st.sampled_from(EDGES), st.sampled_from(WORDS), _scalars)
_values = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(MEMBERS) | st.text(max_size=4), children, max_size=4),
    ),
    max_leaves=12,
)
# Members laid over each endpoint's valid body, so that every member's reader is reached.
_overrides = st.dictionaries(
    st.sampled_from(MEMBERS),
    st.one_of(st.sampled_from(EDGES), _leaves, st.lists(_leaves, max_size=4), _values),
    max_size=4,
)


def _valid_bodies(world: World) -> dict[str, dict[str, Any]]:
    """A body each write accepts (or refuses for a reason unrelated to its shape)."""
    p = f"{V1}/participants/{{site_id:int}}"
    return {
        f"{V1}/session": {"email": "nobody@news.example", "password": "not the password"},
        f"{V1}/participants": {"name": "Fuzz Co", "types": ["dsp"]},
        p: {"name": "News Co", "types": ["publisher"], "enabled": True},
        f"{p}/api-keys": {"name": "fuzz", "roles": ["GENERATOR"]},
        f"{p}/api-keys/{{key_id:path}}": {"name": "k", "roles": ["SHARER"]},
        f"{p}/api-keys/{{key_id:path}}/disable": {},
        f"{p}/keypairs": {"name": "fuzz"},
        f"{p}/keypairs/{{subscription_id}}/disable": {},
        f"{p}/domains": {"domain_names": ["example.com"]},
        f"{p}/app-names": {"app_names": ["com.example.app"]},
        f"{p}/sharing": {
            "add_sites": [world.sites["dsp"]],
            "remove_sites": [world.sites["adv"]],
            "types": ["dsp"],
        },
        f"{p}/team": {"email": "fuzz@news.example", "role": "operations"},
        f"{p}/team/{{user_id:int}}": {"role": "operations"},
        f"{V1}/platform/keys/rotate": {"force": False},
        f"{V1}/platform/salts/rotate": {"fraction": 0.01},
        f"{V1}/platform/optout/lookup": {"identity_type": "email", "identity": "a@example.com"},
    }


Target = tuple[str, str, dict[str, Any]]  # method, path with real ids, a valid body


@pytest.fixture(scope="module")
def fuzz_targets(
    template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, list[Target]]]:
    """One world for every example (function-scoped fixtures do not mix with @given)."""
    world = copy_world(template, tmp_path_factory.mktemp("fuzz") / "portal.db")
    give_keyset(world, "news")
    admin = session_api(world, template, ADMIN)
    ids = _real_ids(world, admin)
    valid = _valid_bodies(world)
    writes = [(op.method, op.path) for op in OPERATIONS if op.method not in ("GET", "DELETE")]
    targets = [(m, fill_path(path, ids), valid[path]) for m, path in writes]
    assert len(targets) == len(valid) - 1  # every write has a valid body
    yield admin, [*targets, ("POST", f"{V1}/session", valid[f"{V1}/session"])]
    world.engine.dispose()


@settings(max_examples=60, deadline=None)
@given(overrides=_overrides, replacement=st.none() | _values)
def test_arbitrary_json_never_causes_a_server_error(
    fuzz_targets: tuple[Api, list[Target]],
    overrides: dict[str, Any],
    replacement: object,
) -> None:
    """Each write gets its valid body with some members replaced by arbitrary JSON, or an
    arbitrary JSON value instead of the body."""
    admin, targets = fuzz_targets
    for method, path, valid in targets:
        body = {**valid, **overrides} if replacement is None else replacement
        content = json.dumps(body)  # NaN and Infinity included: Python's json reads them
        response = admin.request(method, path, content=content)
        assert response.status_code < 500, (method, path, content, response.text)
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["status"] == response.status_code, (method, path, content)
            assert isinstance(error["message"], str) and error["message"]
            assert error["field"] is None or isinstance(error["field"], str)
        elif response.status_code != 204:
            response.json()
    assert ok(admin.get(f"{V1}/me"))["user"]["email"] == ADMIN  # still signed in


def test_a_bodiless_action_needs_no_content_type_but_still_its_csrf_token(world: World) -> None:
    give_keyset(world, "news", Role.GENERATOR)
    with world.uow() as uow:
        (key,) = uow.api_keys.list_for_site(world.sites["news"])
    alice = sign_in(world, ALICE)
    path = (
        f"/api/v1/participants/{world.sites['news']}/api-keys/{quote(key.key_id, safe='')}/disable"
    )
    refused(alice.post(path, content=b"", content_type=None, csrf=None), 403)
    ok(alice.post(path, content=b"", content_type=None))
    with world.uow() as uow:
        assert uow.api_keys.get(key.key_id).disabled  # type: ignore[union-attr]

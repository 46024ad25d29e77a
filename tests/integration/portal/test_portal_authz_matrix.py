"""The portal's cross-participant authorisation matrix (portal-and-sharing §2.2).

Every participant-scoped page, every ``/platform`` page, every JSON read under
``/api/v1/participants/{site_id}`` and ``/api/v1/platform``, every form POST and every JSON
write is tried by five actors, and each cell must end as the rules say:

=================  ==========  ===========  =============  =========  ===========
level              alice-own   bob-ops-own  alice-foreign  admin-any  anonymous
=================  ==========  ===========  =============  =========  ===========
MEMBER             allowed     allowed      forbidden      allowed    sign in
SITE_ADMIN         allowed     forbidden    forbidden      allowed    sign in
PLATFORM           forbidden   forbidden    forbidden      allowed    sign in
=================  ==========  ===========  =============  =========  ===========

* allowed: the route's own success status (never 401/403/404 for a resource that exists);
* forbidden: 403;
* sign in: HTML answers 303 to ``/login?next=...``, JSON answers 401.

Members (Admin or Operations) see and change keys, client-side setup, sharing and webhooks of
their own participant and read its team list; only its Admins manage the team and read its
audit trail; nobody acts on another participant; platform admins act as Admin everywhere and
alone reach ``/platform/*`` and ``/api/v1/platform/*``.

One world per module: each actor signs in once (argon2 is slow), and every write prepares its
own fresh target (an API key, keypair, webhook, team member...) so that cells stay independent.
A refused write must leave every table as it was (sessions aside) and the audit trail unchanged;
an allowed write must change something.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from api_client import Api, fill_path, sign_in
from portal_world import ADMIN, ALICE, BOB, World, build_world, give_keyset
from sqlalchemy import select

import uid2.admin.accounts as accounts
from uid2.admin import CreateApiKey, create_api_key
from uid2.admin.cstg import CreateCstgKeypair, create_cstg_keypair
from uid2.admin.sharing import UpdateSharing, update_sharing
from uid2.admin.validation import roles_allowed_for
from uid2.admin.webhooks import CreateWebhook, create_webhook
from uid2.portal.api import OPERATIONS
from uid2.portal.pages_integration import integration_routes
from uid2.portal.pages_participant import participant_routes
from uid2.portal.pages_platform import platform_routes
from uid2.portal.pages_sharing import sharing_routes
from uid2.portal.pages_webhooks import webhook_routes
from uid2.store import SecretBox, make_engine, sqlite_url, upgrade_schema
from uid2.store.records import MemberRole, Role
from uid2.store.schema import metadata
from uid2.store.secrets import generate_kek

# --- the rules ---------------------------------------------------------------------------------

MEMBER, SITE_ADMIN, PLATFORM = "member", "site-admin", "platform"
ALLOWED, FORBIDDEN, SIGN_IN = "allowed", "forbidden", "sign-in"

# actor -> (who signs in, None: nobody; which participant the request names)
ACTORS: dict[str, tuple[str | None, str]] = {
    "alice-own": (ALICE, "news"),  # Admin of News
    "bob-ops-own": (BOB, "news"),  # Operations at News
    "alice-foreign": (ALICE, "dsp"),  # News's Admin, on the DSP
    "admin-any": (ADMIN, "dsp"),  # platform admin, member of nothing
    "anonymous": (None, "news"),
}

RULES: dict[str, dict[str, str]] = {
    MEMBER: {
        "alice-own": ALLOWED,
        "bob-ops-own": ALLOWED,
        "alice-foreign": FORBIDDEN,
        "admin-any": ALLOWED,
        "anonymous": SIGN_IN,
    },
    SITE_ADMIN: {
        "alice-own": ALLOWED,
        "bob-ops-own": FORBIDDEN,
        "alice-foreign": FORBIDDEN,
        "admin-any": ALLOWED,
        "anonymous": SIGN_IN,
    },
    PLATFORM: {
        "alice-own": FORBIDDEN,
        "bob-ops-own": FORBIDDEN,
        "alice-foreign": FORBIDDEN,
        "admin-any": ALLOWED,
        "anonymous": SIGN_IN,
    },
}

# (method, route template, actor) -> why the portal disagrees with the rules today
# (empty: the one found, a 404 that told non-admins which participants they belong to on
# /platform/participants/{id}, is fixed)
DISAGREEMENTS: dict[tuple[str, str, str], str] = {}

# --- the routes --------------------------------------------------------------------------------

# HTML pages: (route template, level)
HTML_PAGES: list[tuple[str, str]] = [
    ("/p/{site_id:int}", MEMBER),
    ("/p/{site_id:int}/api-keys", MEMBER),
    ("/p/{site_id:int}/client-side", MEMBER),
    ("/p/{site_id:int}/sharing", MEMBER),
    ("/p/{site_id:int}/webhooks", MEMBER),
    ("/p/{site_id:int}/team", MEMBER),  # Operations read the team list
    ("/p/{site_id:int}/audit", SITE_ADMIN),
    ("/platform/participants", PLATFORM),
    ("/platform/participants/{site_id:int}", PLATFORM),
    ("/platform/keys", PLATFORM),
    ("/platform/optout", PLATFORM),
    ("/platform/audit", PLATFORM),
    ("/platform/users", PLATFORM),
]

P = "/api/v1/participants/{site_id:int}"
KEY = P + "/api-keys/{key_id:path}"

# JSON reads: (route template, level)
API_READS: list[tuple[str, str]] = [
    (P, MEMBER),
    (P + "/api-keys", MEMBER),
    (P + "/keypairs", MEMBER),
    (P + "/sharing", MEMBER),
    (P + "/team", MEMBER),
    (P + "/audit", SITE_ADMIN),
    ("/api/v1/platform/keys", PLATFORM),
    ("/api/v1/platform/audit", PLATFORM),
]

_counter = itertools.count(1)


@dataclass
class Target:
    """What one cell acts on: the named participant and the fresh records made for it."""

    world: World
    site: str
    n: int = field(default_factory=lambda: next(_counter))
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def site_id(self) -> int:
        return self.world.sites[self.site]

    @property
    def role(self) -> str:
        """A permission the participant's types allow (keys of any other are refused: 400)."""
        with self.world.uow() as uow:
            site = uow.sites.get(self.site_id)
        assert site is not None
        return sorted(r.value for r in roles_allowed_for(site.types))[0]

    @property
    def other(self) -> int:
        return self.world.sites["adv"]


Prepare = Callable[[Target], None]


def nothing(t: Target) -> None:
    pass


def fresh_key(t: Target) -> None:
    cmd = CreateApiKey(t.site_id, frozenset({_role(t)}), f"target-key-{t.n}")
    t.ids["key_id"] = create_api_key(cmd, t.world.uow(), t.world.ctx()).key_id


def _role(t: Target) -> Role:
    return Role(t.role)


def fresh_keypair(t: Target) -> None:
    cmd = CreateCstgKeypair(t.site_id, f"target-pair-{t.n}")
    created = create_cstg_keypair(cmd, t.world.uow(), t.world.ctx())
    t.ids["subscription_id"] = created.subscription_id


def fresh_webhook(t: Target) -> None:
    template = f"https://hooks{t.n}.example.com/optout?id=${{ADVERTISING_ID}}"
    cmd = CreateWebhook(t.site_id, template, "GET", allow_local_hosts=False)
    t.ids["webhook_id"] = create_webhook(cmd, t.world.uow(), t.world.ctx()).webhook_id


def fresh_member(t: Target) -> None:
    """A pending Operations member of the participant (invited, no password yet)."""
    cmd = accounts.InviteMember(t.site_id, f"member{t.n}@{t.site}.example", MemberRole.OPERATIONS)
    t.ids["user_id"] = accounts.invite_member(cmd, t.world.uow(), t.world.ctx()).user.user_id


def fresh_user(t: Target) -> None:
    cmd = accounts.CreateUser(f"user{t.n}@elsewhere.example", None)
    t.ids["user_id"] = accounts.create_user(cmd, t.world.uow(), t.world.ctx()).user_id


def _sharing(t: Target, **changes: Any) -> None:
    cmd = UpdateSharing(t.site_id, **changes)
    update_sharing(cmd, t.world.uow(), t.world.ctx())


def not_shared(t: Target) -> None:
    _sharing(t, remove_sites=frozenset({t.other}))


def shared(t: Target) -> None:
    _sharing(t, add_sites=frozenset({t.other}))


def no_shared_types(t: Target) -> None:
    _sharing(t, types=frozenset())


Body = Callable[[Target], dict[str, Any]]


@dataclass(frozen=True)
class Write:
    method: str
    path: str  # the route template
    level: str
    status: int  # the route's success status
    body: Body = lambda t: {}
    prepare: Prepare = nothing
    changes: bool = True  # an allowed call writes something


# Every form POST of the participant and platform pages, with a valid form.
HTML_WRITES: list[Write] = [
    Write("POST", "/p/{site_id:int}/team/invite", SITE_ADMIN, 200,
          lambda t: {"email": f"invited{t.n}@example.com", "role": "operations"}),
    Write("POST", "/p/{site_id:int}/team/{user_id:int}/role", SITE_ADMIN, 303,
          lambda t: {"role": "admin"}, fresh_member),
    Write("POST", "/p/{site_id:int}/team/{user_id:int}/remove", SITE_ADMIN, 303,
          prepare=fresh_member),
    Write("POST", "/p/{site_id:int}/team/{user_id:int}/resend", SITE_ADMIN, 200,
          prepare=fresh_member),
    Write("POST", "/p/{site_id:int}/api-keys", MEMBER, 200,
          lambda t: {"name": f"new-key-{t.n}", "roles": [t.role]}),
    Write("POST", "/p/{site_id:int}/api-keys/{key_id:path}/edit", MEMBER, 303,
          lambda t: {"name": f"renamed-{t.n}", "roles": [t.role]}, fresh_key),
    Write("POST", "/p/{site_id:int}/api-keys/{key_id:path}/disable", MEMBER, 303,
          lambda t: {"confirm_key_id": t.ids["key_id"]}, fresh_key),
    Write("POST", "/p/{site_id:int}/client-side/keypairs", MEMBER, 303,
          lambda t: {"name": f"new-pair-{t.n}"}),
    Write("POST", "/p/{site_id:int}/client-side/keypairs/{subscription_id}/disable", MEMBER, 303,
          lambda t: {"confirm_subscription_id": t.ids["subscription_id"]}, fresh_keypair),
    Write("POST", "/p/{site_id:int}/client-side/domains", MEMBER, 303,
          lambda t: {"domains": f"site{t.n}.com", "mode": "append"}),
    Write("POST", "/p/{site_id:int}/client-side/app-names", MEMBER, 303,
          lambda t: {"app_names": f"com.example.app{t.n}", "mode": "append"}),
    Write("POST", "/p/{site_id:int}/sharing/types", MEMBER, 303,
          lambda t: {"types": ["publisher"]}, no_shared_types),
    Write("POST", "/p/{site_id:int}/sharing/grant", MEMBER, 303,
          lambda t: {"sites": [str(t.other)]}, not_shared),
    Write("POST", "/p/{site_id:int}/sharing/revoke", MEMBER, 303,
          lambda t: {"sites": [str(t.other)]}, shared),
    Write("POST", "/p/{site_id:int}/webhooks", MEMBER, 303,
          lambda t: {"url_template": f"https://new{t.n}.example.com/o?u=${{ADVERTISING_ID}}",
                     "method": "GET"}),
    Write("POST", "/p/{site_id:int}/webhooks/{webhook_id:int}/disable", MEMBER, 303,
          prepare=fresh_webhook),
    Write("POST", "/platform/participants", PLATFORM, 303,
          lambda t: {"name": f"New Co {t.n}", "types": ["publisher"]}),
    Write("POST", "/platform/participants/{site_id:int}", PLATFORM, 303,
          lambda t: {"name": f"Renamed {t.n}", "types": ["dsp"], "enabled": "on"}),
    Write("POST", "/platform/keys/rotate", PLATFORM, 200, lambda t: {"force": "on"}),
    Write("POST", "/platform/salts/rotate", PLATFORM, 200,
          lambda t: {"fraction": "0.5", "force": "on"}),
    Write("POST", "/platform/optout", PLATFORM, 200,
          lambda t: {"identity_type": "email", "identity": "someone@example.com", "record": "no"},
          changes=False),
    Write("POST", "/platform/users", PLATFORM, 200,
          lambda t: {"email": f"created{t.n}@example.com"}),
    Write("POST", "/platform/users/{user_id:int}/link", PLATFORM, 200, prepare=fresh_user),
    Write("POST", "/platform/users/{user_id:int}/lock", PLATFORM, 303,
          lambda t: {"lock": "yes"}, fresh_user),
]  # fmt: skip

# Every JSON write of OPERATIONS, with a valid body.
API_WRITES: list[Write] = [
    Write("POST", "/api/v1/participants", PLATFORM, 201,
          lambda t: {"name": f"Api Co {t.n}", "types": ["publisher"]}),
    Write("PATCH", P, PLATFORM, 200, lambda t: {"name": f"Patched {t.n}"}),
    Write("POST", P + "/api-keys", MEMBER, 201,
          lambda t: {"name": f"api-key-{t.n}", "roles": [t.role]}),
    Write("PATCH", KEY, MEMBER, 200, lambda t: {"name": f"api-renamed-{t.n}"}, fresh_key),
    Write("POST", KEY + "/disable", MEMBER, 200, prepare=fresh_key),
    Write("POST", P + "/keypairs", MEMBER, 201, lambda t: {"name": f"api-pair-{t.n}"}),
    Write("POST", P + "/keypairs/{subscription_id}/disable", MEMBER, 204,
          prepare=fresh_keypair),
    Write("PUT", P + "/domains", MEMBER, 200, lambda t: {"domain_names": [f"api{t.n}.com"]}),
    Write("PUT", P + "/app-names", MEMBER, 200,
          lambda t: {"app_names": [f"com.example.api{t.n}"]}),
    Write("POST", P + "/sharing", MEMBER, 200, lambda t: {"add_sites": [t.other]}, not_shared),
    Write("POST", P + "/team", SITE_ADMIN, 201,
          lambda t: {"email": f"api-invited{t.n}@example.com", "role": "operations"}),
    Write("PATCH", P + "/team/{user_id:int}", SITE_ADMIN, 204, lambda t: {"role": "admin"},
          fresh_member),
    Write("DELETE", P + "/team/{user_id:int}", SITE_ADMIN, 204, prepare=fresh_member),
    Write("POST", "/api/v1/platform/keys/rotate", PLATFORM, 200, lambda t: {"force": True}),
    Write("POST", "/api/v1/platform/salts/rotate", PLATFORM, 200,
          lambda t: {"fraction": 0.5, "force": True}),
    Write("POST", "/api/v1/platform/optout/lookup", PLATFORM, 200,
          lambda t: {"identity_type": "email", "identity": "someone@example.com"},
          changes=False),
]  # fmt: skip

# --- the world ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Overrides the conftest's ``world``: one store for the whole matrix."""
    engine = make_engine(sqlite_url(tmp_path_factory.mktemp("authz") / "portal.db"))
    upgrade_schema(engine)
    world = build_world(engine, SecretBox(generate_kek()))
    for site in ("news", "dsp"):
        give_keyset(world, site)  # something to share
    yield world
    engine.dispose()


@pytest.fixture(scope="module")
def sessions(world: World) -> dict[str | None, Api]:
    """One session per person (cookie and CSRF token serve the pages and the JSON API alike)."""
    signed_in: dict[str | None, Api] = {e: sign_in(world, e) for e in (ADMIN, ALICE, BOB)}
    signed_in[None] = Api(world.client())
    return signed_in


def snapshot(world: World) -> dict[str, list[str]]:
    """Every row of every table but the sessions (which sign-ins add to)."""
    with world.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in metadata.sorted_tables
            if table.name != "portal_sessions"
        }


# --- the checks --------------------------------------------------------------------------------


def cells(
    rows: list[Any], level_of: Callable[[Any], str], path_of: Callable[[Any], str], method: str
) -> list[Any]:
    """One parameter set per (row, actor), named ``METHOD path [actor]``; known disagreements
    are strict xfails."""
    params = []
    for row in rows:
        for actor in ACTORS:
            m = row.method if isinstance(row, Write) else method
            reason = DISAGREEMENTS.get((m, path_of(row), actor))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(
                pytest.param(row, actor, RULES[level_of(row)][actor], marks=marks,
                             id=f"{m} {path_of(row)} [{actor}]")
            )  # fmt: skip
    return params


def check(response: Any, expected: str, success: int, *, html: bool) -> None:
    where = (response.request.method, response.request.url.path, response.status_code)
    if expected == ALLOWED:
        assert response.status_code == success, (*where, response.text[:500])
    elif expected == FORBIDDEN:
        assert response.status_code == 403, (*where, response.text[:500])
    elif html:
        assert response.status_code == 303, where
        assert response.headers["location"].startswith("/login?next="), response.headers
    else:
        assert response.status_code == 401, (*where, response.text[:500])


def _actor(actor: str, world: World, sessions: dict[str | None, Api]) -> tuple[Api, Target]:
    email, site = ACTORS[actor]
    return sessions[email], Target(world, site)


@pytest.mark.parametrize(
    ("page", "actor", "expected"), cells(HTML_PAGES, lambda r: r[1], lambda r: r[0], "GET")
)
def test_html_page(
    page: tuple[str, str], actor: str, expected: str, world: World, sessions: dict[str | None, Api]
) -> None:
    api, target = _actor(actor, world, sessions)
    response = api.client.get(fill_path(page[0], {"site_id": target.site_id}))
    check(response, expected, 200, html=True)


@pytest.mark.parametrize(
    ("read", "actor", "expected"), cells(API_READS, lambda r: r[1], lambda r: r[0], "GET")
)
def test_api_read(
    read: tuple[str, str], actor: str, expected: str, world: World, sessions: dict[str | None, Api]
) -> None:
    api, target = _actor(actor, world, sessions)
    response = api.get(fill_path(read[0], {"site_id": target.site_id}))
    check(response, expected, 200, html=False)
    if expected != ALLOWED:
        assert response.json()["error"]["status"] == response.status_code


def _write(
    write: Write, actor: str, world: World, sessions: dict[str | None, Api]
) -> tuple[Api, Target, str]:
    api, target = _actor(actor, world, sessions)
    write.prepare(target)
    return api, target, fill_path(write.path, {"site_id": target.site_id, **target.ids})


def _check_write(world: World, before: tuple[Any, list[str]], expected: str, write: Write) -> None:
    rows, actions = before
    if expected == ALLOWED:
        if write.changes:
            assert snapshot(world) != rows, "an allowed write changed nothing"
    else:
        assert world.audit_actions() == actions, "a refused write was audited"
        assert snapshot(world) == rows, "a refused write changed the store"


@pytest.mark.parametrize(
    ("write", "actor", "expected"), cells(HTML_WRITES, lambda w: w.level, lambda w: w.path, "")
)
def test_html_form_post(
    write: Write, actor: str, expected: str, world: World, sessions: dict[str | None, Api]
) -> None:
    api, target, path = _write(write, actor, world, sessions)
    form = {**write.body(target), "csrf_token": api.csrf or "no-session-no-token"}
    before = snapshot(world), world.audit_actions()
    response = api.client.post(path, data=form)
    check(response, expected, write.status, html=True)
    _check_write(world, before, expected, write)


@pytest.mark.parametrize(
    ("write", "actor", "expected"), cells(API_WRITES, lambda w: w.level, lambda w: w.path, "")
)
def test_api_write(
    write: Write, actor: str, expected: str, world: World, sessions: dict[str | None, Api]
) -> None:
    api, target, path = _write(write, actor, world, sessions)
    before = snapshot(world), world.audit_actions()
    response = api.request(write.method, path, write.body(target))  # X-CSRF-Token when signed in
    check(response, expected, write.status, html=False)
    _check_write(world, before, expected, write)


# --- the matrix covers every route ---------------------------------------------------------------


def _page_routes() -> list[Any]:
    return [
        *participant_routes(),
        *integration_routes(),
        *sharing_routes(),
        *webhook_routes(),
        *platform_routes(),
    ]


def test_every_page_and_form_is_in_the_matrix() -> None:
    gets = {r.path for r in _page_routes() if "GET" in (r.methods or ())}
    posts = {r.path for r in _page_routes() if "POST" in (r.methods or ())}
    assert gets - {"/", "/switch"} == {path for path, _ in HTML_PAGES}
    assert posts == {w.path for w in HTML_WRITES}


def test_every_json_operation_is_in_the_matrix() -> None:
    scoped = ("/api/v1/participants/", "/api/v1/platform/")
    reads = {op.path for op in OPERATIONS if op.method == "GET" and op.path.startswith(scoped)}
    writes = {(op.method, op.path) for op in OPERATIONS if op.method != "GET"}
    assert reads == {path for path, _ in API_READS}
    assert writes == {(w.method, w.path) for w in API_WRITES}


@pytest.mark.parametrize(
    ("email", "visible"),
    [
        (ALICE, {"news"}),
        (BOB, {"news"}),
        (ADMIN, {"news", "dsp", "adv", "data"}),
    ],
    ids=["alice", "bob", "admin"],
)
def test_the_participant_list_shows_only_ones_own(
    email: str, visible: set[str], world: World, sessions: dict[str | None, Api]
) -> None:
    response = sessions[email].get("/api/v1/participants")
    assert response.status_code == 200, response.text
    shown = {s["site_id"] for s in response.json()}
    named = {world.sites[k] for k in visible}
    assert named <= shown
    assert not (shown & {world.sites[k] for k in world.sites if k not in visible})
    assert sessions[None].get("/api/v1/participants").status_code == 401

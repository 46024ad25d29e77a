"""The JSON API (``/api/v1``): the same actions as the HTML pages, through the same services.

``GET /api/openapi.json`` describes it; the document is built from :data:`OPERATIONS`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import uid2.admin.views as views
from uid2.admin.participants import EditParticipant
from uid2.portal import api_views, forms
from uid2.portal.account_service import csrf_matches
from uid2.portal.api_schemas import (
    APP_NAMES,
    BEFORE_QUERY,
    CHANGE_ROLE,
    CREATE_API_KEY,
    CREATE_KEYPAIR,
    CREATE_PARTICIPANT,
    DOMAINS,
    EDIT_API_KEY,
    EDIT_PARTICIPANT,
    INVITE,
    OPTOUT_LOOKUP,
    ROTATE_KEYS,
    ROTATE_SALTS,
    SHARING,
    array,
    ref,
)
from uid2.portal.api_support import (
    ApiFallback,
    Call,
    Operation,
    error_response,
    read_json,
    routes_for,
)
from uid2.portal.errors import PortalError, bad_field
from uid2.portal.openapi import openapi_document
from uid2.portal.participant_service import ParticipantService
from uid2.portal.platform_service import PlatformService
from uid2.portal.web import (
    SESSION_COOKIE,
    call,
    client_address,
    portal_of,
    session_of,
    set_cookie,
)

P = "/api/v1/participants/{site_id:int}"
# Key ids are standard base64 and may hold "/": the id is the rest of the path (or %2F-escaped).
KEY = P + "/api-keys/{key_id:path}"


def _svc(c: Call) -> ParticipantService:
    return portal_of(c.request).participants


def _platform(c: Call) -> PlatformService:
    return portal_of(c.request).platform


# --- participants -----------------------------------------------------------------------------


async def list_participants(c: Call) -> object:
    sites = await call(_svc(c).sites_for, c.session.principal)
    return [views.site_view(s) for s in sites]


async def get_participant(c: Call) -> object:
    site = await call(_svc(c).site, c.session.principal, c.path_int("site_id"))
    return {
        **views.site_view(site),
        "allowed_roles": sorted(r.value for r in _svc(c).allowed_roles(site)),
    }


async def create_participant(c: Call) -> object:
    types = forms.participant_types(c.body.texts("types") or [])
    site = await call(
        _platform(c).create_participant, c.session.principal, c.body.req_text("name"), types
    )
    return views.site_view(site)


async def edit_participant(c: Call) -> object:
    types_given = c.body.texts("types", required=False)
    cmd = EditParticipant(
        c.path_int("site_id"),
        name=c.body.text("name", required=False),
        types=None if types_given is None else forms.participant_types(types_given),
        enabled=c.body.flag("enabled") if c.body.has("enabled") else None,
    )
    return views.site_view(await call(_platform(c).edit_participant, c.session.principal, cmd))


# --- API keys and client-side keys -----------------------------------------------------------


async def list_api_keys(c: Call) -> object:
    keys = await call(_svc(c).api_keys, c.session.principal, c.path_int("site_id"))
    return [{**views.api_key_view(k), "created": k.created_s} for k in keys]


async def create_api_key(c: Call) -> object:
    roles = forms.roles(c.body.texts("roles") or [])
    created = await call(
        _svc(c).create_api_key,
        c.session.principal,
        c.path_int("site_id"),
        c.body.req_text("name"),
        roles,
    )
    return views.created_api_key_view(created)


async def update_api_key(c: Call) -> object:
    roles_given = c.body.texts("roles", required=False)
    key = await call(
        _svc(c).update_api_key,
        c.session.principal,
        c.path_int("site_id"),
        c.path_text("key_id"),
        name=c.body.text("name", required=False),
        roles=None if roles_given is None else forms.roles(roles_given),
    )
    return views.api_key_view(key)


async def disable_api_key(c: Call) -> object:
    key = await call(
        _svc(c).disable_api_key, c.session.principal, c.path_int("site_id"), c.path_text("key_id")
    )
    return views.api_key_view(key)


async def list_keypairs(c: Call) -> object:
    pairs = await call(_svc(c).keypairs, c.session.principal, c.path_int("site_id"))
    return [api_views.keypair_view(p) for p in pairs]


async def create_keypair(c: Call) -> object:
    created = await call(
        _svc(c).create_keypair,
        c.session.principal,
        c.path_int("site_id"),
        c.body.text("name", required=False),
    )
    return views.created_cstg_keypair_view(created)


async def disable_keypair(c: Call) -> None:
    await call(
        _svc(c).disable_keypair,
        c.session.principal,
        c.path_int("site_id"),
        c.path_text("subscription_id"),
    )


async def put_domains(c: Call) -> object:
    names = [forms.root_domain(n) for n in c.body.texts("domain_names") or []]
    site = await call(_svc(c).set_domains, c.session.principal, c.path_int("site_id"), names)
    return views.site_view(site)


async def put_app_names(c: Call) -> object:
    names = c.body.texts("app_names") or []
    site = await call(_svc(c).set_app_names, c.session.principal, c.path_int("site_id"), names)
    return views.site_view(site)


# --- sharing, team, audit ------------------------------------------------------------------


async def get_sharing(c: Call) -> object:
    page = await call(_svc(c).sharing, c.session.principal, c.path_int("site_id"))
    return api_views.overview_view(page.overview)


async def post_sharing(c: Call) -> object:
    types_given = c.body.texts("types", required=False)
    result = await call(
        _svc(c).update_sharing,
        c.session.principal,
        c.path_int("site_id"),
        add_sites=frozenset(c.body.ints("add_sites")),
        remove_sites=frozenset(c.body.ints("remove_sites")),
        types=None if types_given is None else forms.participant_types(types_given),
    )
    return views.sharing_view(result)


async def list_team(c: Call) -> object:
    members = await call(_svc(c).team, c.session.principal, c.path_int("site_id"))
    return [api_views.member_view(m) for m in members]


async def invite(c: Call) -> object:
    role = forms.member_role(c.body.req_text("role"))
    invitation = await call(
        _svc(c).invite, c.session.principal, c.path_int("site_id"), c.body.req_text("email"), role
    )
    token = invitation.link_token
    link = None if token is None else portal_of(c.request).link_url(c.request, token)
    return {**api_views.user_view(invitation.user), "invite_link": link}


async def change_role(c: Call) -> None:
    role = forms.member_role(c.body.req_text("role"))
    await call(
        _svc(c).change_role,
        c.session.principal,
        c.path_int("site_id"),
        c.path_int("user_id"),
        role,
    )


async def remove_member(c: Call) -> None:
    await call(
        _svc(c).remove_member, c.session.principal, c.path_int("site_id"), c.path_int("user_id")
    )


async def site_audit(c: Call) -> object:
    before = c.query_number("before")
    entries = await call(_svc(c).audit, c.session.principal, c.path_int("site_id"), before)
    return [api_views.audit_view(e) for e in entries]


# --- platform --------------------------------------------------------------------------------


async def keysets(c: Call) -> object:
    page = await call(_platform(c).keys, c.session.principal)
    return {
        "keysets": [views.keyset_view(k) for k in page.keysets],
        "salts": api_views.salt_ages_view(page.salts),
    }


async def rotate_keys(c: Call) -> object:
    result = await call(_platform(c).rotate_keys, c.session.principal, c.body.flag("force"))
    return views.key_rotation_view(result)


async def rotate_salts(c: Call) -> object:
    fraction = c.body.number("fraction", 1 / 365)
    if not 0 < fraction <= 1:
        raise bad_field("fraction", "fraction must be more than 0 and at most 1")
    result = await call(
        _platform(c).rotate_salts, c.session.principal, fraction, c.body.flag("force")
    )
    return views.salt_rotation_view(result)


async def optout_lookup(c: Call) -> object:
    identity_type = forms.identity_type(c.body.req_text("identity_type"))
    found = await call(
        _platform(c).lookup_optout, c.session.principal, identity_type, c.body.req_text("identity")
    )
    return api_views.optout_view(found)


async def platform_audit(c: Call) -> object:
    before = c.query_number("before")
    entries = await call(_platform(c).audit, c.session.principal, before)
    return [api_views.audit_view(e) for e in entries]


async def me(c: Call) -> object:
    return api_views.session_view(c.session)


OPERATIONS: list[Operation] = [
    Operation("GET", "/api/v1/me", "The signed-in user, memberships and CSRF token", me,
              tag="session", response=ref("Session")),
    Operation("GET", "/api/v1/participants", "Participants the caller can see",
              list_participants, response=array(ref("Site"))),
    Operation("POST", "/api/v1/participants", "Create a participant (platform admin)",
              create_participant, CREATE_PARTICIPANT, 201, tag="platform",
              response=ref("Site")),
    Operation("GET", P, "One participant", get_participant, response=ref("SiteDetail")),
    Operation("PATCH", P, "Edit name, types or enabled (platform admin)", edit_participant,
              EDIT_PARTICIPANT, tag="platform", response=ref("Site")),
    Operation("GET", P + "/api-keys", "API keys (never their secrets)", list_api_keys,
              response=array(ref("ApiKeyListed"))),
    Operation("POST", P + "/api-keys", "Create an API key: key and secret are shown once",
              create_api_key, CREATE_API_KEY, 201, response=ref("CreatedApiKey")),
    Operation("PATCH", KEY, "Rename an API key or change its roles", update_api_key,
              EDIT_API_KEY, response=ref("ApiKey")),
    Operation("POST", KEY + "/disable", "Disable an API key", disable_api_key,
              response=ref("ApiKey")),
    Operation("GET", P + "/keypairs", "Client-side keypairs", list_keypairs,
              response=array(ref("Keypair"))),
    Operation("POST", P + "/keypairs", "Create a client-side keypair", create_keypair,
              CREATE_KEYPAIR, 201, response=ref("CreatedKeypair")),
    Operation("POST", P + "/keypairs/{subscription_id}/disable", "Disable a keypair",
              disable_keypair, status=204),
    Operation("PUT", P + "/domains", "Replace the root-level domains", put_domains, DOMAINS,
              response=ref("Site")),
    Operation("PUT", P + "/app-names", "Replace the mobile app ids", put_app_names,
              APP_NAMES, response=ref("Site")),
    Operation("GET", P + "/sharing", "Sharing permissions and who can decrypt", get_sharing,
              response=ref("SharingOverview")),
    Operation("POST", P + "/sharing", "Grant or revoke sites, set the shared types",
              post_sharing, SHARING, response=ref("SharingResult")),
    Operation("GET", P + "/team", "Team members", list_team, response=array(ref("Member"))),
    Operation("POST", P + "/team", "Invite a team member (Admin)", invite, INVITE, 201,
              response=ref("Invitation")),
    Operation("PATCH", P + "/team/{user_id:int}", "Change a member's role (Admin)", change_role,
              CHANGE_ROLE, 204),
    Operation("DELETE", P + "/team/{user_id:int}", "Remove a team member (Admin)",
              remove_member, status=204),
    Operation("GET", P + "/audit", "The participant's audit trail (Admin)", site_audit,
              query=(BEFORE_QUERY,), response=array(ref("AuditEntry"))),
    Operation("GET", "/api/v1/platform/keys", "Keysets, active keys and salt bucket ages",
              keysets, tag="platform", response=ref("Keysets")),
    Operation("POST", "/api/v1/platform/keys/rotate", "Rotate encryption keys", rotate_keys,
              ROTATE_KEYS, tag="platform", response=ref("KeyRotation")),
    Operation("POST", "/api/v1/platform/salts/rotate", "Rotate salt buckets", rotate_salts,
              ROTATE_SALTS, tag="platform", response=ref("SaltRotation")),
    Operation("POST", "/api/v1/platform/optout/lookup", "Has this email or phone opted out?",
              optout_lookup, OPTOUT_LOOKUP, tag="platform", response=ref("OptOutLookup")),
    Operation("GET", "/api/v1/platform/audit", "The full audit trail", platform_audit,
              tag="platform", query=(BEFORE_QUERY,), response=array(ref("AuditEntry"))),
]  # fmt: skip


async def open_session(request: Request) -> Response:
    """Sign in: sets the session cookie and returns the CSRF token for later writes."""
    portal = portal_of(request)
    try:
        data = await read_json(request)
        wait_s = portal.limiter.allow(client_address(request), portal.clock_ms())
        if wait_s is not None:
            raise PortalError(429, f"too many attempts from your address: wait {wait_s} seconds")
        email, password = data.get("email"), data.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise PortalError(400, "email and password must be strings")
        session = await call(portal.accounts.log_in, email, password)
    except PortalError as error:
        return error_response(error)
    response = JSONResponse(api_views.session_view(session))
    max_age = max(1, (session.expires_ms - portal.clock_ms()) // 1000)
    set_cookie(request, response, SESSION_COOKIE, session.token, max_age=max_age)
    return response


async def close_session(request: Request) -> Response:
    session = await session_of(request)
    if session is not None:
        if not csrf_matches(session.csrf_token, request.headers.get("x-csrf-token")):
            return error_response(PortalError(403, "missing or wrong X-CSRF-Token header"))
        await call(portal_of(request).accounts.log_out, session.token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(OPERATIONS))


def api_routes() -> list[BaseRoute]:
    routes = [
        Route("/api/v1/session", open_session, methods=["POST"]),
        Route("/api/v1/session", close_session, methods=["DELETE"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        *routes_for(OPERATIONS),
    ]
    return [*routes, ApiFallback(routes)]

"""Every operator endpoint against every API-key role (operator.md §1.2 and §1.4).

Each endpoint that takes an API key gets a well-formed request from a key holding exactly one
role. A role the spec lists for the endpoint must get a 200 ``success``; any other role must get
401 ``{"status":"unauthorized"}`` (application/json, no message). Missing, unknown and disabled
keys are 401 too; a known key with the wrong client secret passes auth and then fails the
envelope with 400 ``client_error`` (§2.2). Refresh and client-generate take no key (§1.4).
"""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
import pytest
from operator_world import ROLE_KEYS, Caller, TestClient, World
from token_helpers import EMAIL

from uid2.core.cstg import (
    build_cstg_request,
    open_cstg_response,
    parse_public_key_string,
    private_key_from_random,
    shared_secret,
)
from uid2.core.refresh import open_refresh_response
from uid2.store.records import Role

GENERATOR, MAPPER, ID_READER, SHARER, OPTOUT = (
    Role.GENERATOR,
    Role.MAPPER,
    Role.ID_READER,
    Role.SHARER,
    Role.OPTOUT,
)

# operator.md §1.4 "Auth / roles" column: endpoint -> the roles that may call it.
ALLOWED: dict[str, frozenset[Role]] = {
    "/v2/token/generate": frozenset({GENERATOR}),
    "/v2/token/validate": frozenset({GENERATOR}),
    "/v2/token/logout": frozenset({OPTOUT}),
    "/v2/identity/map": frozenset({MAPPER}),
    "/v3/identity/map": frozenset({MAPPER}),
    "/v2/identity/buckets": frozenset({MAPPER}),
    "/v2/key/latest": frozenset({ID_READER}),
    "/v2/key/sharing": frozenset({SHARER, ID_READER}),
    "/v2/key/bidstream": frozenset({ID_READER}),
    "/v2/optout/status": frozenset({MAPPER, SHARER, ID_READER}),
}
ROLES = (GENERATOR, MAPPER, ID_READER, SHARER, OPTOUT)
UNAUTHORIZED = (401, "application/json", b'{"status":"unauthorized"}')
# A key in the right format (§1.2) that the store does not know.
UNKNOWN_KEY = "UID2-C-L-105-abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
WRONG_SECRET = (
    "Invalid body: Check encryption key (ClientSecret). See"
    " https://unifiedid.com/docs/getting-started/gs-encryption-decryption for details on the"
    " request envelope format."
)


def _payload(client: TestClient, world: World, path: str) -> object | None:
    """A well-formed request body for each endpoint (§1.5-§1.16)."""
    if path == "/v2/token/validate":
        # A token issued to the GENERATOR role key's own site, so validate answers body:true.
        token = Caller(client, world, ROLE_KEYS[GENERATOR]).call(
            "/v2/token/generate", {"email": EMAIL}
        )
        return {"token": token["body"]["advertising_token"], "email": EMAIL}
    return {
        "/v2/token/generate": {"email": EMAIL},
        "/v2/token/logout": {"email": EMAIL},
        "/v2/identity/map": {"email": [EMAIL]},
        "/v3/identity/map": {"email": [EMAIL]},
        "/v2/identity/buckets": {"since_timestamp": "2020-01-01T00:00:00"},
        "/v2/key/latest": None,
        "/v2/key/sharing": None,
        "/v2/key/bidstream": None,
        "/v2/optout/status": {"advertising_ids": []},
    }[path]


def _answer(response: Any) -> tuple[int, str, bytes]:
    return response.status_code, response.headers.get("content-type", ""), response.content


CELLS = [
    pytest.param(path, role, path in ALLOWED and role in ALLOWED[path], id=f"{path}-{role.value}")
    for path in ALLOWED
    for role in ROLES
]


@pytest.mark.parametrize(("path", "role", "allowed"), CELLS)
def test_role_cell(client: TestClient, world: World, path: str, role: Role, allowed: bool) -> None:
    payload = _payload(client, world, path)
    caller = Caller(client, world, ROLE_KEYS[role])
    if allowed:
        answer = caller.call(path, payload)  # asserts HTTP 200 and opens the envelope
        assert answer["status"] == "success", answer
        if path == "/v2/token/validate":
            assert answer["body"] is True
    else:
        assert _answer(caller.post(path, payload)) == UNAUTHORIZED


@pytest.mark.parametrize("path", list(ALLOWED))
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty"),
        pytest.param("Bearer ", id="bearer-only"),
        pytest.param(f"Bearer {UNKNOWN_KEY}", id="unknown-key"),
    ],
)
def test_missing_or_unknown_key(
    client: TestClient, world: World, path: str, authorization: str | None
) -> None:
    # A correctly sealed body from a real caller, so only the key is wrong.
    allowed_role = min(ALLOWED[path], key=lambda r: r.value)
    caller = Caller(client, world, ROLE_KEYS[allowed_role])
    raw = caller.envelope(_payload(client, world, path))
    headers = {"Content-Type": "text/plain"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.post(path, content=base64.b64encode(raw), headers=headers)
    assert _answer(response) == UNAUTHORIZED


@pytest.mark.parametrize("path", list(ALLOWED))
def test_disabled_key(client: TestClient, world: World, path: str) -> None:
    # The world's disabled key holds every role and a valid secret: only `disabled` refuses it.
    response = Caller(client, world, "disabled").post(path, _payload(client, world, path))
    assert _answer(response) == UNAUTHORIZED


@pytest.mark.parametrize("path", list(ALLOWED))
def test_wrong_secret(client: TestClient, world: World, path: str) -> None:
    allowed_role = min(ALLOWED[path], key=lambda r: r.value)
    caller = Caller(client, world, ROLE_KEYS[allowed_role])
    caller.secret = world.secrets["generator" if allowed_role is not GENERATOR else "mapper"]
    assert caller.secret != world.secrets[ROLE_KEYS[allowed_role]]
    response = caller.post(path, _payload(client, world, path))
    assert response.status_code == 400, response.text
    assert response.json() == {"status": "client_error", "message": WRONG_SECRET}


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-key"),
        *(pytest.param(ROLE_KEYS[role], id=role.value) for role in ROLES),
        pytest.param("disabled", id="disabled"),
        pytest.param("unknown", id="unknown"),
    ],
)
def test_refresh_needs_no_key(client: TestClient, world: World, authorization: str | None) -> None:
    body = Caller(client, world, ROLE_KEYS[GENERATOR]).call("/v2/token/generate", {"email": EMAIL})[
        "body"
    ]
    headers = {"Content-Type": "text/plain"}
    if authorization == "unknown":
        headers["Authorization"] = f"Bearer {UNKNOWN_KEY}"
    elif authorization is not None:
        headers["Authorization"] = f"Bearer {world.keys[authorization]}"
    response = client.post("/v2/token/refresh", content=body["refresh_token"], headers=headers)
    assert response.status_code == 200, response.text
    key = base64.b64decode(body["refresh_response_key"])
    assert orjson.loads(open_refresh_response(key, response.text))["status"] == "success"  # type: ignore[arg-type]


def test_client_generate_needs_no_key(client: TestClient, world: World) -> None:
    private_key = private_key_from_random(bytes(range(40)))
    secret = shared_secret(private_key, parse_public_key_string(world.cstg_public_key))
    request = build_cstg_request(
        world.cstg_public_key,
        orjson.dumps({"email_hash": base64.b64encode(bytes(32)).decode()}),
        now_ms=world.now_ms,
        client_private_key=private_key,
        iv=os.urandom(12),
        subscription_id=world.cstg_subscription_id,
        app_name=None,
    )
    response = client.post(
        "/v2/token/client-generate",
        content=orjson.dumps(request),
        headers={"Origin": "https://www.example.com"},
    )
    assert response.status_code == 200, response.text
    assert orjson.loads(open_cstg_response(secret, response.text))["status"] == "success"

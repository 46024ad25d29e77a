"""HTTP behaviour shared by every endpoint: roles, envelope, CORS, limits, ops endpoints."""

from __future__ import annotations

import base64
import os

import pytest
from operator_world import ROLE_KEYS, Caller, TestClient, World, build_app, make_world

from uid2.core.envelope import open_response, seal_request
from uid2.store.records import Role

HINT = (
    " See https://unifiedid.com/docs/getting-started/gs-encryption-decryption for details on the"
    " request envelope format."
)
ENVELOPE_PATHS = {
    "/v2/token/generate": {Role.GENERATOR},
    "/v2/token/validate": {Role.GENERATOR},
    "/v2/token/logout": {Role.OPTOUT},
    "/v2/identity/map": {Role.MAPPER},
    "/v3/identity/map": {Role.MAPPER},
    "/v2/identity/buckets": {Role.MAPPER},
    "/v2/key/latest": {Role.ID_READER},
    "/v2/key/sharing": {Role.SHARER, Role.ID_READER},
    "/v2/key/bidstream": {Role.ID_READER},
    "/v2/optout/status": {Role.MAPPER, Role.SHARER, Role.ID_READER},
}


@pytest.mark.parametrize("path", sorted(ENVELOPE_PATHS))
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(client: TestClient, world: World, path: str, role: Role) -> None:
    response = Caller(client, world, ROLE_KEYS[role]).post(path, {})
    if role in ENVELOPE_PATHS[path]:
        assert response.status_code != 401, response.text
    else:
        assert (response.status_code, response.content) == (401, b'{"status":"unauthorized"}')
        assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", sorted(ENVELOPE_PATHS))
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer nonsense", "Basic abc", "UID2-C-L-1-abcdef.xyz"]
)
def test_missing_or_unknown_keys_are_401(
    client: TestClient, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.post(path, content=b"AAAA", headers=headers)
    assert (response.status_code, response.json()) == (401, {"status": "unauthorized"})


def test_disabled_keys_are_401(client: TestClient, world: World) -> None:
    response = Caller(client, world, "disabled").post("/v2/token/generate", {"email": "a@b.com"})
    assert response.status_code == 401


def test_bearer_prefix_is_case_insensitive_and_trimmed(client: TestClient, world: World) -> None:
    caller = Caller(client, world, "generator")
    for header in (f"bearer {caller.key}", f"  BEARER   {caller.key}  "):
        response = caller.post(
            "/v2/token/generate", {"email": "a@b.com"}, headers={"Authorization": header}
        )
        assert response.status_code == 200


@pytest.mark.parametrize("binary", [False, True])
def test_response_encoding_follows_the_request_and_echoes_the_nonce(
    client: TestClient, world: World, binary: bool
) -> None:
    caller = Caller(client, world, "generator")
    response = caller.post("/v2/token/generate", {"email": "a@b.com"}, binary=binary)
    assert response.headers["content-type"] == (
        "application/octet-stream" if binary else "text/plain"
    )
    body = response.content if binary else response.text
    assert open_response(caller.secret, body, nonce=response.nonce, binary=binary)


def test_octet_stream_with_a_base64_body_is_answered_in_base64(
    client: TestClient, world: World
) -> None:
    caller = Caller(client, world, "generator")
    nonce = os.urandom(8)
    raw = seal_request(
        caller.secret, b'{"email":"a@b.com"}', now_ms=world.now_ms, nonce=nonce, iv=os.urandom(12)
    )
    response = client.post(
        "/v2/token/generate",
        content=base64.b64encode(raw),
        headers={
            "Authorization": f"Bearer {caller.key}",
            "Content-Type": "Application/Octet-Stream",
        },
    )
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain"
    assert open_response(caller.secret, response.text, nonce=nonce, binary=False)


def _post_raw(
    client: TestClient, world: World, body: bytes, content_type: str = "text/plain"
) -> tuple[int, object]:
    response = client.post(
        "/v2/token/generate",
        content=body,
        headers={
            "Authorization": f"Bearer {world.keys['generator']}",
            "Content-Type": content_type,
        },
    )
    if response.status_code == 200:
        return 200, response.text
    return response.status_code, response.json()


def test_envelope_errors_have_the_upstream_messages(client: TestClient, world: World) -> None:
    secret = world.secrets["generator"]
    now = world.now_ms

    def sealed(
        payload: bytes | None, *, at: int = now, key: bytes = secret, version: int = 1
    ) -> bytes:
        raw = seal_request(key, payload, now_ms=at, nonce=b"n" * 8, iv=b"i" * 12)
        return base64.b64encode(bytes([version]) + raw[1:])

    cases = [
        (b"", "Invalid body: Body is missing."),
        (b"%%%%", "Invalid body: Body is not valid base64." + HINT),
        (
            base64.b64encode(b"\x01" * 44),
            "Invalid body: Body too short. Check encryption method." + HINT,
        ),
        (
            sealed(b"{}", version=2),
            "Invalid body: Invalid request envelope format version: received 2, must be 1." + HINT,
        ),
        (sealed(b"{}", key=b"k" * 32), "Invalid body: Check encryption key (ClientSecret)." + HINT),
        (
            sealed(b"{}", at=now - 120_000),
            "Invalid timestamp: Request too old or client time drift.",
        ),
        (
            sealed(b"{}", at=now + 120_000),
            "Invalid timestamp: Request too old or client time drift.",
        ),
        (sealed(b"not json"), "Invalid payload in body: Data is not valid json string."),
        (sealed(b"[1,2]"), "Invalid payload in body: Data is not valid json string."),
        (
            b'{"email": "a@b.com"}',
            "Invalid body: The request body is unencrypted JSON."
            " It must be an encrypted request envelope. See https://unifiedid.com/docs/getting-started/gs-encryption-decryption"
            "#encryption-and-decryption-code-examples for encryption and decryption code examples.",
        ),
    ]
    for body, message in cases:
        assert _post_raw(client, world, body) == (
            400,
            {"status": "client_error", "message": message},
        ), body
    assert _post_raw(client, world, sealed(b'{"email":"a@b.com"}', at=now - 119_000))[0] == 200
    assert _post_raw(client, world, sealed(b'{"email":"a@b.com"}\n'))[0] == 200


def test_euid_envelope_hint_uses_the_euid_host(world: World) -> None:
    from uid2.core.enums import IdentityScope

    euid = make_world(world.now_s, IdentityScope.EUID)
    app, _ = build_app(euid)
    with TestClient(app) as client:
        status, body = _post_raw(client, euid, b"%%%%")
    assert body["message"].endswith(HINT.replace("https://unifiedid.com", "https://euid.eu"))  # type: ignore[index]


def test_body_limit_413_on_every_post(client: TestClient, world: World) -> None:
    big = b"A" * ((1 << 20) + 4)
    for path in [*ENVELOPE_PATHS, "/v2/token/refresh", "/v2/token/client-generate"]:
        assert client.post(path, content=big).status_code == 413, path
    assert _post_raw(client, world, b"A" * (1 << 20))[0] == 400  # exactly 1 MiB is read


def test_cors_preflight_allows_authorization_only_on_validate(client: TestClient) -> None:
    def preflight(path: str) -> object:
        return client.options(
            path, headers={"Origin": "https://pub.example", "Access-Control-Request-Method": "POST"}
        )

    generate, validate = preflight("/v2/token/generate"), preflight("/v2/token/validate")
    for response in (generate, validate):
        assert response.status_code == 204  # type: ignore[attr-defined]
        assert response.headers["access-control-allow-origin"] == "https://pub.example"  # type: ignore[attr-defined]
        assert "POST" in response.headers["access-control-allow-methods"]  # type: ignore[attr-defined]
    assert "authorization" not in generate.headers["access-control-allow-headers"].lower()  # type: ignore[attr-defined]
    assert "Authorization" in validate.headers["access-control-allow-headers"]  # type: ignore[attr-defined]
    assert "X-UID2-Client-Version" in generate.headers["access-control-allow-headers"]  # type: ignore[attr-defined]


def test_cors_origin_and_trace_id_are_echoed(client: TestClient, world: World) -> None:
    headers = {"Origin": "https://pub.example", "X-Amzn-Trace-Id": "Root=1-abc"}
    response = Caller(client, world, "generator").post(
        "/v2/token/generate", {"email": "a@b.com"}, headers=headers
    )
    assert response.headers["access-control-allow-origin"] == "https://pub.example"
    assert response.headers["x-amzn-trace-id"] == "Root=1-abc"
    assert "access-control-allow-origin" not in client.get("/ops/healthcheck").headers


def test_healthcheck_and_metrics(client: TestClient, world: World) -> None:
    response = client.get("/ops/healthcheck")
    assert (response.status_code, response.text) == (200, "OK")
    Caller(client, world, "generator").call("/v2/token/generate", {"email": "a@b.com"})
    Caller(client, world, "mapper").call("/v3/identity/map", {"email": ["a@b.com"]})
    text = client.get("/metrics").text
    counter = "uid2_token_response_status_count_total"
    assert f'{counter}{{token_endpoint="GenerateV2",token_response_status="success"}} 1.0' in text
    assert 'uid2_http_requests_total{method="POST",path="/v2/token/generate",status="200"}' in text
    summary = "uid2_operator_identity_map_inputs"
    assert f'{summary}_count{{dii_type="email",path="/v3/identity/map"}} 1.0' in text
    assert f'{summary}_sum{{dii_type="email",path="/v3/identity/map"}} 1.0' in text
    client.post("/v2/token/generate", content=b"x")
    text = client.get("/metrics").text
    assert (
        'uid2_http_requests_total{method="POST",path="/v2/token/generate",status="401"} 1.0' in text
    )
    assert "uid2_snapshot_version 1.0" in text


def test_unknown_paths_are_404_and_counted_as_unknown(client: TestClient) -> None:
    assert client.post("/v1/token/generate").status_code == 404
    assert 'path="unknown"' in client.get("/metrics").text


def test_noop_endpoint_only_when_enabled(world: World, client: TestClient) -> None:
    assert client.get("/ops/noop").status_code == 404
    app, _ = build_app(world, world.settings(enable_noop_endpoint=True))
    with TestClient(app) as enabled:
        assert (enabled.get("/ops/noop").status_code, enabled.post("/ops/noop").text) == (200, "OK")


def test_get_on_a_post_endpoint_is_405(client: TestClient) -> None:
    assert client.get("/v2/token/generate").status_code == 405

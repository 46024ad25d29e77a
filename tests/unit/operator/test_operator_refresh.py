"""Token refresh, /v2/token/refresh (operator.md §1.6, §10.2 items 13-20)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from operator_world import (
    TestClient,
    World,
    build_app,
    expected_flh,
    expected_raw_uid,
)
from token_helpers import (
    EMAIL,
    decode,
    generate,
    inner_refresh,
    refresh,
)

from uid2.core.dii import hash_dii
from uid2.store.records import OptOut


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]
)
def test_refresh_round_trip_gives_new_tokens_for_the_same_user(
    client: TestClient, world: World, content_type: str
) -> None:
    first = generate(client, world, {"email": EMAIL})
    status, answer = refresh(client, first, **{"Content-Type": content_type})
    assert status == 200 and answer["status"] == "success"  # type: ignore[index]
    second = answer["body"]  # type: ignore[index]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_response_key"] != first["refresh_response_key"]
    old, new = (
        decode(client, str(first["advertising_token"])),
        decode(client, second["advertising_token"]),
    )
    assert (new.site_id, new.raw_uid, new.established_ms) == (
        old.site_id,
        old.raw_uid,
        old.established_ms,
    )
    assert inner_refresh(client, second["refresh_token"]).first_level_hash == expected_flh(
        hash_dii(EMAIL)
    )
    # and the new refresh token works again
    assert refresh(client, second)[0] == 200


@pytest.mark.parametrize(("body", "authenticated", "expected"), [
    ("", True, {"status": "invalid_token", "message": "Invalid Token presented"}),
    ("asdf", True, {"status": "invalid_token", "message": "Invalid Token presented"}),
    ("invalidBase64%%%%", True, {"status": "invalid_token", "message": "Invalid Token presented"}),
    ("abcd", False, {"status": "error", "message": "Error refreshing token"}),
])  # fmt: skip
def test_refresh_with_garbage(
    client: TestClient, world: World, body: str, authenticated: bool, expected: object
) -> None:
    headers = {"Authorization": f"Bearer {world.keys['generator']}"} if authenticated else {}
    response = client.post("/v2/token/refresh", content=body, headers=headers)
    assert (response.status_code, response.json()) == (400, expected)


def test_refresh_wrapper_errors_use_the_upstream_messages(client: TestClient, world: World) -> None:
    token = str(generate(client, world, {"email": EMAIL})["refresh_token"])
    raw = bytearray(base64.b64decode(token))
    raw[1:5] = (777).to_bytes(4, "big")
    response = client.post("/v2/token/refresh", content=base64.b64encode(bytes(raw)))
    assert response.json() == {
        "status": "client_error",
        "message": "Invalid key: Generator of this token (Key ID: 777) does not exist.",
    }
    raw = bytearray(base64.b64decode(token))
    raw[-1] ^= 1
    response = client.post("/v2/token/refresh", content=base64.b64encode(bytes(raw)))
    assert response.json()["message"] == "Invalid data: Check encryption method and encryption key."
    response = client.post("/v2/token/refresh", content="%" * 388)
    assert response.json()["message"] == "Invalid body: Body is not valid base64."


def test_refresh_after_expiry(world: World) -> None:
    now = [world.now_ms]
    app, _ = build_app(world, clock_ms=lambda: now[0])
    with TestClient(app) as client:
        body = generate(client, world, {"email": EMAIL})
        now[0] = int(body["refresh_expires"]) + 60_001  # type: ignore[call-overload]
        auth = {"Authorization": f"Bearer {world.keys['generator']}"}
        assert refresh(client, body, **auth) == (
            400,
            {"status": "expired_token", "message": "Expired Token presented"},
        )
        assert refresh(client, body) == (
            400,
            {"status": "error", "message": "Error refreshing token"},
        )


def test_refresh_keeps_the_raw_uid_and_refreshes_times(world: World) -> None:
    now = [world.now_ms]
    app, _ = build_app(world, clock_ms=lambda: now[0])
    with TestClient(app) as client:
        first = generate(client, world, {"email": EMAIL})
        now[0] += 200_000
        second = refresh(client, first)[1]["body"]  # type: ignore[index]
        old, new = (
            decode(client, str(first["advertising_token"])),
            decode(client, second["advertising_token"]),
        )
    assert new.raw_uid == old.raw_uid
    assert new.generated_ms == old.generated_ms + 200_000  # type: ignore[operator]
    assert new.expires_ms == old.expires_ms + 200_000


def test_refresh_for_an_opted_out_user_answers_optout_even_for_older_records(world: World) -> None:
    app, source = build_app(world)
    with TestClient(app) as client:
        body = generate(client, world, {"email": EMAIL})
        dii = hash_dii(EMAIL)
        source.add_optouts([OptOut(9, expected_flh(dii), expected_raw_uid(world, dii), 1)])
        assert refresh(client, body) == (200, {"status": "optout"})


def test_refresh_optout_test_identity_generates_then_opts_out(
    client: TestClient, world: World
) -> None:
    for identity in ({"email": "refresh-optout@example.com"}, {"phone": "+00000000002"}):
        body = generate(client, world, identity)
        assert refresh(client, body) == (200, {"status": "optout"})
    body = generate(client, world, {"email": "validate@example.com"})
    assert refresh(client, body)[1]["status"] == "success"  # type: ignore[index]


def test_refresh_without_active_keys_answers_500(world: World) -> None:
    app, source = build_app(world)
    with TestClient(app) as client:
        body = generate(client, world, {"email": EMAIL})
        keys = tuple(k for k in world.plane.keyset_keys if k.keyset_id not in (2, 10))
        source.replace(replace(world.plane, keyset_keys=keys))
        assert client.app.state.holder.poll_once()  # type: ignore[attr-defined]
        auth = {"Authorization": f"Bearer {world.keys['generator']}"}
        status, answer = refresh(client, body, **auth)
    assert (status, answer) == (
        500,
        {"status": "unknown", "message": "No active encryption key available"},
    )


def test_a_refresh_token_from_another_scope_is_invalid(world: World) -> None:
    from operator_world import make_world

    from uid2.core.enums import IdentityScope

    euid = make_world(world.now_s, IdentityScope.EUID)
    euid_app, _ = build_app(euid)
    with TestClient(euid_app) as client:
        body = generate(client, euid, {"email": EMAIL})
    app, _ = build_app(world)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {world.keys['generator']}"}
        assert refresh(client, body, **auth) == (
            400,
            {"status": "invalid_token", "message": "Invalid Token presented"},
        )

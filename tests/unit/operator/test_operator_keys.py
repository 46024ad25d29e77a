"""/v2/key/latest, /v2/key/sharing, /v2/key/bidstream, the ACL (operator.md §1.13-§1.15, §4.5)."""

from __future__ import annotations

import base64

import pytest
from operator_world import (
    DSP,
    OTHER_PUBLISHER,
    PUBLISHER,
    SHARER,
    Caller,
    TestClient,
    World,
    build_app,
)

MASTER, REFRESH, FALLBACK, PUB, PUB_EXPIRED, PUB_FUTURE = 1001, 1002, 1003, 1004, 1010, 1011
SHARER_OWN, GRANTED, DISABLED, OTHER_ACL, EMPTY_ACL = 1005, 1006, 1007, 1008, 1009


def _ids(body: dict[str, object]) -> list[int]:
    return [k["id"] for k in body["keys"]]  # type: ignore[attr-defined, index]


def test_sharer_sees_master_own_and_granted_keysets_only(client: TestClient, world: World) -> None:
    body = Caller(client, world, "sharer").call("/v2/key/sharing")["body"]
    assert _ids(body) == [MASTER, SHARER_OWN, GRANTED]
    assert list(body) == [
        "caller_site_id", "master_keyset_id", "default_keyset_id", "token_expiry_seconds",
        "max_sharing_lifetime_seconds", "identity_scope", "allow_clock_skew_seconds", "keys",
        "site_data",
    ]  # fmt: skip
    assert body["caller_site_id"] == SHARER
    assert body["master_keyset_id"] == 9999999
    assert body["default_keyset_id"] == 11
    assert body["token_expiry_seconds"] == "2592000"
    assert body["max_sharing_lifetime_seconds"] == 2592010
    assert (body["identity_scope"], body["allow_clock_skew_seconds"]) == ("UID2", 1800)
    keyset_ids = {k["id"]: k.get("keyset_id") for k in body["keys"]}
    assert keyset_ids == {MASTER: 9999999, SHARER_OWN: 11, GRANTED: None}
    assert all("site_id" not in k for k in body["keys"])
    assert body["site_data"] == [{"id": OTHER_PUBLISHER, "domain_names": ["other.com"]}]


def test_id_reader_also_gets_keysets_without_acl_including_expired_and_future_keys(
    client: TestClient, world: World
) -> None:
    body = Caller(client, world, "sharer_reader").call("/v2/key/sharing")["body"]
    assert _ids(body) == [MASTER, FALLBACK, PUB, SHARER_OWN, GRANTED, PUB_EXPIRED, PUB_FUTURE]
    assert REFRESH not in _ids(body)


def test_dsp_on_key_sharing_has_no_sharing_lifetime_nor_default_keyset(
    client: TestClient, world: World
) -> None:
    body = Caller(client, world, "dsp").call("/v2/key/sharing")["body"]
    assert "max_sharing_lifetime_seconds" not in body and "default_keyset_id" not in body
    assert _ids(body) == [MASTER, FALLBACK, PUB, PUB_EXPIRED, PUB_FUTURE]


def test_bidstream_fields_and_site_data(client: TestClient, world: World) -> None:
    body = Caller(client, world, "dsp").call("/v2/key/bidstream")["body"]
    assert list(body) == [
        "max_bidstream_lifetime_seconds", "identity_scope", "allow_clock_skew_seconds", "keys",
        "site_data",
    ]  # fmt: skip
    assert body["max_bidstream_lifetime_seconds"] == 259_210
    assert _ids(body) == [MASTER, FALLBACK, PUB, PUB_EXPIRED, PUB_FUTURE]
    assert all(set(k) == {"id", "created", "activates", "expires", "secret"} for k in body["keys"])
    assert body["site_data"] == [
        {"id": PUBLISHER, "domain_names": ["cstg.co.uk", "example.com", "localhost"]}
    ]
    key = next(k for k in body["keys"] if k["id"] == PUB)
    record = next(k for k in world.plane.keyset_keys if k.key_id == PUB)
    assert base64.b64decode(key["secret"]) == record.secret
    assert (key["created"], key["activates"], key["expires"]) == (
        record.created_s,
        record.activates_s,
        record.expires_s,
    )


def test_app_names_and_overrides(world: World) -> None:
    settings = world.settings(
        key_sharing_provide_app_names=True,
        max_bidstream_lifetime_seconds=300_000,
        allow_clock_skew_seconds=60,
        sharing_token_expiry_seconds=1000,
        max_sharing_lifetime_seconds=2000,
    )
    app, _ = build_app(world, settings)
    with TestClient(app) as client:
        body = Caller(client, world, "dsp").call("/v2/key/bidstream")["body"]
        sharing = Caller(client, world, "sharer").call("/v2/key/sharing")["body"]
    assert body["site_data"][0]["domain_names"] == [
        "com.example.App",
        "cstg.co.uk",
        "example.com",
        "localhost",
    ]
    assert (body["max_bidstream_lifetime_seconds"], body["allow_clock_skew_seconds"]) == (
        300_010,
        60,
    )
    assert (sharing["token_expiry_seconds"], sharing["max_sharing_lifetime_seconds"]) == (
        "1000",
        2010,
    )


def test_no_site_data_without_cstg(world: World) -> None:
    app, _ = build_app(world, world.settings(client_side_token_generate=False))
    with TestClient(app) as client:
        assert "site_data" not in Caller(client, world, "dsp").call("/v2/key/bidstream")["body"]


def test_key_latest_is_an_array_with_site_ids(client: TestClient, world: World) -> None:
    body = Caller(client, world, "dsp").call("/v2/key/latest")["body"]
    assert [k["id"] for k in body] == [MASTER, FALLBACK, PUB, PUB_EXPIRED, PUB_FUTURE]
    assert {k["id"]: k["site_id"] for k in body} == {
        MASTER: -1,
        FALLBACK: 2,
        PUB: PUBLISHER,
        PUB_EXPIRED: PUBLISHER,
        PUB_FUTURE: PUBLISHER,
    }


def test_key_latest_refuses_reserved_sites(client: TestClient, world: World) -> None:
    response = Caller(client, world, "fallback_reader").post("/v2/key/latest")
    assert (response.status_code, response.json()) == (
        401, {"status": "invalid_client", "message": "Unexpected client site id 2"},
    )  # fmt: skip


@pytest.mark.parametrize("path", ["/v2/key/sharing", "/v2/key/bidstream", "/v2/key/latest"])
def test_key_endpoints_accept_a_json_payload_too(
    client: TestClient, world: World, path: str
) -> None:
    assert Caller(client, world, "sharer_reader").call(path, {"anything": 1})["status"] == "success"


def test_answers_are_cached_per_snapshot_but_follow_a_reload(world: World) -> None:
    from dataclasses import replace

    app, source = build_app(world)
    with TestClient(app) as client:
        dsp = Caller(client, world, "dsp")
        assert _ids(dsp.call("/v2/key/bidstream")["body"]) == _ids(
            dsp.call("/v2/key/bidstream")["body"]
        )
        keysets = tuple(
            replace(k, allowed_sites=frozenset({DSP})) if k.keyset_id == 14 else k
            for k in world.plane.keysets
        )
        source.replace(replace(world.plane, keysets=keysets))
        client.app.state.holder.poll_once()  # type: ignore[attr-defined]
        assert OTHER_ACL in _ids(dsp.call("/v2/key/bidstream")["body"])
    assert DISABLED and EMPTY_ACL  # named for the reader: never returned above

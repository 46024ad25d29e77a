"""Identity map v2/v3, buckets and opt-out status (operator.md §1.10-§1.12, §1.16, §10.2)."""

from __future__ import annotations

import base64

import pytest
from operator_world import (
    BUCKETS,
    DAY_S,
    Caller,
    TestClient,
    World,
    build_app,
    expected_flh,
    expected_raw_uid,
)

from uid2.core.dii import hash_dii
from uid2.core.rawuid import bucket_index, raw_uid_v2
from uid2.store.records import OptOut

V3_MISSING = (
    "Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash]"
    " must be specified"
)
EXACTLY_ONE = (
    "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash]"
    " must be specified"
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def mapper(client: TestClient, world: World) -> Caller:
    return Caller(client, world, "mapper")


# ---------------------------------------------------------------------------- v2


def test_map_v2_keeps_input_order_and_skips_invalid(mapper: Caller, world: World) -> None:
    emails = ["b@example.com", "bogus", "a@example.com", "optout@example.com"]
    body = mapper.call("/v2/identity/map", {"email": emails})["body"]
    assert [m["identifier"] for m in body["mapped"]] == ["b@example.com", "a@example.com"]
    first = body["mapped"][0]
    assert first["advertising_id"] == _b64(expected_raw_uid(world, hash_dii("b@example.com")))
    index = bucket_index(expected_flh(hash_dii("b@example.com")), BUCKETS)
    assert first["bucket_id"] == world.plane.salt_buckets[index].bucket_id
    assert body["unmapped"] == [
        {"identifier": "bogus", "reason": "invalid identifier"},
        {"identifier": "optout@example.com", "reason": "optout"},
    ]


def test_map_v2_sdk_style_request_with_null_types(mapper: Caller) -> None:
    hashes = [_b64(hash_dii("a@example.com"))]
    body = mapper.call("/v2/identity/map", {"email_hash": hashes, "phone_hash": None})["body"]
    assert [m["identifier"] for m in body["mapped"]] == hashes and "unmapped" not in body


def test_map_v2_opted_out_only(mapper: Caller) -> None:
    body = mapper.call("/v2/identity/map", {"phone": ["+00000000000"]})["body"]
    assert body == {"mapped": [], "unmapped": [{"identifier": "+00000000000", "reason": "optout"}]}


@pytest.mark.parametrize("field", ["email", "email_hash", "phone", "phone_hash"])
def test_map_v2_non_array_is_rejected(mapper: Caller, field: str) -> None:
    response = mapper.post("/v2/identity/map", {field: "x"})
    assert response.status_code == 400
    assert response.json() == {"status": "client_error", "message": f"{field} must be an array"}


@pytest.mark.parametrize(
    "payload", [{}, None, {"email": ["a@b.c"], "phone": ["+12345678901"]}, {"link_id": "x"}]
)
def test_map_v2_needs_exactly_one_non_empty_array(mapper: Caller, payload: object) -> None:
    response = mapper.post("/v2/identity/map", payload)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": EXACTLY_ONE},
    )


def test_map_v2_empty_arrays_map_nothing(mapper: Caller) -> None:
    assert mapper.call("/v2/identity/map", {"email": [], "phone": []})["body"] == {"mapped": []}


def test_map_v2_odd_elements_are_invalid_not_errors(mapper: Caller) -> None:
    body = mapper.call("/v2/identity/map", {"email": [None, 5, {"a": 1}]})["body"]
    assert [u["identifier"] for u in body["unmapped"]] == ["null", 5, {"a": 1}]


def test_map_v2_body_over_one_mebibyte_is_413(client: TestClient, world: World) -> None:
    response = client.post(
        "/v2/identity/map",
        content=b"A" * ((1 << 20) + 1),
        headers={"Authorization": f"Bearer {world.keys['mapper']}"},
    )
    assert response.status_code == 413


# ---------------------------------------------------------------------------- v3


def test_map_v3_mixed_input(mapper: Caller, world: World) -> None:
    request = {
        "email": ["a@example.com", "optout@example.com"],
        "phone": ["+12345678901", "bad"],
        "email_hash": [_b64(hash_dii("c@example.com"))],
    }
    body = mapper.call("/v3/identity/map", request, binary=True)["body"]
    assert set(body) == {"email", "email_hash", "phone", "phone_hash"}
    assert body["phone_hash"] == []
    assert body["email"][1] == {"e": "optout"} and body["phone"][1] == {"e": "invalid identifier"}
    for entry, dii in (
        (body["email"][0], "a@example.com"),
        (body["email_hash"][0], "c@example.com"),
    ):
        assert set(entry) == {"u", "p", "r"}
        assert entry["u"] == _b64(expected_raw_uid(world, hash_dii(dii)))


def test_map_v3_previous_uid_and_refresh_from_rules(mapper: Caller, world: World) -> None:
    emails = [f"user{i}@example.com" for i in range(200)]
    body = mapper.call("/v3/identity/map", {"email": emails})["body"]
    seen_previous = seen_null = seen_past = False
    for email, entry in zip(emails, body["email"], strict=True):
        flh = expected_flh(hash_dii(email))
        bucket = world.plane.salt_buckets[bucket_index(flh, BUCKETS)]
        visible = (world.now_ms - bucket.last_updated_ms) // 86_400_000 < 90
        if bucket.previous_salt is not None and visible:
            assert entry["p"] == _b64(raw_uid_v2(flh, bucket.previous_salt))
            seen_previous = True
        else:
            assert entry["p"] is None
            seen_null = True
        if bucket.refresh_from_ms < world.now_ms:
            next_day = (world.now_ms // 86_400_000 + 1) * 86_400
            assert entry["r"] == next_day
            seen_past = True
        else:
            assert entry["r"] == bucket.refresh_from_ms // 1000
    assert seen_previous and seen_null and seen_past


@pytest.mark.parametrize("payload", [{}, None, {"link_id": "abc"}])
def test_map_v3_needs_some_identity(mapper: Caller, payload: object) -> None:
    response = mapper.post("/v3/identity/map", payload)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": V3_MISSING},
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"emails": ["a@b.com"]},
        {"email": [None]},
        {"email": "a@b.com"},
        {"email": [1]},
        {"email": [], "x": 1},
    ],
)
def test_map_v3_is_strict_about_format(mapper: Caller, payload: object) -> None:
    response = mapper.post("/v3/identity/map", payload)
    assert response.json() == {"status": "client_error", "message": "Incorrect request format"}


@pytest.mark.parametrize(
    "payload", [{"email_hash": None}, {"email": []}, {"email": [], "link_id": "l"}]
)
def test_map_v3_empty_inputs_give_four_empty_lists(mapper: Caller, payload: object) -> None:
    body = mapper.call("/v3/identity/map", payload)["body"]
    assert body == {"email": [], "email_hash": [], "phone": [], "phone_hash": []}


def test_map_v3_ten_thousand_emails(mapper: Caller) -> None:
    emails = [f"person{i}@example.com" for i in range(10_000)]
    body = mapper.call("/v3/identity/map", {"email": emails}, binary=True)["body"]
    assert len(body["email"]) == 10_000 and all("u" in e for e in body["email"])


# ---------------------------------------------------------------------------- buckets


def test_buckets_since_a_timestamp(mapper: Caller, world: World) -> None:
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(world.now_s - 50 * DAY_S, UTC).replace(tzinfo=None)
    body = mapper.call("/v2/identity/buckets", {"since_timestamp": since.isoformat()})["body"]
    expected = [
        b for b in world.plane.salt_buckets if b.last_updated_ms >= world.now_ms - 50 * DAY_S * 1000
    ]
    assert [b["bucket_id"] for b in body] == [b.bucket_id for b in expected]
    stamp = datetime.fromtimestamp(expected[0].last_updated_ms / 1000, UTC)
    assert (
        body[0]["last_updated"]
        == stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expected[0].last_updated_ms % 1000:03d}"
    )
    micro = since.replace(microsecond=123456).isoformat()
    assert len(mapper.call("/v2/identity/buckets", {"since_timestamp": micro})["body"]) == len(
        expected
    )
    future = datetime.fromtimestamp(world.now_s + DAY_S, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.123456789"
    )
    assert mapper.call("/v2/identity/buckets", {"since_timestamp": future})["body"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "missing parameter since_timestamp"),
        (None, "missing parameter since_timestamp"),
        ({"since_timestamp": "yesterday"}, "invalid date, must conform to ISO 8601"),
        ({"since_timestamp": "2024-13-01T00:00:00"}, "invalid date, must conform to ISO 8601"),
        ({"since_timestamp": 17}, "invalid date, must conform to ISO 8601"),
    ],
)
def test_buckets_errors(mapper: Caller, payload: object, message: str) -> None:
    response = mapper.post("/v2/identity/buckets", payload)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": message},
    )


# ---------------------------------------------------------------------------- opt-out status


@pytest.mark.parametrize("role_key", ["mapper", "dsp", "sharer"])
def test_optout_status_lists_only_opted_out_ids(world: World, role_key: str) -> None:
    app, source = build_app(world)
    ids = [_b64(bytes([i]) * 32) for i in range(3)]
    source.add_optouts([
        OptOut(1, b"\x01" * 32, bytes([1]) * 32, 1_700_000_100),
        OptOut(2, b"\x02" * 32, bytes([1]) * 32, 1_700_000_000),  # earliest wins
        OptOut(3, b"\x03" * 32, bytes([2]) * 32, 1_700_000_500),
    ])  # fmt: skip
    with TestClient(app) as client:
        body = Caller(client, world, role_key).call("/v2/optout/status", {"advertising_ids": ids})[
            "body"
        ]
    assert body == {
        "opted_out": [
            {"advertising_id": ids[1], "opted_out_since": 1_700_000_000_000},
            {"advertising_id": ids[2], "opted_out_since": 1_700_000_500_000},
        ]
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "Invalid request body"),
        ({}, "Required Parameter Missing: advertising_ids"),
        ({"advertising_ids": "x"}, "Invalid request body"),
        ({"advertising_ids": ["a"] * 5001}, "Request payload is too large"),
    ],
)
def test_optout_status_errors(
    client: TestClient, world: World, payload: object, message: str
) -> None:
    response = Caller(client, world, "mapper").post("/v2/optout/status", payload)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "client_error", "message": message},
    )


def test_optout_status_can_be_disabled(world: World) -> None:
    app, _ = build_app(world, world.settings(optout_status_api_enabled=False))
    with TestClient(app) as client:
        assert (
            Caller(client, world, "mapper")
            .post("/v2/optout/status", {"advertising_ids": []})
            .status_code
            == 404
        )

"""Property tests: whatever arrives on a POST endpoint, the answer is a 4xx or a 200, never 5xx."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from operator_world import Caller, RecordingSink, TestClient, World, build_app, make_world

from uid2.core.envelope import seal_request

POSTS = [
    "/v2/token/generate",
    "/v2/token/validate",
    "/v2/token/logout",
    "/v2/identity/map",
    "/v3/identity/map",
    "/v2/identity/buckets",
    "/v2/key/latest",
    "/v2/key/sharing",
    "/v2/key/bidstream",
    "/v2/optout/status",
]
ANY_POST = [*POSTS, "/v2/token/refresh", "/v2/token/client-generate"]
CONTENT_TYPES = st.sampled_from(
    [
        "text/plain",
        "application/octet-stream",
        "application/json",
        "application/x-www-form-urlencoded",
        "",
        "multipart/form-data; boundary=x",
    ]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "email",
        "email_hash",
        "phone",
        "phone_hash",
        "token",
        "since_timestamp",
        "advertising_ids",
        "tcf_consent_string",
        "link_id",
        "x",
    ]
)
REQUESTS = st.dictionaries(FIELDS, JSON, max_size=4) | JSON
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzz_world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def fuzz_client(fuzz_world: World) -> Iterator[TestClient]:
    app, _ = build_app(fuzz_world, optout_sink=RecordingSink())
    with TestClient(app) as client:
        yield client


def _ok(status: int) -> bool:
    return status == 200 or 400 <= status < 500


@FUZZ
@given(
    path=st.sampled_from(ANY_POST),
    body=st.binary(max_size=300),
    content_type=CONTENT_TYPES,
    authorized=st.booleans(),
)
def test_random_bodies_never_give_5xx(
    fuzz_client: TestClient,
    fuzz_world: World,
    path: str,
    body: bytes,
    content_type: str,
    authorized: bool,
) -> None:
    headers = {"Content-Type": content_type}
    if authorized:
        headers["Authorization"] = f"Bearer {fuzz_world.keys['all']}"
    response = fuzz_client.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)


@FUZZ
@given(path=st.sampled_from(POSTS), request=REQUESTS, binary=st.booleans())
def test_random_json_in_valid_envelopes_never_gives_5xx(
    fuzz_client: TestClient, fuzz_world: World, path: str, request: object, binary: bool
) -> None:
    response = Caller(fuzz_client, fuzz_world, "all").post(path, request, binary=binary)
    assert _ok(response.status_code), (path, request, response.status_code, response.text)
    if response.status_code != 200:
        document = response.json()
        assert set(document) <= {"status", "message"} and document["status"]


@FUZZ
@given(
    path=st.sampled_from(POSTS),
    version=st.integers(0, 255),
    skew_ms=st.integers(-(10**7), 10**7),
    truncate=st.integers(0, 60),
    flip=st.integers(0, 200),
)
def test_damaged_envelopes_are_4xx_with_a_message(
    fuzz_client: TestClient,
    fuzz_world: World,
    path: str,
    version: int,
    skew_ms: int,
    truncate: int,
    flip: int,
) -> None:
    secret = fuzz_world.secrets["all"]
    raw = bytearray(
        seal_request(
            secret,
            b'{"email":"a@b.com"}',
            now_ms=fuzz_world.now_ms + skew_ms,
            nonce=os.urandom(8),
            iv=os.urandom(12),
        )
    )
    raw[0] = version
    if flip < len(raw) and flip > 0:
        raw[flip] ^= 0x55
    damaged = bytes(raw[: len(raw) - truncate]) if truncate else bytes(raw)
    intact = version == 1 and abs(skew_ms) < 120_000 and not (0 < flip < len(raw)) and truncate == 0
    response = fuzz_client.post(
        path,
        content=base64.b64encode(damaged),
        headers={"Authorization": f"Bearer {fuzz_world.keys['all']}"},
    )
    if intact:
        assert _ok(response.status_code)
    else:
        assert response.status_code == 400 and response.json()["status"] == "client_error"
        assert response.json()["message"].startswith(("Invalid body", "Invalid timestamp"))


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(10_000, 60_000),
    kind=st.sampled_from(["email", "email_hash", "phone", "phone_hash"]),
)
def test_huge_arrays_are_answered(
    fuzz_client: TestClient, fuzz_world: World, size: int, kind: str
) -> None:
    values = ["x"] * size
    for path in ("/v2/identity/map", "/v3/identity/map", "/v2/optout/status"):
        payload = {"advertising_ids": values} if path.endswith("status") else {kind: values}
        response = Caller(fuzz_client, fuzz_world, "all").post(path, payload)
        assert response.status_code in (200, 400, 413), path


@FUZZ
@given(request=REQUESTS, origin=st.none() | st.text(max_size=40))
def test_cstg_random_json_never_gives_5xx(
    fuzz_client: TestClient, fuzz_world: World, request: object, origin: str | None
) -> None:
    if isinstance(request, dict) and request:
        request["subscription_id"] = fuzz_world.cstg_subscription_id
    headers = {} if origin is None else {"Origin": origin.encode("ascii", "ignore").decode()}
    response = fuzz_client.post(
        "/v2/token/client-generate", content=json.dumps(request).encode(), headers=headers
    )
    assert 400 <= response.status_code < 500


def test_echoed_lone_surrogates_and_huge_numbers_do_not_break_answers(
    fuzz_client: TestClient, fuzz_world: World
) -> None:
    logout = Caller(fuzz_client, fuzz_world, "all").post("/v2/token/logout", b'{"email":"\\ud800"}')
    assert logout.status_code == 400 and logout.json()["status"] == "invalid_token"
    body = Caller(fuzz_client, fuzz_world, "all").call(
        "/v2/identity/map", b'{"email":["\\udc00", 123456789012345678901234567890]}'
    )["body"]
    assert [u["identifier"] for u in body["unmapped"]] == ["\udc00", 123456789012345678901234567890]

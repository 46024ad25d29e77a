"""Every kind of pixel hit is answered the same way (a GIF, or 204 for a beacon) and stored with
exactly what it may keep: the status, the sender, the raw UID2 on success only, the other
parameters, and the referring host. Never the token, never a raw UID2 sent in its place, never
the referring URL."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from pixel_receiver_world import (
    GIF_LENGTH,
    OTHER_KEY,
    OTHER_RAW_UID,
    OTHER_SITE,
    PLUS_RAW_UID,
    RAW_UID,
    SENDER_SITE,
    KeyServer,
    OptOutLookup,
    TestClient,
    assert_gif,
    build_receiver,
    encrypt,
    metric,
    receiver_body,
    running,
    sender_client,
)

from uid2.pixel.events import MAX_FIELDS, MAX_PARAMS_BYTES, MAX_TOKEN_LENGTH
from uid2.pixel.store import EventStore, StoredEvent

EMAIL = "jane.doe@example.com"
REFERER = f"https://Shop.Example:8443/checkout?email={EMAIL}&next=/thanks#{EMAIL}"


def tampered(token: str) -> str:
    """The token with one character of its ciphertext changed."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


@dataclass(frozen=True)
class Hit:
    name: str
    fields: list[tuple[str, str]]
    status: str
    sender: int | None = None
    uid: str | None = None
    params: dict[str, object] | None = None  # None: {}
    kind: str = "tracking"


def hits() -> list[Hit]:
    token = encrypt(RAW_UID)
    other = encrypt(OTHER_RAW_UID, sender_client(OTHER_SITE, OTHER_KEY))
    expired = encrypt(RAW_UID, now=datetime.now(UTC) - timedelta(days=60))
    many = [(f"f{i}", "x") for i in range(MAX_FIELDS + 1)]
    return [
        Hit(
            "valid",
            [
                ("uid2_token", token),
                ("ev", "purchase"),
                ("order", "42"),
                ("sku", "a"),
                ("sku", "b"),
                ("cb", "0123456789abcdef"),
            ],
            "SUCCESS",
            SENDER_SITE,
            RAW_UID,
            {"order": "42", "sku": ["a", "b"]},
        ),  # fmt: skip
        Hit(
            "creative",
            [("uid2_token", token), ("ev", "imp")],
            "SUCCESS",
            SENDER_SITE,
            RAW_UID,
            kind="creative",
        ),  # fmt: skip
        Hit("no token", [("ev", "visit"), ("page", "home")], "NO_TOKEN", params={"page": "home"}),
        Hit("empty token", [("uid2_token", ""), ("ev", "visit")], "NO_TOKEN"),
        Hit("raw uid", [("uid2_token", RAW_UID), ("ev", "visit")], "RAW_UID_REJECTED"),
        Hit(
            "raw uid unpadded",
            [("uid2_token", RAW_UID.rstrip("=")), ("ev", "visit")],
            "RAW_UID_REJECTED",
        ),  # fmt: skip
        Hit(
            "raw uid with + and /",
            [("uid2_token", PLUS_RAW_UID), ("ev", "visit")],
            "RAW_UID_REJECTED",
        ),  # fmt: skip
        Hit("tampered", [("uid2_token", tampered(token)), ("ev", "visit")], "INVALID_PAYLOAD"),
        Hit("garbage", [("uid2_token", "not a token"), ("ev", "visit")], "INVALID_PAYLOAD"),
        Hit(
            "too long",
            [("uid2_token", token + "A" * MAX_TOKEN_LENGTH), ("ev", "visit")],
            "INVALID_PAYLOAD",
        ),  # fmt: skip
        Hit("expired", [("uid2_token", expired), ("ev", "visit")], "EXPIRED_TOKEN"),
        Hit("not granted", [("uid2_token", other), ("ev", "visit")], "NOT_AUTHORIZED_FOR_KEY"),
        Hit(
            "params too large",
            [("uid2_token", token), ("ev", "visit"), ("big", "v" * MAX_PARAMS_BYTES)],
            "PARAMS_TOO_LARGE",
        ),  # fmt: skip
        Hit("too many fields", [("uid2_token", token), *many], "PARAMS_TOO_LARGE"),
    ]


def assert_stored(row: StoredEvent, hit: Hit) -> None:
    event = row.event
    assert (event.kind.value, event.status) == (hit.kind, hit.status), hit.name
    assert event.sender_site_id == hit.sender, hit.name
    assert event.raw_uid2 == hit.uid, hit.name
    assert json.loads(event.params) == (hit.params or {}), hit.name
    assert event.referrer_domain == "shop.example", hit.name
    if hit.status == "SUCCESS":
        assert event.established_ms is not None and event.generated_ms is not None
    else:
        assert event.established_ms is None and event.generated_ms is None
    assert_nothing_identifying(row)


def assert_nothing_identifying(row: StoredEvent) -> None:
    """No token, no raw UID2 outside its column, nothing of the referring URL but its host."""
    event = row.event
    text = " ".join(str(v) for v in (event.event, event.params, event.referrer_domain))
    for secret in (RAW_UID, RAW_UID.rstrip("="), PLUS_RAW_UID, OTHER_RAW_UID, EMAIL, "checkout"):
        assert secret not in text
    assert "uid2_token" not in event.params
    if event.status != "SUCCESS":
        assert event.raw_uid2 is None


def test_every_kind_of_get_hit_is_a_gif_and_is_stored_as_expected(
    http: TestClient, store: EventStore
) -> None:
    table = hits()
    for hit in table:
        answer = http.get(f"/px/{hit.kind}?{urlencode(hit.fields)}", headers={"Referer": REFERER})
        assert_gif(answer)
        assert len(answer.content) == GIF_LENGTH
    rows = list(store.events())
    assert len(rows) == len(table)  # answered means stored: the answer waits for the commit
    for row, hit in zip(rows, table, strict=True):
        assert_stored(row, hit)
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert metric(http, "uid2_pixel_events_total", kind="tracking", status="SUCCESS") == 1
    assert metric(http, "uid2_pixel_events_total", kind="creative", status="SUCCESS") == 1
    assert metric(http, "uid2_pixel_events_total", kind="tracking", status="NO_TOKEN") == 2
    assert metric(http, "uid2_pixel_events_total", kind="tracking", status="PARAMS_TOO_LARGE") == 2
    assert metric(http, "uid2_pixel_dropped_events_total", reason="db_error") == 0


def test_every_kind_of_beacon_is_a_204_and_is_stored_as_expected(
    http: TestClient, store: EventStore
) -> None:
    table = hits()
    for hit in table:
        # the event name in the URL, everything else in the body (navigator.sendBeacon)
        body = urlencode([f for f in hit.fields if f[0] != "ev"])
        event = dict(hit.fields).get("ev")
        path = f"/px/{hit.kind}" + (f"?{urlencode({'ev': event})}" if event else "")
        answer = http.post(
            path,
            content=body,
            headers={"Referer": REFERER, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 204, hit.name
        assert answer.content == b""
        assert answer.headers["cache-control"] == "no-store"
    rows = list(store.events())
    assert len(rows) == len(table)
    for row, hit in zip(rows, table, strict=True):
        assert_stored(row, hit)


def test_a_beacon_body_over_the_limit_is_answered_and_stored_as_too_large(
    http: TestClient, store: EventStore
) -> None:
    token = encrypt(RAW_UID)
    body = urlencode({"uid2_token": token, "pad": "p" * 20_000})
    assert http.post("/px/tracking?ev=big", content=body).status_code == 204
    [row] = store.events()
    assert (row.event.status, row.event.raw_uid2, row.event.params) == ("PARAMS_TOO_LARGE", None,
                                                                        "{}")  # fmt: skip
    assert row.event.event == ""  # the whole input was refused, the event name with it


def test_a_referer_is_reduced_to_its_host(http: TestClient, store: EventStore) -> None:
    referers = {
        f"https://{EMAIL}@shop.example/": "shop.example",  # userinfo is not the host
        f"https://shop.example/p?e={EMAIL}": "shop.example",
        "android-app://com.example.app/": "com.example.app",
        "not a url": None,
        "https://[::1": None,  # unparseable: no host rather than an error
        "": None,
    }
    for referer in referers:
        assert_gif(http.get("/px/tracking?ev=r", headers={"Referer": referer}))
    assert_gif(http.get("/px/tracking?ev=r"))
    stored = [r.event.referrer_domain for r in store.events()]
    assert stored == [*referers.values(), None]
    assert not any(EMAIL in (d or "") for d in stored)


def test_unknown_paths_and_methods_are_404_and_store_nothing(
    http: TestClient, store: EventStore
) -> None:
    for method, path in [
        ("GET", "/px/unknown?ev=x"),
        ("GET", "/px?ev=x"),
        ("GET", "/px/tracking/extra?ev=x"),
        ("GET", "/"),
        ("PUT", "/px/tracking?ev=x"),
        ("DELETE", "/px/creative?ev=x"),
        ("POST", "/metrics"),
    ]:
        answer = http.request(method, path)
        assert answer.status_code == 404, (method, path)
        assert answer.headers["cache-control"] == "no-store"
    assert list(store.events()) == []


def test_the_script_health_and_metrics_are_served(http: TestClient) -> None:
    script = http.get("/uid2-pixel.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "uid2Pixel" in script.text
    health = http.get("/healthz")
    assert (health.status_code, health.text) == (200, "OK")
    assert_gif(http.get("/px/tracking?ev=m"))
    assert metric(http, "uid2_pixel_events_total", kind="tracking", status="NO_TOKEN") == 1
    assert metric(http, "uid2_pixel_unconfirmed_events_total") == 0


def test_no_token_and_no_raw_uid_reaches_a_log_record(
    http: TestClient, store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    table = hits()
    for hit in table:
        assert_gif(
            http.get(f"/px/{hit.kind}?{urlencode(hit.fields)}", headers={"Referer": REFERER})
        )
        http.post(f"/px/{hit.kind}", content=urlencode(hit.fields))
    secrets = {v for hit in table for k, v in hit.fields if k == "uid2_token" and v}
    secrets |= {RAW_UID, RAW_UID.rstrip("="), PLUS_RAW_UID, OTHER_RAW_UID, EMAIL}
    receiver_records = [
        r
        for r in caplog.records
        # the test's own HTTP client logs the URLs it requests: that is the sender's side
        if not (r.name.startswith("httpx") and "testserver" in r.getMessage())
    ]
    for record in receiver_records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for secret in secrets:
            assert secret not in text, (record.name, record.getMessage())
    rows = list(store.events())
    assert len(rows) == 2 * len(table)
    for row in rows:
        for secret in secrets:
            assert secret not in row.event.params and secret not in row.event.event
        assert_nothing_identifying(row)


def test_a_grant_shows_at_the_next_pixel_and_a_revoke_at_the_next_key_refresh(
    db_url: str, store: EventStore
) -> None:
    keys = KeyServer(body=receiver_body(granted=False))
    app = build_receiver(db_url, keys, OptOutLookup())
    token = encrypt(RAW_UID)
    other = encrypt(OTHER_RAW_UID, sender_client(OTHER_SITE, OTHER_KEY))
    try:
        with running(app) as http:

            def fire(t: str = token) -> str:
                assert_gif(http.get(f"/px/tracking?{urlencode({'uid2_token': t, 'ev': 'g'})}"))
                return list(store.events())[-1].event.status

            assert fire() == "NOT_AUTHORIZED_FOR_KEY"
            calls = keys.calls
            keys.body = receiver_body(granted=True)  # the advertiser grants the DSP
            assert fire() == "SUCCESS"  # an unknown key made the receiver refresh on demand
            assert keys.calls == calls + 1
            keys.body = receiver_body(granted=False)  # ...and revokes
            assert fire() == "SUCCESS"  # the receiver's keys are as of its last refresh
            assert fire(other) == "NOT_AUTHORIZED_FOR_KEY"  # any unknown key refreshes them
            assert fire() == "NOT_AUTHORIZED_FOR_KEY"
    finally:
        app._engine.dispose()
    assert [r.event.raw_uid2 for r in store.events()] == [None, RAW_UID, RAW_UID, None, None]

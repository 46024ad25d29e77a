"""The receiver's request metrics (by endpoint, method and status, with latency), its key age on
``/metrics`` and ``/healthz``, driven by real requests and the SDK's real key refresh thread
against a key endpoint that goes down and comes back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from pixel_receiver_world import (
    RAW_UID,
    KeyServer,
    TestClient,
    assert_gif,
    build_receiver,
    encrypt,
    metric,
    running,
)

from uid2.store import sqlite_url

WAIT_S = 10.0
KEY_AGE = "uid2_pixel_key_refresh_age_seconds"
REQUESTS = "uid2_pixel_http_requests_total"
LATENCY = "uid2_pixel_http_request_duration_seconds"


def eventually(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def requests(http: TestClient, endpoint: str, method: str, status: str) -> float:
    return metric(http, REQUESTS, endpoint=endpoint, method=method, status=status)


def timed(http: TestClient, endpoint: str, method: str, status: str) -> tuple[float, float, float]:
    """The latency histogram's count, +Inf bucket and sum for one label set."""
    labels = {"endpoint": endpoint, "method": method, "status": status}
    return (
        metric(http, LATENCY + "_count", **labels),
        metric(http, LATENCY + "_bucket", le="+Inf", **labels),
        metric(http, LATENCY + "_sum", **labels),
    )


def test_requests_are_counted_and_timed_by_endpoint_method_and_status(
    db_url: str, keys: KeyServer
) -> None:
    token = encrypt(RAW_UID)
    app = build_receiver(db_url, keys)
    try:
        with running(app) as http:
            for _ in range(3):
                assert_gif(http.get(f"/px/tracking?{urlencode({'uid2_token': token, 'ev': 'a'})}"))
            assert http.post("/px/creative", content="ev=imp").status_code == 204
            assert http.get("/healthz").status_code == 200
            for path in ("/nope", "/px/tracking/x", "/px/other?uid2_token=abc"):
                assert http.get(path).status_code == 404
            assert http.request("BREW", "/px/tracking").status_code == 404

            assert requests(http, "/px/tracking", "GET", "200") == 3
            assert requests(http, "/px/creative", "POST", "204") == 1
            assert requests(http, "/healthz", "GET", "200") == 1
            assert requests(http, "unknown", "GET", "404") == 3  # raw paths never become labels
            assert requests(http, "/px/tracking", "other", "404") == 1
            count, everything, seconds = timed(http, "/px/tracking", "GET", "200")
            assert count == everything == 3 and seconds > 0
            assert timed(http, "unknown", "GET", "404")[0] == 3
            scrapes = requests(http, "/metrics", "GET", "200")
            assert requests(http, "/metrics", "GET", "200") == scrapes + 1  # scrapes count too
            assert metric(http, "uid2_pixel_events_total", kind="tracking", status="SUCCESS") == 3
            assert metric(http, "uid2_pixel_events_total", kind="creative", status="NO_TOKEN") == 1
            text = http.get("/metrics").text
            assert "/nope" not in text and "/px/other" not in text and "BREW" not in text
    finally:
        app._engine.dispose()


def test_the_key_age_grows_while_the_operator_is_down_and_resets_when_it_is_back(
    tmp_path: Path, keys: KeyServer
) -> None:
    db_url = sqlite_url(tmp_path / "pixel.db")  # the key age does not depend on the store
    app = build_receiver(db_url, keys, key_refresh_seconds=0.1, key_max_age_seconds=0.8)
    try:
        with running(app) as http:
            eventually("healthy", lambda: http.get("/healthz").text == "OK")
            assert metric(http, KEY_AGE) < 0.8
            keys.down = True
            eventually("the keys to be too old", lambda: http.get("/healthz").status_code == 503)
            health = http.get("/healthz").text
            assert health.startswith("sharing keys last refreshed ") and "(limit 0.8 s)" in health
            first = metric(http, KEY_AGE)
            time.sleep(0.2)
            assert first > 0.8 and metric(http, KEY_AGE) >= first + 0.2  # still growing
            keys.down = False
            eventually("fresh keys", lambda: http.get("/healthz").status_code == 200)
            assert http.get("/healthz").text == "OK"
            assert metric(http, KEY_AGE) < first
    finally:
        app._engine.dispose()


def test_a_receiver_that_never_got_keys_turns_unhealthy_after_the_limit(
    tmp_path: Path, keys: KeyServer
) -> None:
    keys.down = True
    app = build_receiver(
        sqlite_url(tmp_path / "pixel.db"), keys, key_refresh_seconds=0.1, key_max_age_seconds=0.3
    )
    try:
        with running(app) as http:
            eventually("the limit to pass", lambda: http.get("/healthz").status_code == 503)
            assert http.get("/healthz").text.startswith("no sharing keys yet, ")
            assert metric(http, KEY_AGE) > 0.3
    finally:
        app._engine.dispose()

"""The operator's request metrics: ``uid2_http_requests_total`` and
``uid2_http_request_duration_seconds`` by route path (unknown paths as one label), bounded
method, and status; the histogram's buckets; the time it measures."""

from __future__ import annotations

import asyncio

from operator_world import Caller, TestClient, World
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from uid2.admin.http_metrics import LabelledHistogram
from uid2.operator.metrics import LATENCY_BUCKETS, OperatorMetrics
from uid2.operator.middleware import OperatorMiddleware

REQUESTS = "uid2_http_requests_total"
LATENCY = "uid2_http_request_duration_seconds"


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``{sorted labels: value}`` of every sample called ``name``."""
    return {
        tuple(sorted(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text, name).get(tuple(sorted(labels.items())), 0.0)


def test_requests_are_counted_and_timed_by_path_method_and_status(
    client: TestClient, world: World
) -> None:
    generator = Caller(client, world, "generator")
    for email in ("a@b.com", "c@d.com"):
        generator.call("/v2/token/generate", {"email": email})
    assert client.post("/v2/token/generate", content=b"x").status_code == 401
    assert client.get("/v2/token/generate").status_code == 405
    assert client.request("BREW", "/v2/token/generate").status_code == 405
    for path in ("/v9/anything", "/v2/token/generate/x", "/ops/healthcheck/x"):
        assert client.post(path).status_code == 404
    preflight = {"Origin": "https://pub.example", "Access-Control-Request-Method": "POST"}
    assert client.options("/v2/token/client-generate", headers=preflight).status_code == 204
    text = client.get("/metrics").text

    generate = {"path": "/v2/token/generate"}
    for method, status, count in [("POST", "200", 2), ("POST", "401", 1), ("GET", "405", 1)]:
        labels = {**generate, "method": method, "status": status}
        assert value(text, REQUESTS, **labels) == count, labels
        assert value(text, LATENCY + "_count", **labels) == count, labels
        assert value(text, LATENCY + "_bucket", le="+Inf", **labels) == count, labels
    assert value(text, LATENCY + "_sum", **generate, method="POST", status="200") > 0
    assert value(text, REQUESTS, **generate, method="other", status="405") == 1
    assert value(text, REQUESTS, path="unknown", method="POST", status="404") == 3
    client_generate = {"path": "/v2/token/client-generate", "method": "OPTIONS", "status": "204"}
    assert value(text, LATENCY + "_count", **client_generate) == 1
    for raw in ("/v9/anything", "/v2/token/generate/x", "BREW"):
        assert raw not in text


def test_the_histogram_counts_each_value_in_the_first_bucket_that_holds_it() -> None:
    registry = CollectorRegistry()
    histogram = LabelledHistogram("t_seconds", "test", ("path",), (0.1, 0.5, 1.0))
    registry.register(histogram)
    for seconds in (0.05, 0.1, 0.3, 0.5, 0.9, 7.0):  # 0.1 and 0.5 sit on bucket bounds
        histogram.observe(seconds, "/a")
    histogram.observe(0.2, "/b")
    text = generate_latest(registry).decode()
    buckets = samples(text, "t_seconds_bucket")
    cumulative = [buckets[(("le", le), ("path", "/a"))] for le in ("0.1", "0.5", "1.0", "+Inf")]
    assert cumulative == [2, 4, 5, 6]
    assert value(text, "t_seconds_count", path="/a") == 6 == histogram.count("/a")
    assert abs(value(text, "t_seconds_sum", path="/a") - 8.85) < 1e-9
    assert value(text, "t_seconds_count", path="/b") == 1 and histogram.count("/c") == 0


async def _slow_answer(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(0.03)
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_the_time_measured_is_the_answer_s_whole_duration() -> None:
    metrics = OperatorMetrics(CollectorRegistry())
    app = OperatorMiddleware(_slow_answer, metrics, ["/slow"])
    scope = {"type": "http", "method": "POST", "path": "/slow", "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 202
    text = generate_latest(metrics.registry).decode()
    labels = {"path": "/slow", "method": "POST", "status": "202"}
    assert value(text, LATENCY + "_bucket", le="0.025", **labels) == 0  # it took 30 ms or more
    assert value(text, LATENCY + "_bucket", le="+Inf", **labels) == 1
    assert 0.03 <= value(text, LATENCY + "_sum", **labels) < 1.0
    assert LATENCY_BUCKETS[0] < 0.001 < LATENCY_BUCKETS[-1]  # sub-ms answers are told apart

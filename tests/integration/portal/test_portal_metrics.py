"""The portal's request metrics: counted and timed by route template (never the raw path),
bounded method and status, driven by real requests through the app."""

from __future__ import annotations

from portal_world import PortalClient, World
from prometheus_client.parser import text_string_to_metric_families

from uid2.portal.middleware import LATENCY_BUCKETS

REQUESTS = "uid2_portal_http_requests_total"
LATENCY = "uid2_portal_http_request_duration_seconds"


def sample(client: PortalClient, name: str, **labels: str) -> float:
    """One sample's value on ``/metrics`` (0 when it is not there)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


def requests(client: PortalClient, route: str, method: str, status: str) -> float:
    return sample(client, REQUESTS, route=route, method=method, status=status)


def routes_counted(client: PortalClient, **labels: str) -> set[str]:
    """The route labels of the request counts with these other labels."""
    return {
        found.labels["route"]
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for found in family.samples
        if found.name == REQUESTS and labels.items() <= found.labels.items()
    }


def latency_count(client: PortalClient, route: str, method: str, status: str) -> float:
    return sample(client, LATENCY + "_count", route=route, method=method, status=status)


def test_requests_are_counted_and_timed_by_route_template(world: World) -> None:
    client = world.client()
    news, dsp = world.sites["news"], world.sites["dsp"]
    assert client.get("/login").status_code == 200
    for site in (news, dsp, news):
        assert client.get(f"/p/{site}/team").status_code == 303  # not signed in
    assert client.get("/static/portal.css").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/api/v1/no-such-thing").status_code == 404
    assert client.request("BREW", "/login").status_code == 405

    assert requests(client, "/login", "GET", "200") == 1
    assert requests(client, "/p/{site_id:int}/team", "GET", "303") == 3
    assert requests(client, "/static", "GET", "200") == 1
    assert requests(client, "unmatched", "GET", "404") == 1
    api_404 = routes_counted(client, method="GET", status="404") - {"unmatched"}
    assert len(api_404) == 1 and next(iter(api_404)).startswith("/api/{")  # the API's fallback
    assert requests(client, "/login", "other", "405") == 1
    assert latency_count(client, "/p/{site_id:int}/team", "GET", "303") == 3
    labels = {"route": "/login", "method": "GET", "status": "200"}
    assert sample(client, LATENCY + "_bucket", le="+Inf", **labels) == 1
    assert sample(client, LATENCY + "_sum", **labels) > 0
    text = client.get("/metrics").text
    for raw in (f"/p/{news}/team", "/no/such/page", "no-such-thing", "BREW"):
        assert raw not in text
    for _ in range(4):
        client.get("/healthz")
    assert_cumulative_buckets(client, {"route": "/healthz", "method": "GET", "status": "200"}, 4)


def assert_cumulative_buckets(client: PortalClient, labels: dict[str, str], total: int) -> None:
    buckets = [
        (float(s.labels["le"]), s.value)
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
        if s.name == LATENCY + "_bucket" and {k: s.labels[k] for k in labels} == labels
    ]
    bounds, counts = zip(*sorted(buckets), strict=True)
    assert bounds == (*LATENCY_BUCKETS, float("inf"))
    assert list(counts) == sorted(counts) and counts[-1] == total  # every answer is in +Inf

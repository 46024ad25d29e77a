"""Receiver metrics (one registry per app; with several workers, each counts its own)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OTHER_METHOD = "other"
_METHOD_LABELS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# a pixel's answer waits for its commit: milliseconds, up to commit_wait_seconds (2 s)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PixelMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.pixels = Counter(
            "uid2_pixel_events", "Pixels received, by kind and status", ["kind", "status"],
            registry=registry,
        )  # fmt: skip
        self.dropped = Counter(
            "uid2_pixel_dropped_events",
            "Events answered but not stored (queue_full, db_error)",
            ["reason"],
            registry=registry,
        )
        self.unconfirmed = Counter(
            "uid2_pixel_unconfirmed_events",
            "Pixels answered before their commit was confirmed (the writer was slow)",
            registry=registry,
        )
        self.purged = Counter(
            "uid2_pixel_optout_purged_events",
            "Stored events whose raw UID2 was removed after an opt-out",
            registry=registry,
        )
        labels = ["endpoint", "method", "status"]
        self.requests = Counter(
            "uid2_pixel_http_requests",
            "HTTP requests by endpoint (unknown paths as 'unknown'), method and status",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "uid2_pixel_http_request_duration_seconds",
            "Seconds from arrival to the end of the answer, by endpoint, method and status",
            labels,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        # .labels() costs three times what inc() and observe() do, on every pixel: look each
        # label set up once (the sets are bounded: fixed endpoints, methods and statuses)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def drop(self, reason: str, count: int) -> None:
        self.dropped.labels(reason).inc(count)

    def request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """``endpoint`` must come from a fixed set; the method is bounded here."""
        key = (endpoint, method if method in _METHOD_LABELS else OTHER_METHOD, status)
        children = self._children.get(key)
        if children is None:
            labels = (key[0], key[1], str(status))
            children = self.requests.labels(*labels), self.latency.labels(*labels)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def track_key_age(self, seconds: Callable[[], float]) -> None:
        """Exposes the sharing keys' age, read at each scrape."""
        gauge = Gauge(
            "uid2_pixel_key_refresh_age_seconds",
            "Seconds since the sharing keys were last refreshed (since start if never)",
            registry=self.registry,
        )
        gauge.set_function(seconds)

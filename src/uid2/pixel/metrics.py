"""Receiver metrics (one registry per app; with several workers, each counts its own)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from uid2.admin.http_metrics import RequestMetrics

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
        self.requests = RequestMetrics(registry, "uid2_pixel_http", "endpoint", LATENCY_BUCKETS)

    def drop(self, reason: str, count: int) -> None:
        self.dropped.labels(reason).inc(count)

    def track_key_age(self, seconds: Callable[[], float]) -> None:
        """Exposes the sharing keys' age, read at each scrape."""
        gauge = Gauge(
            "uid2_pixel_key_refresh_age_seconds",
            "Seconds since the sharing keys were last refreshed (since start if never)",
            registry=self.registry,
        )
        gauge.set_function(seconds)

"""Receiver metrics (one registry per app; with several workers, each counts its own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


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

    def drop(self, reason: str, count: int) -> None:
        self.dropped.labels(reason).inc(count)

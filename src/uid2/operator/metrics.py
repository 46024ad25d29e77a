"""Prometheus metrics (operator.md §9.4), one registry per app so tests can build many apps.

Per-request families are plain dictionaries read at scrape time (:mod:`uid2.admin.http_metrics`:
a ``prometheus_client`` child showed up on the token endpoints' profile). A request costs one
histogram update; ``uid2_http_requests_total`` is read from its counts. With several uvicorn
workers each process counts on its own; scrape each worker.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, Summary

from uid2.admin.http_metrics import LabelledCounter, RequestMetrics

# Answers take tens of microseconds to a few milliseconds; the top buckets catch stalls.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = RequestMetrics(registry, "uid2_http", "path", LATENCY_BUCKETS)
        self.token_responses = self._counter(
            "uid2_token_response_status_count",
            "Token endpoint answers by endpoint and status",
            "token_endpoint",
            "token_response_status",
        )
        self.validations = self._counter(
            "uid2_token_validate", "Token validations by result", "result"
        )
        self.map_inputs = Summary(
            "uid2_operator_identity_map_inputs",
            "Identifiers per identity-map request and DII type",
            ["path", "dii_type"],
            registry=registry,
        )
        self.snapshot_age = Gauge(
            "uid2_snapshot_age_seconds", "Seconds since the last good poll", registry=registry
        )
        self.snapshot_version = Gauge(
            "uid2_snapshot_version", "Version of the snapshot being served", registry=registry
        )
        self.optout_entries = Gauge(
            "uid2_optout_entries_indexed", "First-level hashes opted out", registry=registry
        )

    def _counter(self, name: str, documentation: str, *labels: str) -> LabelledCounter:
        counter = LabelledCounter(name, documentation, labels)
        self.registry.register(counter)
        return counter

    def bind(
        self, age: Callable[[], float], version: Callable[[], int], optouts: Callable[[], int]
    ) -> None:
        self.snapshot_age.set_function(age)
        self.snapshot_version.set_function(lambda: float(version()))
        self.optout_entries.set_function(lambda: float(optouts()))

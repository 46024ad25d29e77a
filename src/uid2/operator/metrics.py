"""Prometheus metrics (operator.md §9.4), one registry per app so tests can build many apps.

Per-request counters are plain dictionaries read at scrape time (:class:`LabelledCounter`):
a ``prometheus_client`` child costs a lock and several calls per increment, which showed up
on the token endpoints' profile. They are incremented on the event loop thread only. With
several uvicorn workers each process counts on its own; scrape each worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Gauge, Summary
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class LabelledCounter(Collector):
    """A counter family kept as ``{label values: count}``."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = labels
        self._counts: dict[tuple[str, ...], int] = {}

    def inc(self, *values: str) -> None:
        counts = self._counts
        counts[values] = counts.get(values, 0) + 1

    def value(self, *values: str) -> int:
        return self._counts.get(values, 0)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labels)
        for values, count in list(self._counts.items()):
            family.add_metric(values, count)
        yield family


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = self._counter(
            "uid2_http_requests",
            "HTTP requests by path, method and status",
            "path",
            "method",
            "status",
        )
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

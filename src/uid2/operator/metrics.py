"""Prometheus metrics (operator.md §9.4), one registry per app so tests can build many apps.

Per-request counters are plain dictionaries read at scrape time (:class:`LabelledCounter`):
a ``prometheus_client`` child costs a lock and several calls per increment, which showed up
on the token endpoints' profile. They are incremented on the event loop thread only. A request
costs one histogram update: ``uid2_http_requests_total`` is read from the latency histogram's
counts (:class:`HistogramCounts`). With several uvicorn workers each process counts on its own;
scrape each worker.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Gauge, Summary
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

# Answers take tens of microseconds to a few milliseconds; the top buckets catch stalls.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


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


class LabelledHistogram(Collector):
    """A histogram family kept as ``{label values: [count per bucket..., sum]}``, for the
    same reason as :class:`LabelledCounter`; also incremented on the event loop thread only."""

    def __init__(
        self, name: str, documentation: str, labels: tuple[str, ...], bounds: tuple[float, ...]
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = labels
        self._bounds = bounds  # ascending upper bounds; +Inf is implied
        self._series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, seconds: float, *values: str) -> None:
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, seconds)] += 1  # the first bucket with bound >= value
        series[-1] += seconds

    def count(self, *values: str) -> int:
        series = self._series.get(values)
        return 0 if series is None else int(sum(series[:-1]))

    def counts(self) -> Iterator[tuple[tuple[str, ...], int]]:
        for values, series in list(self._series.items()):
            yield values, int(sum(series[:-1]))

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labels)
        names = [*(repr(b) for b in self._bounds), "+Inf"]
        for values, series in list(self._series.items()):
            cumulative = accumulate(series[:-1])
            family.add_metric(list(values), list(zip(names, cumulative, strict=True)), series[-1])
        yield family


class HistogramCounts(Collector):
    """A counter family whose values are a :class:`LabelledHistogram`'s counts."""

    def __init__(
        self, histogram: LabelledHistogram, name: str, documentation: str, labels: tuple[str, ...]
    ) -> None:
        self._histogram = histogram
        self._name = name
        self._documentation = documentation
        self._labels = labels

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labels)
        for values, count in self._histogram.counts():
            family.add_metric(values, count)
        yield family


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        request_labels = ("path", "method", "status")
        self.latency = LabelledHistogram(
            "uid2_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer, by path, method, status",
            request_labels,
            LATENCY_BUCKETS,
        )
        registry.register(self.latency)
        registry.register(
            HistogramCounts(
                self.latency,
                "uid2_http_requests",
                "HTTP requests by path, method and status",
                request_labels,
            )
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

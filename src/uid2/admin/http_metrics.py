"""Dictionary-backed Prometheus families, and HTTP request metrics built on them.

Shared by the operator, the portal and the pixel receiver (all three may import ``admin``).
A ``prometheus_client`` child costs a lock and several calls per update, which showed up on
the operator's token endpoints and on every pixel; these families are plain dictionaries read
at scrape time instead. They are updated on the event loop thread only (ASGI middleware and
raw ASGI apps). With several uvicorn workers each process counts on its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

# Label values stay bounded: a client may send any method token.
OTHER_METHOD = "other"
_METHOD_LABELS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in _METHOD_LABELS else OTHER_METHOD


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


class RequestMetrics:
    """``<prefix>_requests_total`` and ``<prefix>_request_duration_seconds`` by route, method
    and status. A request costs one histogram update: the counts are read from its buckets."""

    def __init__(
        self,
        registry: CollectorRegistry,
        prefix: str,
        route_label: str,
        buckets: tuple[float, ...],
    ) -> None:
        labels = (route_label, "method", "status")
        self.latency = LabelledHistogram(
            f"{prefix}_request_duration_seconds",
            f"Seconds from a request's arrival to the end of its answer, by {route_label}, "
            "method and status",
            labels,
            buckets,
        )
        registry.register(self.latency)
        registry.register(
            HistogramCounts(
                self.latency,
                f"{prefix}_requests",
                f"HTTP requests by {route_label}, method and status",
                labels,
            )
        )

    def observe(self, seconds: float, route: str, method: str, status: int) -> None:
        """``route`` must come from a bounded set (a route template, a fixed path)."""
        self.latency.observe(seconds, route, method_label(method), str(status))

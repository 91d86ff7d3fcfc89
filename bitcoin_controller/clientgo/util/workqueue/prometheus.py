"""The Prometheus work queue metrics provider, mirroring
``k8s.io/component-base/metrics/prometheus/workqueue``.

Importing this module (the :mod:`..workqueue` package does) makes
:data:`DEFAULT_PROVIDER` -- a :class:`PrometheusMetricsProvider` on the
process-wide
:data:`~bitcoin_controller.componentbase.metrics.legacyregistry.REGISTRY` --
the provider of every named queue that is not given its own, as importing
component-base's package does in a Go binary.  It stays in the workqueue
package (not under ``componentbase``) because the queue's default needs it
and client-go sits below component-base's provider in our layer order.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ....componentbase.metrics.legacyregistry import REGISTRY
from .metrics import (
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    MetricsProvider,
    SettableGaugeMetric,
    set_default_provider,
)

__all__ = ["DEFAULT_PROVIDER", "DURATION_BUCKETS", "PrometheusMetricsProvider"]

# Histogram buckets for both duration metrics: Prometheus'
# ExponentialBuckets(10e-9, 10, 10), written out so the ``le`` labels are the
# exact decimal values rather than products of float multiplication.
DURATION_BUCKETS = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

_LABELS = ("name",)


# Design, and why it differs from using prometheus_client's Gauge/Counter/
# Histogram directly: a named queue updates five metrics for every item, and
# those general-purpose objects take a lock and run validation on each update,
# which made the queue about twice as slow.  Here every queue gets its *own*
# plain-number metric objects, which it only ever updates while holding its
# own lock (the same lock that guards its bookkeeping, as in Go), so they need
# no lock of their own.  A custom collector adds up the objects of all queues
# that share a name when Prometheus scrapes, which is exactly what one shared
# Go metric would show.  What a scrape sees -- names, types, the ``name``
# label, the buckets -- is component-base's.
class _Counter:
    """One queue's counter; its queue serialises ``inc``."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self) -> None:
        self.value += 1.0


class _Gauge:
    """One queue's gauge: ``inc``/``dec`` for depth, ``set`` for the settable gauges."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self) -> None:
        self.value += 1.0

    def dec(self) -> None:
        self.value -= 1.0

    def set(self, value: float) -> None:
        self.value = float(value)


class _Histogram:
    """One queue's histogram over :data:`DURATION_BUCKETS`.

    Keeps a count per bucket (the last slot is ``+Inf``) and makes them
    cumulative only when scraped, so an observation is a bisect and two adds.
    """

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left puts a value equal to a bound in that bound's bucket:
        # Prometheus' "le" means less than or equal.
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.sum += value


def _sum_values(children: list[Any]) -> float:
    return sum(child.value for child in children)


def _max_value(children: list[Any]) -> float:
    return max(child.value for child in children)


class _Family:
    """One metric family: a name, a help text and the metric objects of every queue.

    ``combine`` says how the objects of queues sharing a name become one
    sample: counters and depth add up (as increments of one shared metric
    would), unfinished work adds up, the longest-running processor is the
    maximum.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        child_type: type,
        combine: Callable[[list[Any]], float] = _sum_values,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self._child_type = child_type
        self._combine = combine
        self._lock = threading.Lock()
        self._children: dict[str, list[Any]] = {}

    def new_child(self, queue_name: str) -> Any:
        """A fresh metric object for one queue, exported under ``queue_name``."""
        child = self._child_type()
        with self._lock:
            self._children.setdefault(queue_name, []).append(child)
        return child

    def empty_family(self) -> Metric:
        """The family without samples, as the registry's describe step wants it."""
        if self._child_type is _Counter:
            return CounterMetricFamily(self.name, self.documentation, labels=_LABELS)
        if self._child_type is _Gauge:
            return GaugeMetricFamily(self.name, self.documentation, labels=_LABELS)
        return HistogramMetricFamily(self.name, self.documentation, labels=_LABELS)

    def collect(self) -> Metric:
        with self._lock:
            by_name = sorted((name, list(children)) for name, children in self._children.items())
        family = self.empty_family()
        for queue_name, children in by_name:
            if self._child_type is _Histogram:
                family.add_metric([queue_name], *_cumulative_buckets(children))
            else:
                family.add_metric([queue_name], self._combine(children))
        return family


def _cumulative_buckets(children: list[_Histogram]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``(le, count)`` pairs ending with ``+Inf``, and the sum, over ``children``.

    Read without the queues' locks: a scrape racing an observation may see
    its bucket count without its sum, which the next scrape corrects.
    """
    counts = [0] * (len(DURATION_BUCKETS) + 1)
    total = 0.0
    for child in children:
        for index, count in enumerate(list(child.counts)):
            counts[index] += count
        total += child.sum
    buckets = []
    running = 0
    for bound, count in zip((*DURATION_BUCKETS, math.inf), counts, strict=True):
        running += count
        buckets.append((floatToGoString(bound), float(running)))
    return buckets, total


class _WorkqueueCollector(Collector):
    """Exposes the provider's families to a ``CollectorRegistry``."""

    def __init__(self, families: list[_Family]) -> None:
        self._families = families

    def describe(self) -> Iterable[Metric]:
        # Lets the registry reserve the names up front, so a second provider
        # on the same registry fails loudly instead of exporting duplicates.
        return [family.empty_family() for family in self._families]

    def collect(self) -> Iterable[Metric]:
        return [family.collect() for family in self._families]


class PrometheusMetricsProvider(MetricsProvider):
    """Prometheus metrics with component-base's names, label and buckets.

    Mirrors ``component-base/metrics/prometheus/workqueue``: seven families
    registered once on ``registry`` (default :data:`REGISTRY`), each with the
    single label ``name`` -- the queue name:

    * ``workqueue_depth`` (gauge), ``workqueue_adds_total`` (counter),
    * ``workqueue_queue_duration_seconds`` and ``workqueue_work_duration_seconds``
      (histograms over :data:`DURATION_BUCKETS`),
    * ``workqueue_unfinished_work_seconds`` and
      ``workqueue_longest_running_processor_seconds`` (gauges),
    * ``workqueue_retries_total`` (counter).

    Unlike ``prometheus_client``'s own counters, no ``_created`` series is
    exported, so the exposition matches Go's.  Each ``new_*`` call returns a
    new metric owned by one queue and not safe for concurrent use: the queue
    updates it only under its own lock.  Queues sharing a name are combined
    at scrape time.  A registry can hold only one provider (the names would
    clash), so tests build a fresh ``CollectorRegistry`` for theirs.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        self._depth = _Family(
            "workqueue_depth", "Number of items waiting in the workqueue.", _Gauge
        )
        self._adds = _Family(
            "workqueue_adds", "Number of items added to the workqueue, duplicates not counted.",
            _Counter,
        )
        self._latency = _Family(
            "workqueue_queue_duration_seconds",
            "Seconds an item waits in the workqueue before a worker takes it.",
            _Histogram,
        )
        self._work_duration = _Family(
            "workqueue_work_duration_seconds",
            "Seconds a worker spends processing an item taken from the workqueue.",
            _Histogram,
        )
        self._unfinished_work = _Family(
            "workqueue_unfinished_work_seconds",
            "Summed age in seconds of the items being processed but not yet done; "
            "a large or steadily growing value points at stuck workers.",
            _Gauge,
        )
        self._longest_running = _Family(
            "workqueue_longest_running_processor_seconds",
            "Age in seconds of the item that has been in processing the longest.",
            _Gauge,
            combine=_max_value,
        )
        self._retries = _Family(
            "workqueue_retries", "Number of delayed re-adds (add_after calls) to the workqueue.",
            _Counter,
        )
        self.registry.register(
            _WorkqueueCollector(
                [
                    self._depth, self._adds, self._latency, self._work_duration,
                    self._unfinished_work, self._longest_running, self._retries,
                ]
            )
        )

    def new_depth_metric(self, name: str) -> GaugeMetric:
        return self._depth.new_child(name)

    def new_adds_metric(self, name: str) -> CounterMetric:
        return self._adds.new_child(name)

    def new_latency_metric(self, name: str) -> HistogramMetric:
        return self._latency.new_child(name)

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        return self._work_duration.new_child(name)

    def new_unfinished_work_seconds_metric(self, name: str) -> SettableGaugeMetric:
        return self._unfinished_work.new_child(name)

    def new_longest_running_processor_seconds_metric(self, name: str) -> SettableGaugeMetric:
        return self._longest_running.new_child(name)

    def new_retries_metric(self, name: str) -> CounterMetric:
        return self._retries.new_child(name)


#: The provider named queues use unless given one or :func:`~.metrics.set_provider` is called.
DEFAULT_PROVIDER: MetricsProvider = PrometheusMetricsProvider(REGISTRY)
set_default_provider(DEFAULT_PROVIDER)

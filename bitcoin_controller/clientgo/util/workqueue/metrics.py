"""Work queue metrics, mirroring ``util/workqueue/metrics.go`` plus the
Prometheus provider that ``k8s.io/component-base/metrics/prometheus/workqueue``
registers.

client-go keeps the queue independent of any metrics library through a seam:

* a :class:`MetricsProvider` hands a queue, by its *name*, one metric for
  each of seven measurements (depth, adds, queue latency, work duration,
  unfinished work, longest running processor, retries);
* a process-wide provider is chosen once with :func:`set_provider` (the first
  call wins, later calls are ignored) so that every queue built afterwards
  reports to the same place;
* a queue may instead be given its own provider (Go's
  ``QueueConfig.MetricsProvider``), which is how tests scrape a private
  registry.

Go's default global provider is a no-op and the Prometheus one only appears
when a binary imports component-base.  This package behaves as if that
import had happened: until :func:`set_provider` is called, named queues
report to :data:`DEFAULT_PROVIDER`, a :class:`PrometheusMetricsProvider` on
the module-level :data:`REGISTRY` that the controller's ``/metrics`` endpoint
serves.  Queues without a name never record anything, whatever the provider.

The queue updates its metrics, and the bookkeeping behind them
(:class:`QueueMetrics`), only while holding its own lock -- the same design as
Go, where the ``defaultQueueMetrics`` maps are guarded by the queue's mutex.
That is what lets :class:`PrometheusMetricsProvider` hand out lock-free
metrics and keep a named queue within reach of the standard library's
``queue.Queue`` in throughput.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ....utils.clock import Clock, RealClock

__all__ = [
    "CounterMetric",
    "DEFAULT_PROVIDER",
    "DURATION_BUCKETS",
    "GaugeMetric",
    "HistogramMetric",
    "MetricsProvider",
    "NoopMetricsProvider",
    "PrometheusMetricsProvider",
    "QueueMetrics",
    "REGISTRY",
    "SettableGaugeMetric",
    "UNFINISHED_WORK_UPDATE_PERIOD",
    "get_provider",
    "new_queue_metrics",
    "new_retry_metric",
    "set_provider",
]

# How often a named queue refreshes its unfinished-work gauges (Go's
# ``defaultUnfinishedWorkUpdatePeriod``).  Those gauges describe items that are
# still being processed, which nothing else would ever update.
UNFINISHED_WORK_UPDATE_PERIOD = 0.5

# Histogram buckets for both duration metrics: Prometheus'
# ExponentialBuckets(10e-9, 10, 10), written out so the ``le`` labels are the
# exact decimal values rather than products of float multiplication.
DURATION_BUCKETS = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

_LABELS = ("name",)


# --- the metric shapes a provider hands out ------------------------------------
class GaugeMetric(Protocol):
    """A gauge that goes up and down (Go's ``workqueue.GaugeMetric``): queue depth."""

    def inc(self) -> None: ...

    def dec(self) -> None: ...


class SettableGaugeMetric(Protocol):
    """A gauge set to an absolute value (Go's ``SettableGaugeMetric``)."""

    def set(self, value: float) -> None: ...


class CounterMetric(Protocol):
    """A monotonically increasing count (Go's ``CounterMetric``)."""

    def inc(self) -> None: ...


class HistogramMetric(Protocol):
    """A distribution of observations (Go's ``HistogramMetric``)."""

    def observe(self, value: float) -> None: ...


class MetricsProvider(ABC):
    """Factory of per-queue metrics (Go's ``workqueue.MetricsProvider``).

    Each method receives the queue's name and returns the metric that queue
    must update.  Keeping the queue ignorant of Prometheus is what lets a
    process choose its metrics backend (or none) in one place.

    Contract: a queue calls each method once, when it is built, and then
    updates the returned metrics only while holding its own lock.  A
    provider may therefore return metrics that are not thread-safe, provided
    it never gives the same object to two queues.
    """

    @abstractmethod
    def new_depth_metric(self, name: str) -> GaugeMetric:
        """Gauge of items waiting in the queue (added, not yet handed out)."""

    @abstractmethod
    def new_adds_metric(self, name: str) -> CounterMetric:
        """Counter of adds that made an item dirty (duplicates are not counted)."""

    @abstractmethod
    def new_latency_metric(self, name: str) -> HistogramMetric:
        """Histogram of seconds an item waited between add and get."""

    @abstractmethod
    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        """Histogram of seconds between get and done."""

    @abstractmethod
    def new_unfinished_work_seconds_metric(self, name: str) -> SettableGaugeMetric:
        """Gauge of the summed age of all in-flight items (stuck workers show here)."""

    @abstractmethod
    def new_longest_running_processor_seconds_metric(self, name: str) -> SettableGaugeMetric:
        """Gauge of the age of the oldest in-flight item."""

    @abstractmethod
    def new_retries_metric(self, name: str) -> CounterMetric:
        """Counter of delayed (retry) adds, i.e. calls to ``add_after``."""


class _NoopMetric:
    """Accepts every metric call and does nothing (Go's ``noopMetric``)."""

    __slots__ = ()

    def inc(self) -> None:
        pass

    def dec(self) -> None:
        pass

    def set(self, value: float) -> None:
        pass

    def observe(self, value: float) -> None:
        pass


_NOOP_METRIC = _NoopMetric()


class NoopMetricsProvider(MetricsProvider):
    """A provider whose metrics record nothing (Go's ``noopMetricsProvider``).

    A queue built with it skips the bookkeeping and the unfinished-work
    updater thread entirely, exactly as an unnamed queue does.
    """

    def new_depth_metric(self, name: str) -> GaugeMetric:
        return _NOOP_METRIC

    def new_adds_metric(self, name: str) -> CounterMetric:
        return _NOOP_METRIC

    def new_latency_metric(self, name: str) -> HistogramMetric:
        return _NOOP_METRIC

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        return _NOOP_METRIC

    def new_unfinished_work_seconds_metric(self, name: str) -> SettableGaugeMetric:
        return _NOOP_METRIC

    def new_longest_running_processor_seconds_metric(self, name: str) -> SettableGaugeMetric:
        return _NOOP_METRIC

    def new_retries_metric(self, name: str) -> CounterMetric:
        return _NOOP_METRIC


# --- the Prometheus provider (component-base's metrics/prometheus/workqueue) ---
#
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


# The registry the process's /metrics endpoint serves for work queues.
REGISTRY = CollectorRegistry(auto_describe=True)
DEFAULT_PROVIDER: MetricsProvider = PrometheusMetricsProvider(REGISTRY)


# --- the process-wide provider -------------------------------------------------
class _GlobalMetricsFactory:
    """Holds the process-wide provider (Go's ``globalMetricsFactory``).

    Only the first :meth:`set_provider` call takes effect, mirroring Go's
    ``sync.Once``: a library cannot silently re-route metrics of queues that
    the application already configured.
    """

    def __init__(self, default: MetricsProvider) -> None:
        self._lock = threading.Lock()
        self._default = default
        self._provider: MetricsProvider | None = None

    def set_provider(self, provider: MetricsProvider) -> None:
        with self._lock:
            if self._provider is None:
                self._provider = provider

    def get_provider(self) -> MetricsProvider:
        with self._lock:
            return self._default if self._provider is None else self._provider


_global_factory = _GlobalMetricsFactory(DEFAULT_PROVIDER)


def set_provider(provider: MetricsProvider) -> None:
    """Choose the provider for queues created from now on (Go's ``SetProvider``).

    The first call wins; later calls are ignored.  Queues that were created
    earlier keep the metrics they already have.
    """
    _global_factory.set_provider(provider)


def get_provider() -> MetricsProvider:
    """The provider a queue uses when it is not given one explicitly."""
    return _global_factory.get_provider()


# --- the queue-side bookkeeping --------------------------------------------------
class QueueMetrics:
    """Turns queue events into metric updates (Go's ``defaultQueueMetrics``).

    It remembers when each item was first added (for queue latency) and when
    its processing started (for work duration and the unfinished-work
    gauges).  The queue calls it with the queue lock held, which is also
    what serialises the updates of the metrics it holds.
    """

    __slots__ = (
        "_now", "_depth", "_adds", "_latency", "_work_duration",
        "_unfinished_work", "_longest_running", "_add_times", "_processing_start_times",
    )

    enabled = True

    def __init__(self, name: str, clock: Clock, provider: MetricsProvider) -> None:
        # RealClock.now() is time.monotonic(); calling the latter directly
        # saves a Python call on each of the three clock reads per item.
        self._now = time.monotonic if type(clock) is RealClock else clock.now
        self._depth = provider.new_depth_metric(name)
        self._adds = provider.new_adds_metric(name)
        self._latency = provider.new_latency_metric(name)
        self._work_duration = provider.new_work_duration_metric(name)
        self._unfinished_work = provider.new_unfinished_work_seconds_metric(name)
        self._longest_running = provider.new_longest_running_processor_seconds_metric(name)
        self._add_times: dict[Hashable, float] = {}
        self._processing_start_times: dict[Hashable, float] = {}

    def add(self, item: Hashable) -> None:
        """An item became dirty: count it and start its queue-latency clock."""
        self._adds.inc()
        self._depth.inc()
        # setdefault keeps the *first* add time: latency is measured from the
        # moment the item first needed work, not from its latest duplicate.
        self._add_times.setdefault(item, self._now())

    def get(self, item: Hashable) -> None:
        """An item was handed to a worker: observe how long it waited."""
        self._depth.dec()
        now = self._now()
        self._processing_start_times[item] = now
        start = self._add_times.pop(item, None)
        if start is not None:
            self._latency.observe(now - start)

    def done(self, item: Hashable) -> None:
        """A worker finished an item: observe how long the work took."""
        start = self._processing_start_times.pop(item, None)
        if start is not None:
            self._work_duration.observe(self._now() - start)

    def update_unfinished_work(self) -> None:
        """Refresh the gauges about items still being processed."""
        now = self._now()
        total = 0.0
        oldest = 0.0
        for start in self._processing_start_times.values():
            age = now - start
            total += age
            if age > oldest:
                oldest = age
        self._unfinished_work.set(total)
        self._longest_running.set(oldest)

    def stop(self) -> None:
        """Zero the unfinished-work gauges once the queue stops updating them.

        Go leaves them at their last value; here queues sharing a name are
        added up at scrape time, so a stopped queue's frozen value would
        otherwise inflate a successor's forever.
        """
        self._unfinished_work.set(0.0)
        self._longest_running.set(0.0)


class _NoQueueMetrics:
    """Bookkeeping that records nothing (Go's ``noMetrics``), for unnamed queues."""

    __slots__ = ()

    enabled = False

    def add(self, item: Hashable) -> None:
        pass

    def get(self, item: Hashable) -> None:
        pass

    def done(self, item: Hashable) -> None:
        pass

    def update_unfinished_work(self) -> None:
        pass

    def stop(self) -> None:
        pass


_NO_QUEUE_METRICS = _NoQueueMetrics()


def new_queue_metrics(
    name: str, clock: Clock, provider: MetricsProvider | None = None
) -> QueueMetrics | _NoQueueMetrics:
    """Bookkeeping for one queue (Go's ``queueMetricsFactory.newQueueMetrics``).

    Unnamed queues and no-op providers get an object that records nothing, so
    anonymous helper queues cost no metric updates and never pollute the
    exposition with an empty ``name`` label.
    """
    if provider is None:
        provider = get_provider()
    if not name or isinstance(provider, NoopMetricsProvider):
        return _NO_QUEUE_METRICS
    return QueueMetrics(name, clock, provider)


def new_retry_metric(name: str, provider: MetricsProvider | None = None) -> CounterMetric:
    """The retries counter of a delaying queue (Go's ``newRetryMetrics``); no-op if unnamed."""
    if provider is None:
        provider = get_provider()
    if not name:
        return _NOOP_METRIC
    return provider.new_retries_metric(name)

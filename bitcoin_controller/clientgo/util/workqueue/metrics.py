"""Work queue metrics, mirroring ``util/workqueue/metrics.go`` plus the
Prometheus provider that ``k8s.io/component-base/metrics/prometheus/workqueue``
registers.

client-go keeps the queue independent of any metrics library through a seam:

* a :class:`MetricsProvider` hands out one metric per queue *name* for each
  of seven measurements (depth, adds, queue latency, work duration,
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

The queue-side bookkeeping (:class:`QueueMetrics`) is called by the queue
with its own lock held, so it needs no lock of its own -- the same design as
Go, where the ``defaultQueueMetrics`` maps are guarded by the queue's mutex.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ....utils.clock import Clock

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

_SUBSYSTEM = "workqueue"
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


class PrometheusMetricsProvider(MetricsProvider):
    """Prometheus metrics with component-base's names, label and buckets.

    Mirrors ``component-base/metrics/prometheus/workqueue``: one metric family
    per measurement, registered once on ``registry``, with the single label
    ``name`` carrying the queue name; each ``new_*`` call returns that
    family's child for one queue.  Counters are declared without ``_total``
    because ``prometheus_client`` appends it, so the exposed names match Go's
    (``workqueue_adds_total``, ``workqueue_retries_total``).

    A registry can hold only one provider: a second one on the same registry
    would register duplicate families and ``prometheus_client`` refuses that.
    Tests therefore build their own ``CollectorRegistry`` and provider.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        reg = self.registry
        self._depth = Gauge(
            "depth", "Number of items currently waiting in the workqueue.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg,
        )
        self._adds = Counter(
            "adds", "Number of adds the workqueue has handled.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg,
        )
        self._latency = Histogram(
            "queue_duration_seconds",
            "Seconds an item spends in the workqueue before a worker gets it.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg, buckets=DURATION_BUCKETS,
        )
        self._work_duration = Histogram(
            "work_duration_seconds",
            "Seconds a worker spends processing an item taken from the workqueue.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg, buckets=DURATION_BUCKETS,
        )
        self._unfinished_work = Gauge(
            "unfinished_work_seconds",
            "Summed age in seconds of the items being processed but not yet done; "
            "a large or steadily growing value points at stuck workers.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg,
        )
        self._longest_running = Gauge(
            "longest_running_processor_seconds",
            "Age in seconds of the item that has been in processing the longest.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg,
        )
        self._retries = Counter(
            "retries", "Number of delayed re-adds (retries) the workqueue has handled.",
            _LABELS, subsystem=_SUBSYSTEM, registry=reg,
        )

    def new_depth_metric(self, name: str) -> GaugeMetric:
        return self._depth.labels(name)

    def new_adds_metric(self, name: str) -> CounterMetric:
        return self._adds.labels(name)

    def new_latency_metric(self, name: str) -> HistogramMetric:
        return self._latency.labels(name)

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        return self._work_duration.labels(name)

    def new_unfinished_work_seconds_metric(self, name: str) -> SettableGaugeMetric:
        return self._unfinished_work.labels(name)

    def new_longest_running_processor_seconds_metric(self, name: str) -> SettableGaugeMetric:
        return self._longest_running.labels(name)

    def new_retries_metric(self, name: str) -> CounterMetric:
        return self._retries.labels(name)


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
    gauges).  The queue calls it with the queue lock held.
    """

    __slots__ = (
        "_now", "_depth", "_adds", "_latency", "_work_duration",
        "_unfinished_work", "_longest_running", "_add_times", "_processing_start_times",
    )

    enabled = True

    def __init__(self, name: str, clock: Clock, provider: MetricsProvider) -> None:
        self._now = clock.now
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

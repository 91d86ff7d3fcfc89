"""Work queue metrics, mirroring ``k8s.io/client-go/util/workqueue/metrics.go``.

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
import had happened: the package imports :mod:`.prometheus`, which makes its
``DEFAULT_PROVIDER`` (a ``PrometheusMetricsProvider`` on the process-wide
:data:`~bitcoin_controller.componentbase.metrics.legacyregistry.REGISTRY`)
the default with :func:`set_default_provider`; until :func:`set_provider` is
called, named queues report there.  Queues without a name never record
anything, whatever the provider.

The queue updates its metrics, and the bookkeeping behind them
(:class:`QueueMetrics`), only while holding its own lock -- the same design as
Go, where the ``defaultQueueMetrics`` maps are guarded by the queue's mutex.
That is what lets the Prometheus provider hand out lock-free metrics.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Protocol

# The registry lives in componentbase.metrics.legacyregistry; the name stays
# importable here (not in __all__) for code written against the old place.
from ....componentbase.metrics.legacyregistry import REGISTRY  # noqa: F401
from ....utils.clock import Clock, RealClock

__all__ = [
    "CounterMetric",
    "GaugeMetric",
    "HistogramMetric",
    "MetricsProvider",
    "NoopMetricsProvider",
    "QueueMetrics",
    "SettableGaugeMetric",
    "UNFINISHED_WORK_UPDATE_PERIOD",
    "get_provider",
    "new_queue_metrics",
    "new_retry_metric",
    "set_default_provider",
    "set_provider",
]

# How often a named queue refreshes its unfinished-work gauges (Go's
# ``defaultUnfinishedWorkUpdatePeriod``).  Those gauges describe items that are
# still being processed, which nothing else would ever update.
UNFINISHED_WORK_UPDATE_PERIOD = 0.5

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

    def set_default(self, provider: MetricsProvider) -> None:
        with self._lock:
            self._default = provider

    def get_provider(self) -> MetricsProvider:
        with self._lock:
            return self._default if self._provider is None else self._provider


# Go's default; importing .prometheus (the package does) replaces it.
_global_factory = _GlobalMetricsFactory(NoopMetricsProvider())


def set_provider(provider: MetricsProvider) -> None:
    """Choose the provider for queues created from now on (Go's ``SetProvider``).

    The first call wins; later calls are ignored.  Queues that were created
    earlier keep the metrics they already have.
    """
    _global_factory.set_provider(provider)


def set_default_provider(provider: MetricsProvider) -> None:
    """The provider used until :func:`set_provider` chooses one.

    What importing component-base's Prometheus workqueue package does in Go,
    except that it does not spend :func:`set_provider`'s one call, so an
    application can still choose its own provider.
    """
    _global_factory.set_default(provider)


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

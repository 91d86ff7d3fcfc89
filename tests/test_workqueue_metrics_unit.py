"""Unit tests of work queue metrics (client-go ``util/workqueue/metrics.go`` and
component-base ``metrics/prometheus/workqueue``), scraped from a private registry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from waiting import wait_for

from bitcoin_controller.clientgo.util.workqueue import (
    DEFAULT_PROVIDER,
    DURATION_BUCKETS,
    DelayingQueue,
    MetricsProvider,
    NoopMetricsProvider,
    PrometheusMetricsProvider,
    Queue,
    RateLimitingQueue,
    get_provider,
)
from bitcoin_controller.clientgo.util.workqueue import metrics as metrics_module
from bitcoin_controller.clientgo.util.workqueue.default_rate_limiters import (
    ItemFastSlowRateLimiter,
)
from bitcoin_controller.componentbase.metrics.legacyregistry import REGISTRY
from bitcoin_controller.utils.clock import FakeClock

NAME = "unit-queue"
EXPECTED_LE = [
    "1e-08", "1e-07", "1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "1.0", "10.0", "+Inf",
]



@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def provider(registry):
    return PrometheusMetricsProvider(registry)


@pytest.fixture
def clock():
    return FakeClock()


def sample(registry, metric, name=NAME, **labels):
    return registry.get_sample_value(metric, {"name": name, **labels})


def exposition(registry) -> str:
    return generate_latest(registry).decode()


class RecordingProvider(MetricsProvider):
    """Counts how often a queue asks for metrics."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._noop = NoopMetricsProvider()

    def _record(self, kind, name):
        self.calls.append((kind, name))
        return getattr(self._noop, f"new_{kind}_metric")(name)

    def new_depth_metric(self, name):
        return self._record("depth", name)

    def new_adds_metric(self, name):
        return self._record("adds", name)

    def new_latency_metric(self, name):
        return self._record("latency", name)

    def new_work_duration_metric(self, name):
        return self._record("work_duration", name)

    def new_unfinished_work_seconds_metric(self, name):
        return self._record("unfinished_work_seconds", name)

    def new_longest_running_processor_seconds_metric(self, name):
        return self._record("longest_running_processor_seconds", name)

    def new_retries_metric(self, name):
        return self._record("retries", name)


# --- names, types, labels, buckets --------------------------------------------------
def test_metric_names_types_and_single_name_label_unit(registry, provider, clock):
    q = DelayingQueue(name=NAME, clock=clock, metrics_provider=provider)
    try:
        q.add("a")
        item, _ = q.get()
        q.done(item)
        q.add_after("b", 0)
        text = exposition(registry)
    finally:
        q.shut_down()

    types = {
        line.split()[2]: line.split()[3]
        for line in text.splitlines()
        if line.startswith("# TYPE ")
    }
    assert types == {
        "workqueue_depth": "gauge",
        "workqueue_adds_total": "counter",
        "workqueue_queue_duration_seconds": "histogram",
        "workqueue_work_duration_seconds": "histogram",
        "workqueue_unfinished_work_seconds": "gauge",
        "workqueue_longest_running_processor_seconds": "gauge",
        "workqueue_retries_total": "counter",
    }
    for family in registry.collect():
        for s in family.samples:
            assert not s.name.endswith("_created")  # Go exports no such series
            expected = {"name", "le"} if s.name.endswith("_bucket") else {"name"}
            assert set(s.labels) == expected, s
            assert s.labels["name"] == NAME


def test_duration_histograms_use_component_base_buckets_unit(registry, provider, clock):
    q = Queue(name=NAME, clock=clock, metrics_provider=provider)
    try:
        q.add("a")
        q.get()
        q.done("a")
    finally:
        q.shut_down()
    # ExponentialBuckets(10e-9, 10, 10)
    assert pytest.approx([10e-9 * 10**i for i in range(10)]) == DURATION_BUCKETS
    for metric in ("workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"):
        les = [
            s.labels["le"]
            for family in registry.collect()
            for s in family.samples
            if s.name == f"{metric}_bucket"
        ]
        assert les == EXPECTED_LE


def test_histogram_bounds_are_inclusive_unit(registry, provider):
    histogram = provider.new_latency_metric(NAME)
    histogram.observe(1e-8)  # exactly on the first bound
    histogram.observe(10.0)  # exactly on the last finite bound
    histogram.observe(11.0)  # only in +Inf
    metric = "workqueue_queue_duration_seconds_bucket"
    assert sample(registry, metric, le="1e-08") == 1
    assert sample(registry, metric, le="1.0") == 1
    assert sample(registry, metric, le="10.0") == 2
    assert sample(registry, metric, le="+Inf") == 3
    assert sample(registry, "workqueue_queue_duration_seconds_count") == 3
    assert sample(registry, "workqueue_queue_duration_seconds_sum") == pytest.approx(21.00000001)


# --- values ------------------------------------------------------------------------------
def test_values_after_add_get_done_unit(registry, provider, clock):
    q = Queue(name=NAME, clock=clock, metrics_provider=provider)
    try:
        q.add("a")
        q.add("b")
        q.add("a")  # duplicate: not an add
        assert sample(registry, "workqueue_adds_total") == 2
        assert sample(registry, "workqueue_depth") == 2

        clock.step(2)
        item, _ = q.get()
        assert sample(registry, "workqueue_depth") == 1
        assert sample(registry, "workqueue_queue_duration_seconds_count") == 1
        assert sample(registry, "workqueue_queue_duration_seconds_sum") == pytest.approx(2)
        latency = "workqueue_queue_duration_seconds_bucket"
        assert sample(registry, latency, le="1.0") == 0
        assert sample(registry, latency, le="10.0") == 1

        clock.step(3)
        q.done(item)
        assert sample(registry, "workqueue_work_duration_seconds_count") == 1
        assert sample(registry, "workqueue_work_duration_seconds_sum") == pytest.approx(3)
        # Only delaying queues have a retries counter.
        assert sample(registry, "workqueue_retries_total") is None
    finally:
        q.shut_down()


def test_depth_counts_an_item_readded_while_processing_unit(registry, provider, clock):
    q = Queue(name=NAME, clock=clock, metrics_provider=provider)
    try:
        q.add("a")
        item, _ = q.get()
        assert sample(registry, "workqueue_depth") == 0
        q.add("a")  # dirty again while processing: counted as an add, like Go
        assert sample(registry, "workqueue_adds_total") == 2
        assert sample(registry, "workqueue_depth") == 1
        clock.step(1)
        q.done(item)
        q.get()
        assert sample(registry, "workqueue_depth") == 0
        # Latency of the second pass runs from the re-add, not the first add.
        assert sample(registry, "workqueue_queue_duration_seconds_sum") == pytest.approx(1)
    finally:
        q.shut_down()


def test_retries_count_add_after_calls_unit(registry, provider, clock):
    q = RateLimitingQueue(
        ItemFastSlowRateLimiter(0.0, 0.0, 1), name=NAME, clock=clock, metrics_provider=provider
    )
    try:
        q.add_after("a", 0)
        q.add_after("b", 30)
        q.add_rate_limited("c")
        assert sample(registry, "workqueue_retries_total") == 3
        q.shut_down()
        q.add_after("d", 0)  # ignored after shutdown, not counted
        assert sample(registry, "workqueue_retries_total") == 3
    finally:
        q.shut_down()


@pytest.mark.timeout(30)
def test_unfinished_work_gauges_update_every_half_second_unit(registry, provider, clock):
    q = Queue(name=NAME, clock=clock, metrics_provider=provider)
    unfinished = "workqueue_unfinished_work_seconds"
    longest = "workqueue_longest_running_processor_seconds"
    try:
        wait_for(clock.has_waiters)  # the updater is parked on the clock
        q.add("a")
        q.add("b")
        q.get()
        clock.step(0.5)
        wait_for(lambda: sample(registry, unfinished) == pytest.approx(0.5))
        assert sample(registry, longest) == pytest.approx(0.5)

        wait_for(clock.has_waiters)  # re-armed for the next tick
        q.get()
        clock.step(0.5)
        # "a" is 1.0 s old, "b" 0.5 s: the sum and the maximum.
        wait_for(lambda: sample(registry, unfinished) == pytest.approx(1.5))
        assert sample(registry, longest) == pytest.approx(1.0)
    finally:
        q.shut_down()
    # Shutdown stops the updater (nothing left on the clock) and zeroes the gauges.
    wait_for(lambda: sample(registry, unfinished) == 0 and sample(registry, longest) == 0)
    wait_for(lambda: clock.waiter_count() == 0)


# --- no name, no metrics ------------------------------------------------------------------
def test_unnamed_queues_record_nothing_unit(registry, provider, clock):
    recording = RecordingProvider()
    queues = [
        Queue(clock=clock, metrics_provider=recording),
        DelayingQueue(clock=clock, metrics_provider=recording),
        RateLimitingQueue(
            ItemFastSlowRateLimiter(0.0, 0.0, 1), clock=clock, metrics_provider=provider
        ),
    ]
    try:
        for q in queues:
            q.add("a")
            item, _ = q.get()
            q.done(item)
            if isinstance(q, DelayingQueue):
                q.add_after("b", 0)
        assert recording.calls == []
        assert [s for family in registry.collect() for s in family.samples] == []
    finally:
        for q in queues:
            q.shut_down()


def test_unnamed_queue_starts_no_updater_unit(clock):
    q = Queue(clock=clock, metrics_provider=RecordingProvider())
    try:
        assert not clock.has_waiters()
    finally:
        q.shut_down()


def test_noop_provider_starts_no_updater_even_for_a_named_queue_unit(clock):
    q = Queue(name=NAME, clock=clock, metrics_provider=NoopMetricsProvider())
    try:
        q.add("a")
        q.get()
        assert not clock.has_waiters()
    finally:
        q.shut_down()


def test_named_queue_asks_the_provider_for_each_metric_once_unit(clock):
    recording = RecordingProvider()
    q = DelayingQueue(name=NAME, clock=clock, metrics_provider=recording)
    q.shut_down()
    assert sorted(recording.calls) == sorted(
        (kind, NAME)
        for kind in (
            "depth", "adds", "latency", "work_duration", "unfinished_work_seconds",
            "longest_running_processor_seconds", "retries",
        )
    )


# --- provider plumbing --------------------------------------------------------------------
def test_queues_sharing_a_name_are_combined_at_scrape_unit(registry, provider):
    for child in (provider.new_adds_metric("shared"), provider.new_adds_metric("shared")):
        child.inc()
    unfinished = [provider.new_unfinished_work_seconds_metric("shared") for _ in range(2)]
    longest = [provider.new_longest_running_processor_seconds_metric("shared") for _ in range(2)]
    for gauge, value in zip(unfinished, (2.0, 5.0), strict=True):
        gauge.set(value)
    for gauge, value in zip(longest, (2.0, 5.0), strict=True):
        gauge.set(value)
    assert sample(registry, "workqueue_adds_total", name="shared") == 2
    assert sample(registry, "workqueue_unfinished_work_seconds", name="shared") == 7
    assert sample(registry, "workqueue_longest_running_processor_seconds", name="shared") == 5


def test_one_provider_per_registry_unit(registry, provider):
    with pytest.raises(ValueError):
        PrometheusMetricsProvider(registry)


def test_set_provider_first_call_wins_unit():
    default, first, second = NoopMetricsProvider(), NoopMetricsProvider(), NoopMetricsProvider()
    factory = metrics_module._GlobalMetricsFactory(default)
    assert factory.get_provider() is default
    factory.set_provider(first)
    factory.set_provider(second)
    assert factory.get_provider() is first


def test_default_provider_reports_to_the_module_registry_unit():
    # Nothing in the unit tests calls set_provider, so the default applies.
    assert get_provider() is DEFAULT_PROVIDER
    assert DEFAULT_PROVIDER.registry is REGISTRY
    name = "unit-test-default-registry"
    q = Queue(name=name, clock=FakeClock())
    try:
        q.add("a")
        assert REGISTRY.get_sample_value("workqueue_adds_total", {"name": name}) == 1
    finally:
        q.shut_down()

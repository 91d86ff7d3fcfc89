"""Unit tests of the rate limiters and the rate-limiting queue
(client-go ``util/workqueue/default_rate_limiters.go`` and ``rate_limiting_queue.go``)."""

from __future__ import annotations

import math

import pytest

from bitcoin_controller.clientgo.util.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    RateLimitingInterface,
    RateLimitingQueue,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
    default_item_based_rate_limiter,
    new_named_rate_limiting_queue,
)
from bitcoin_controller.clientgo.util.workqueue.metrics import NoopMetricsProvider
from bitcoin_controller.utils.clock import FakeClock


class RecordingLimiter(RateLimiter):
    """A limiter returning a fixed delay and recording every call."""

    def __init__(self, delay: float, requeues: int = 0) -> None:
        self.delay = delay
        self.requeues = requeues
        self.when_calls: list[object] = []
        self.forget_calls: list[object] = []

    def when(self, item):
        self.when_calls.append(item)
        return self.delay

    def forget(self, item):
        self.forget_calls.append(item)

    def num_requeues(self, item):
        return self.requeues


# --- ItemExponentialFailureRateLimiter ----------------------------------------
def test_exponential_doubles_from_base_delay_unit():
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [limiter.when("a") for _ in range(5)]
    assert delays == pytest.approx([0.005, 0.010, 0.020, 0.040, 0.080])
    assert limiter.num_requeues("a") == 5


def test_exponential_reaches_the_cap_on_the_19th_failure_unit():
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [limiter.when("a") for _ in range(30)]
    assert delays[17] == pytest.approx(655.36)  # 0.005 * 2**17, still below the cap
    assert delays[18] == 1000.0  # 0.005 * 2**18 = 1310.72 s > 1000 s
    assert delays[18:] == [1000.0] * 12


def test_exponential_overflow_returns_max_delay_unit():
    limiter = ItemExponentialFailureRateLimiter(1.0, 3600.0)
    for _ in range(1100):  # 2.0 ** 1024 overflows a float
        delay = limiter.when("a")
    assert delay == 3600.0
    huge_base = ItemExponentialFailureRateLimiter(1e300, 1e308)
    assert [huge_base.when("b") for _ in range(40)][-1] == 1e308  # product is inf


def test_exponential_tracks_items_independently_and_forget_resets_unit():
    limiter = ItemExponentialFailureRateLimiter(0.001, 1.0)
    limiter.when("a")
    limiter.when("a")
    assert limiter.when("b") == pytest.approx(0.001)
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == pytest.approx(0.001)
    assert limiter.num_requeues("b") == 1
    limiter.forget("never-seen")  # harmless


def test_default_item_based_rate_limiter_is_exponential_1ms_to_1000s_unit():
    limiter = default_item_based_rate_limiter()
    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.001, 0.002, 0.004])
    assert [limiter.when("a") for _ in range(30)][-1] == 1000.0


# --- ItemFastSlowRateLimiter -----------------------------------------------------
def test_fast_slow_switches_after_max_fast_attempts_unit():
    limiter = ItemFastSlowRateLimiter(0.005, 10.0, 3)
    assert [limiter.when("a") for _ in range(5)] == [0.005, 0.005, 0.005, 10.0, 10.0]
    assert limiter.num_requeues("a") == 5
    assert limiter.when("b") == 0.005
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005


# --- BucketRateLimiter --------------------------------------------------------------
def test_bucket_starts_full_then_spaces_calls_at_qps_unit():
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=100, clock=clock)
    assert [limiter.when(i) for i in range(100)] == [0.0] * 100
    assert limiter.when(100) == pytest.approx(0.1)  # the 101st call waits 0.1 s
    assert limiter.when(101) == pytest.approx(0.2)  # tokens are reserved, queueing up


def test_bucket_refills_with_time_up_to_burst_unit():
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=100, clock=clock)
    for i in range(102):
        limiter.when(i)  # balance is now -2 tokens
    clock.step(0.1)  # +1 token -> -1, the next reservation waits for 2 tokens
    assert limiter.when("x") == pytest.approx(0.2)
    clock.step(1000)  # refill far beyond the burst: capped at 100
    assert [limiter.when(i) for i in range(100)] == [0.0] * 100
    assert limiter.when("y") == pytest.approx(0.1)


def test_bucket_is_shared_by_all_items_and_tracks_no_item_unit():
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=1, burst=1, clock=clock)
    assert limiter.when("a") == 0.0
    assert limiter.when("b") == pytest.approx(1.0)
    assert limiter.num_requeues("a") == 0
    limiter.forget("a")  # no-op: tokens are not given back
    assert limiter.when("a") == pytest.approx(2.0)


def test_bucket_edge_cases_follow_x_time_rate_unit():
    clock = FakeClock()
    assert BucketRateLimiter(qps=math.inf, burst=0, clock=clock).when("a") == 0.0
    assert BucketRateLimiter(qps=10, burst=0, clock=clock).when("a") == math.inf
    zero_rate = BucketRateLimiter(qps=0, burst=2, clock=clock)
    assert [zero_rate.when("a") for _ in range(3)] == [0.0, 0.0, math.inf]


# --- MaxOf / WithMaxWait / default controller ------------------------------------------
def test_max_of_asks_every_limiter_and_returns_the_longest_unit():
    short, long_, middle = RecordingLimiter(0.1), RecordingLimiter(5.0), RecordingLimiter(1.0)
    limiter = MaxOfRateLimiter(short, long_, middle)
    assert limiter.when("a") == 5.0
    # Every limiter saw the call, so each one updated its own state.
    assert short.when_calls == long_.when_calls == middle.when_calls == ["a"]


def test_max_of_forgets_on_all_and_reports_max_requeues_unit():
    first, second = RecordingLimiter(0, requeues=2), RecordingLimiter(0, requeues=7)
    limiter = MaxOfRateLimiter(first, second)
    assert limiter.num_requeues("a") == 7
    limiter.forget("a")
    assert first.forget_calls == second.forget_calls == ["a"]


def test_max_of_real_limiters_all_advance_unit():
    exponential = ItemExponentialFailureRateLimiter(0.001, 1.0)
    fast_slow = ItemFastSlowRateLimiter(0.0, 2.0, 1)
    limiter = MaxOfRateLimiter(exponential, fast_slow)
    assert limiter.when("a") == pytest.approx(0.001)
    assert limiter.when("a") == 2.0
    assert exponential.num_requeues("a") == fast_slow.num_requeues("a") == 2
    limiter.forget("a")
    assert exponential.num_requeues("a") == fast_slow.num_requeues("a") == 0


def test_with_max_wait_caps_the_delay_and_delegates_unit():
    inner = RecordingLimiter(30.0, requeues=4)
    limiter = WithMaxWaitRateLimiter(inner, 10.0)
    assert limiter.when("a") == 10.0
    inner.delay = 3.0
    assert limiter.when("a") == 3.0
    assert limiter.num_requeues("a") == 4
    limiter.forget("a")
    assert inner.forget_calls == ["a"]


def test_default_controller_rate_limiter_combines_exponential_and_bucket_unit():
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock=clock)
    assert limiter.when("hot") == pytest.approx(0.005)
    assert limiter.when("hot") == pytest.approx(0.010)
    for i in range(98):  # the bucket started with 100 tokens; 2 are gone
        assert limiter.when(f"item-{i}") == pytest.approx(0.005)
    # The bucket is empty: the overall 10 qps limit now dominates.
    assert limiter.when("fresh") == pytest.approx(0.1)
    assert limiter.num_requeues("hot") == 2
    limiter.forget("hot")
    assert limiter.num_requeues("hot") == 0


# --- RateLimitingQueue -----------------------------------------------------------------
@pytest.fixture
def clock():
    return FakeClock()


def test_rate_limiting_queue_interface_and_named_constructor_unit():
    limiter = RecordingLimiter(0.0)
    q = new_named_rate_limiting_queue(limiter, "unit-test-rlq")
    try:
        assert isinstance(q, RateLimitingInterface)
        assert q.name == "unit-test-rlq"
        assert q.rate_limiter is limiter
    finally:
        q.shut_down()


class SpyQueue(RateLimitingQueue):
    """Records the delays handed to add_after (the delaying itself is tested elsewhere)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delays: list[tuple[object, float]] = []

    def add_after(self, item, seconds):
        self.delays.append((item, seconds))
        super().add_after(item, seconds)


def test_add_rate_limited_delays_by_the_limiter_unit(clock):
    q = SpyQueue(ItemExponentialFailureRateLimiter(1.0, 60.0), clock=clock)
    try:
        q.add_rate_limited("key")
        q.add_rate_limited("key")
        q.add_rate_limited("other")
        assert q.delays == [("key", 1.0), ("key", 2.0), ("other", 1.0)]
        assert q.num_requeues("key") == 2
        assert q.len() == 0  # nothing is due yet
    finally:
        q.shut_down()


def test_add_rate_limited_with_zero_delay_adds_at_once_unit(clock):
    q = RateLimitingQueue(RecordingLimiter(0.0), clock=clock)
    try:
        q.add_rate_limited("key")
        assert q.len() == 1
    finally:
        q.shut_down()


def test_forget_resets_backoff_but_leaves_the_queue_alone_unit(clock):
    limiter = ItemExponentialFailureRateLimiter(1.0, 60.0)
    q = RateLimitingQueue(limiter, clock=clock)
    try:
        q.add("key")
        limiter.when("key")
        limiter.when("key")
        q.forget("key")
        assert q.num_requeues("key") == 0
        assert q.len() == 1  # forget does not remove the item
    finally:
        q.shut_down()


def test_add_rate_limited_after_shutdown_still_consults_the_limiter_unit(clock):
    limiter = RecordingLimiter(0.0)
    q = RateLimitingQueue(limiter, clock=clock, metrics_provider=NoopMetricsProvider())
    q.shut_down()
    q.add_rate_limited("key")
    assert limiter.when_calls == ["key"]
    assert q.get() == (None, True)


def test_canonical_worker_loop_retries_then_forgets_unit(clock):
    """sample-controller's loop: done always, forget on success, rate-limited re-add on error."""
    # Zero delays keep the loop free of timing; the delays are tested above.
    q = RateLimitingQueue(ItemFastSlowRateLimiter(0.0, 0.0, 5), clock=clock)
    outcomes = iter([RuntimeError("boom"), RuntimeError("boom"), None])
    try:
        q.add("ns/name")
        requeues_seen = []
        for _ in range(3):
            key, shutdown = q.get()
            assert not shutdown
            try:
                error = next(outcomes)
            finally:
                q.done(key)
            if error is None:
                q.forget(key)
            else:
                q.add_rate_limited(key)
            requeues_seen.append(q.num_requeues(key))
        assert requeues_seen == [1, 2, 0]
        assert q.len() == 0
    finally:
        q.shut_down()

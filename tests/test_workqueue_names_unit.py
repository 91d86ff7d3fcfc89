"""client-go v0.31's workqueue names: the ``Typed`` types and constructors,
the untyped names as aliases, ``Len`` as ``len(queue)``."""

from __future__ import annotations

from bitcoin_controller.clientgo.util import workqueue
from bitcoin_controller.utils.clock import FakeClock


def test_untyped_names_are_aliases_of_the_typed_ones_unit():
    pairs = [
        (workqueue.Interface, workqueue.TypedInterface),
        (workqueue.Type, workqueue.Typed),
        (workqueue.Queue, workqueue.Typed),
        (workqueue.DelayingInterface, workqueue.TypedDelayingInterface),
        (workqueue.DelayingQueue, workqueue.TypedDelayingQueue),
        (workqueue.RateLimitingInterface, workqueue.TypedRateLimitingInterface),
        (workqueue.RateLimitingQueue, workqueue.TypedRateLimitingQueue),
        (workqueue.RateLimiter, workqueue.TypedRateLimiter),
        (workqueue.BucketRateLimiter, workqueue.TypedBucketRateLimiter),
        (workqueue.MaxOfRateLimiter, workqueue.TypedMaxOfRateLimiter),
        (workqueue.new_with_config, workqueue.new_typed_with_config),
        (workqueue.new_rate_limiting_queue_with_config, workqueue.new_typed_rate_limiting_queue_with_config),
        (workqueue.default_controller_rate_limiter, workqueue.default_typed_controller_rate_limiter),
    ]
    assert all(untyped is typed for untyped, typed in pairs)


def test_with_config_constructors_use_the_config_unit():
    clock = FakeClock()
    provider = workqueue.NoopMetricsProvider()
    q = workqueue.new_typed_rate_limiting_queue_with_config(
        workqueue.default_item_based_rate_limiter(),
        workqueue.TypedRateLimitingQueueConfig(name="cfg", metrics_provider=provider, clock=clock),
    )
    d = workqueue.new_delaying_queue_with_config(workqueue.DelayingQueueConfig(clock=clock))
    plain = workqueue.new()
    try:
        assert isinstance(q, workqueue.RateLimitingInterface)
        assert q.name == "cfg" and q._clock is clock
        q.add_rate_limited("a")  # 1 ms on the fake clock
        assert len(q) == 0
        clock.step(0.002)
        assert q.get() == ("a", False)
        d.add_after("b", 1.0)
        assert len(d) == 0
        plain.add("c")
        plain.add("c")
        assert len(plain) == plain.len() == 1
    finally:
        for queue in (q, d, plain):
            queue.shut_down()

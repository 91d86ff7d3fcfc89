"""Work queues, mirroring ``k8s.io/client-go/util/workqueue``.

* ``TypedInterface``, ``Typed``, ``NewTypedWithConfig``: :class:`TypedInterface`,
  :class:`Typed`, :func:`new_typed_with_config` (:mod:`.queue`);
* ``TypedDelayingInterface``, ``NewTypedDelayingQueueWithConfig``:
  :class:`TypedDelayingInterface`, :class:`TypedDelayingQueue`,
  :func:`new_typed_delaying_queue_with_config` (:mod:`.delaying_queue`);
* ``TypedRateLimitingInterface``, ``NewTypedRateLimitingQueueWithConfig``,
  ``NewNamedRateLimitingQueue``: :class:`TypedRateLimitingInterface`,
  :class:`TypedRateLimitingQueue`, :func:`new_typed_rate_limiting_queue_with_config`,
  :func:`new_named_rate_limiting_queue` (:mod:`.rate_limiting_queue`);
* ``TypedRateLimiter`` and the limiters, ``DefaultTypedControllerRateLimiter``
  (:mod:`.default_rate_limiters`);
* ``MetricsProvider``, ``SetProvider``: :class:`MetricsProvider`,
  :func:`set_provider` (:mod:`.metrics`); component-base's Prometheus provider:
  :class:`PrometheusMetricsProvider` (:mod:`.prometheus`).

A controller's handlers add ``"namespace/name"`` keys; workers ``get`` a key,
sync it, call ``done``, and then either ``forget`` it (success) or
``add_rate_limited`` it (failure).  The queue guarantees a key is never held
by two workers at once, collapses duplicate adds, and re-delivers a key that
was added again while a worker held it.  As in client-go v0.31 every type
and constructor has its ``Typed`` name (generic in the item type) and the
untyped one as an alias: ``RateLimitingQueue`` is ``TypedRateLimitingQueue``,
``new_rate_limiting_queue_with_config`` is
``new_typed_rate_limiting_queue_with_config``.  Go method names map to PEP 8
(``AddRateLimited`` -> ``add_rate_limited``; ``Len`` is ``len(queue)``, and
``queue.len()`` too), Go's
``(item, shutdown)`` result to a tuple and durations to float seconds.
"""

from .default_rate_limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    TypedBucketRateLimiter,
    TypedItemExponentialFailureRateLimiter,
    TypedItemFastSlowRateLimiter,
    TypedMaxOfRateLimiter,
    TypedRateLimiter,
    TypedWithMaxWaitRateLimiter,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
    default_item_based_rate_limiter,
    default_typed_controller_rate_limiter,
    default_typed_item_based_rate_limiter,
)
from .delaying_queue import (
    MAX_WAIT,
    DelayingInterface,
    DelayingQueue,
    DelayingQueueConfig,
    TypedDelayingInterface,
    TypedDelayingQueue,
    TypedDelayingQueueConfig,
    new_delaying_queue_with_config,
    new_typed_delaying_queue_with_config,
)
from .metrics import (
    UNFINISHED_WORK_UPDATE_PERIOD,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    MetricsProvider,
    NoopMetricsProvider,
    SettableGaugeMetric,
    get_provider,
    set_default_provider,
    set_provider,
)

# Imported for its effect too: it makes the Prometheus provider the default
# (component-base's init() in a Go binary).
from .prometheus import DEFAULT_PROVIDER, DURATION_BUCKETS, PrometheusMetricsProvider
from .queue import (
    Interface,
    Queue,
    QueueConfig,
    Type,
    Typed,
    TypedInterface,
    TypedQueueConfig,
    new,
    new_typed,
    new_typed_with_config,
    new_with_config,
)
from .rate_limiting_queue import (
    RateLimitingInterface,
    RateLimitingQueue,
    RateLimitingQueueConfig,
    TypedRateLimitingInterface,
    TypedRateLimitingQueue,
    TypedRateLimitingQueueConfig,
    new_named_rate_limiting_queue,
    new_rate_limiting_queue_with_config,
    new_typed_rate_limiting_queue_with_config,
)

__all__ = [
    "BucketRateLimiter",
    "CounterMetric",
    "DEFAULT_PROVIDER",
    "DURATION_BUCKETS",
    "DelayingInterface",
    "DelayingQueue",
    "DelayingQueueConfig",
    "GaugeMetric",
    "HistogramMetric",
    "Interface",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MAX_WAIT",
    "MaxOfRateLimiter",
    "MetricsProvider",
    "NoopMetricsProvider",
    "PrometheusMetricsProvider",
    "Queue",
    "QueueConfig",
    "RateLimiter",
    "RateLimitingInterface",
    "RateLimitingQueue",
    "RateLimitingQueueConfig",
    "SettableGaugeMetric",
    "Type",
    "Typed",
    "TypedBucketRateLimiter",
    "TypedDelayingInterface",
    "TypedDelayingQueue",
    "TypedDelayingQueueConfig",
    "TypedInterface",
    "TypedItemExponentialFailureRateLimiter",
    "TypedItemFastSlowRateLimiter",
    "TypedMaxOfRateLimiter",
    "TypedQueueConfig",
    "TypedRateLimiter",
    "TypedRateLimitingInterface",
    "TypedRateLimitingQueue",
    "TypedRateLimitingQueueConfig",
    "TypedWithMaxWaitRateLimiter",
    "UNFINISHED_WORK_UPDATE_PERIOD",
    "WithMaxWaitRateLimiter",
    "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
    "default_typed_controller_rate_limiter",
    "default_typed_item_based_rate_limiter",
    "get_provider",
    "new",
    "new_delaying_queue_with_config",
    "new_named_rate_limiting_queue",
    "new_rate_limiting_queue_with_config",
    "new_typed",
    "new_typed_delaying_queue_with_config",
    "new_typed_rate_limiting_queue_with_config",
    "new_typed_with_config",
    "new_with_config",
    "set_default_provider",
    "set_provider",
]

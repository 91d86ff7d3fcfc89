"""Work queues, mirroring ``k8s.io/client-go/util/workqueue``.

=================================  ==========================================
client-go (Go)                     this package
=================================  ==========================================
``Interface``, ``Typed`` / ``New`` :class:`Interface`, :class:`Queue`
``DelayingInterface``              :class:`DelayingInterface`,
                                   :class:`DelayingQueue`
``RateLimitingInterface``          :class:`RateLimitingInterface`,
                                   :class:`RateLimitingQueue`,
                                   :func:`new_named_rate_limiting_queue`
``RateLimiter`` and the limiters   :class:`RateLimiter`,
                                   :class:`ItemExponentialFailureRateLimiter`,
                                   :class:`ItemFastSlowRateLimiter`,
                                   :class:`BucketRateLimiter`,
                                   :class:`MaxOfRateLimiter`,
                                   :class:`WithMaxWaitRateLimiter`,
                                   :func:`default_controller_rate_limiter`,
                                   :func:`default_item_based_rate_limiter`
``MetricsProvider``, ``SetProvider`` :class:`MetricsProvider`,
                                   :func:`set_provider`
component-base's workqueue provider :class:`PrometheusMetricsProvider`
                                   (:mod:`.prometheus`)
=================================  ==========================================

A controller's handlers add ``"namespace/name"`` keys; workers ``get`` a key,
sync it, call ``done``, and then either ``forget`` it (success) or
``add_rate_limited`` it (failure).  The queue guarantees a key is never held
by two workers at once, collapses duplicate adds, and re-delivers a key that
was added again while a worker held it.  Go method names map to PEP 8
(``AddRateLimited`` -> ``add_rate_limited``, ``Len`` -> ``len``), Go's
``(item, shutdown)`` result to a tuple and durations to float seconds.
"""

from .default_rate_limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
    default_item_based_rate_limiter,
)
from .delaying_queue import MAX_WAIT, DelayingInterface, DelayingQueue
from .metrics import (
    UNFINISHED_WORK_UPDATE_PERIOD,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    MetricsProvider,
    NoopMetricsProvider,
    SettableGaugeMetric,
    get_provider,
    set_provider,
)

# Imported for its effect too: it makes the Prometheus provider the default
# (component-base's init() in a Go binary).
from .prometheus import DEFAULT_PROVIDER, DURATION_BUCKETS, PrometheusMetricsProvider
from .queue import Interface, Queue
from .rate_limiting_queue import (
    RateLimitingInterface,
    RateLimitingQueue,
    new_named_rate_limiting_queue,
)

__all__ = [
    "BucketRateLimiter",
    "CounterMetric",
    "DEFAULT_PROVIDER",
    "DURATION_BUCKETS",
    "DelayingInterface",
    "DelayingQueue",
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
    "RateLimiter",
    "RateLimitingInterface",
    "RateLimitingQueue",
    "SettableGaugeMetric",
    "UNFINISHED_WORK_UPDATE_PERIOD",
    "WithMaxWaitRateLimiter",
    "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
    "get_provider",
    "new_named_rate_limiting_queue",
    "set_provider",
]

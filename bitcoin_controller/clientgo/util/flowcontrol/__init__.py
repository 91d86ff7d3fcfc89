"""Rate limiting, mirroring ``k8s.io/client-go/util/flowcontrol``.

One token bucket serves the three places client-go uses one: the REST
client's request throttle (``rest.Config.QPS``/``Burst``), the event spam
filter (``tools/record``) and the work queue's ``BucketRateLimiter``.
"""

from .throttle import LONG_THROTTLE_SECONDS, TokenBucketRateLimiter

__all__ = ["LONG_THROTTLE_SECONDS", "TokenBucketRateLimiter"]

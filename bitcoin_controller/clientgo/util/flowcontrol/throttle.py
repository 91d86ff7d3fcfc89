"""A token bucket, mirroring ``k8s.io/client-go/util/flowcontrol/throttle.go``
(``NewTokenBucketRateLimiterWithClock``) and the ``golang.org/x/time/rate``
limiter underneath it.

The bucket holds ``burst`` tokens, starts full and refills at ``qps`` per
second, so short bursts go through at once and a sustained load is held to
``qps``.  Three ways to take a token, for the three users:

* :meth:`TokenBucketRateLimiter.accept` waits for one (the REST client's
  throttle; long waits are logged like client-go's "Waited for ... due to
  client-side throttling", because a throttled controller otherwise looks
  mysteriously slow);
* :meth:`TokenBucketRateLimiter.try_accept` takes one only if it is there
  now (the event spam filter decides, it does not delay);
* :meth:`TokenBucketRateLimiter.reserve` takes one now, going into debt,
  and says how long until it would have existed (``rate.Limiter.Reserve().Delay()``,
  what the work queue's ``BucketRateLimiter`` returns) -- a negative balance
  is the queue of callers ahead, each owing ``1/qps`` seconds.

Edge cases follow ``x/time/rate``: an infinite ``qps`` never delays; a
``burst`` below 1 can never grant a token (infinite delay); a ``qps`` of zero
hands out the ``burst`` tokens once and then delays forever.
"""

from __future__ import annotations

import logging
import math
import threading

from ....utils.clock import REAL_CLOCK, Clock

__all__ = ["LONG_THROTTLE_SECONDS", "TokenBucketRateLimiter"]

log = logging.getLogger(__name__)

#: :meth:`TokenBucketRateLimiter.accept` logs waits at least this long.
LONG_THROTTLE_SECONDS = 1.0


class TokenBucketRateLimiter:
    """``flowcontrol.RateLimiter`` backed by a token bucket (thread-safe)."""

    def __init__(self, qps: float, burst: int, clock: Clock = REAL_CLOCK) -> None:
        self.qps = float(qps)
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock.now()

    def _refill(self) -> float:
        # Under self._lock: the balance now, never above burst.
        now = self._clock.now()
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - self._last) * self.qps)
        self._last = now
        return self._tokens

    def reserve(self) -> float:
        """Take a token now (possibly going into debt); return the seconds until it is due."""
        with self._lock:
            if self.qps == math.inf:
                return 0.0
            if self.qps <= 0:
                if self.burst >= 1:
                    self.burst -= 1
                    return 0.0
                return math.inf
            if self.burst < 1:
                return math.inf
            self._tokens = self._refill() - 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def accept(self) -> float:
        """``Accept``: wait for a token; return the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            if delay >= LONG_THROTTLE_SECONDS:
                log.info("waiting %.1fs due to client-side throttling", delay)
            self._clock.sleep(delay)
        return delay

    def try_accept(self) -> bool:
        """``TryAccept``: take a token only if one is available now."""
        with self._lock:
            if self._refill() >= 1.0:
                self._tokens -= 1.0
                return True
            return False

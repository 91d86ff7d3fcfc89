"""Client-side request throttling, mirroring client-go's ``flowcontrol.NewTokenBucketRateLimiter``.

A REST client with ``Config.qps`` set waits for a token before each request
(watches included, as in Go).  The bucket holds ``burst`` tokens and refills
at ``qps`` per second, so short bursts go through at once and a sustained
load is held to ``qps``.  Long waits are logged, like client-go's "Waited for
... due to client-side throttling" message, because a throttled controller
otherwise looks mysteriously slow.
"""

from __future__ import annotations

import logging
import threading

from ...utils.clock import REAL_CLOCK, Clock

__all__ = ["TokenBucketRateLimiter"]

log = logging.getLogger(__name__)

#: Waits longer than this are logged.
LONG_THROTTLE_SECONDS = 1.0


class TokenBucketRateLimiter:
    """A token bucket: ``accept()`` blocks until a token is available, then takes it."""

    def __init__(self, qps: float, burst: int, clock: Clock = REAL_CLOCK) -> None:
        if qps <= 0:
            raise ValueError("qps must be positive")
        self.qps = float(qps)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._last = clock.now()

    def _reserve(self) -> float:
        """Take a token (possibly going into debt) and return how long to wait for it."""
        with self._lock:
            now = self._clock.now()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            # A negative balance is the queue of callers ahead of us: each owes 1/qps seconds.
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def accept(self) -> float:
        """Wait for a token; return the seconds waited."""
        delay = self._reserve()
        if delay > 0:
            if delay >= LONG_THROTTLE_SECONDS:
                log.info("waiting %.1fs due to client-side throttling", delay)
            self._clock.sleep(delay)
        return delay

    def try_accept(self) -> bool:
        """Take a token only if one is available now."""
        with self._lock:
            now = self._clock.now()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

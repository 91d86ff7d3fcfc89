"""The queue controllers use, mirroring ``util/workqueue/rate_limiting_queue.go``.

It joins a :class:`~.DelayingQueue` with a :class:`~.RateLimiter`: a failed
key goes back with :meth:`RateLimitingQueue.add_rate_limited` (delayed as
long as the limiter says), and a successful sync calls
:meth:`RateLimitingQueue.forget` so the key's back-off starts over.  The
canonical worker loop::

    key, shutdown = queue.get()
    if shutdown:
        return
    try:
        error = sync(key)
    finally:
        queue.done(key)
    if error is None:
        queue.forget(key)
    else:
        queue.add_rate_limited(key)
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable

from ....utils.clock import REAL_CLOCK, Clock
from .default_rate_limiters import RateLimiter
from .delaying_queue import DelayingInterface, DelayingQueue
from .metrics import MetricsProvider

__all__ = ["RateLimitingInterface", "RateLimitingQueue", "new_named_rate_limiting_queue"]


class RateLimitingInterface(DelayingInterface):
    """A delaying queue with per-item retry back-off (Go's ``RateLimitingInterface``)."""

    @abstractmethod
    def add_rate_limited(self, item: Hashable) -> None:
        """Add ``item`` after the delay the rate limiter chooses for it."""

    @abstractmethod
    def forget(self, item: Hashable) -> None:
        """Reset ``item``'s back-off (it does not remove the item from the queue)."""

    @abstractmethod
    def num_requeues(self, item: Hashable) -> int:
        """How many times ``item`` has been re-added with back-off since its last ``forget``."""


class RateLimitingQueue(DelayingQueue, RateLimitingInterface):
    """A delaying queue driven by ``rate_limiter`` (Go's ``NewRateLimitingQueueWithConfig``).

    ``name``, ``clock`` and ``metrics_provider`` are those of :class:`~.Queue`.
    The limiter keeps its own notion of time (a :class:`~.BucketRateLimiter`
    takes its own clock); the queue's clock only times the delayed adds.
    """

    def __init__(
        self,
        rate_limiter: RateLimiter,
        name: str = "",
        clock: Clock = REAL_CLOCK,
        metrics_provider: MetricsProvider | None = None,
    ) -> None:
        super().__init__(name, clock, metrics_provider)
        self.rate_limiter = rate_limiter

    def add_rate_limited(self, item: Hashable) -> None:
        """``add_after(item, rate_limiter.when(item))`` (Go's ``AddRateLimited``).

        The limiter is consulted even during shutdown, as in Go, so its
        failure count matches the number of calls.
        """
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: Hashable) -> None:
        """Tell the limiter ``item`` succeeded (Go's ``Forget``); the queue itself is untouched."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        """The limiter's failure count for ``item`` (Go's ``NumRequeues``)."""
        return self.rate_limiter.num_requeues(item)


def new_named_rate_limiting_queue(rate_limiter: RateLimiter, name: str) -> RateLimitingQueue:
    """A named rate-limiting queue on the real clock (Go's ``NewNamedRateLimitingQueue``).

    The name switches metrics on; it should be unique in the process since it
    is the value of the ``name`` label.
    """
    return RateLimitingQueue(rate_limiter, name=name)

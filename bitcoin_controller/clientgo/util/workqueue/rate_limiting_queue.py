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
from dataclasses import dataclass
from typing import Any

from ....utils.clock import REAL_CLOCK, Clock
from .default_rate_limiters import RateLimiter
from .delaying_queue import TypedDelayingInterface, TypedDelayingQueue
from .metrics import MetricsProvider
from .queue import T, TypedQueueConfig

__all__ = [
    "RateLimitingInterface",
    "RateLimitingQueue",
    "RateLimitingQueueConfig",
    "TypedRateLimitingInterface",
    "TypedRateLimitingQueue",
    "TypedRateLimitingQueueConfig",
    "new_named_rate_limiting_queue",
    "new_rate_limiting_queue_with_config",
    "new_typed_rate_limiting_queue_with_config",
]


class TypedRateLimitingInterface(TypedDelayingInterface[T]):
    """A delaying queue with per-item retry back-off (Go's ``TypedRateLimitingInterface[T]``)."""

    @abstractmethod
    def add_rate_limited(self, item: T) -> None:
        """Add ``item`` after the delay the rate limiter chooses for it."""

    @abstractmethod
    def forget(self, item: T) -> None:
        """Reset ``item``'s back-off (it does not remove the item from the queue)."""

    @abstractmethod
    def num_requeues(self, item: T) -> int:
        """How many times ``item`` has been re-added with back-off since its last ``forget``."""


#: ``RateLimitingInterface``: the untyped name (Go: ``TypedRateLimitingInterface[any]``).
RateLimitingInterface = TypedRateLimitingInterface


@dataclass
class TypedRateLimitingQueueConfig(TypedQueueConfig):
    """``TypedRateLimitingQueueConfig``: the fields of :class:`~.queue.TypedQueueConfig`
    (Go's ``DelayingQueue`` field, a queue to wrap, has no counterpart)."""


#: ``RateLimitingQueueConfig``: the untyped name.
RateLimitingQueueConfig = TypedRateLimitingQueueConfig


class TypedRateLimitingQueue(TypedDelayingQueue[T], TypedRateLimitingInterface[T]):
    """A delaying queue driven by ``rate_limiter`` (Go's unexported ``rateLimitingType[T]``,
    built by ``NewTypedRateLimitingQueueWithConfig``; :data:`RateLimitingQueue` is the
    untyped name).

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


#: The untyped name of :class:`TypedRateLimitingQueue`.
RateLimitingQueue = TypedRateLimitingQueue


def new_typed_rate_limiting_queue_with_config(
    rate_limiter: RateLimiter, config: TypedRateLimitingQueueConfig
) -> TypedRateLimitingQueue[Any]:
    """``NewTypedRateLimitingQueueWithConfig``: a rate-limiting queue built from ``config``."""
    return TypedRateLimitingQueue(rate_limiter, config.name, config.clock, config.metrics_provider)


#: ``NewRateLimitingQueueWithConfig``: the untyped name.
new_rate_limiting_queue_with_config = new_typed_rate_limiting_queue_with_config


def new_named_rate_limiting_queue(rate_limiter: RateLimiter, name: str) -> TypedRateLimitingQueue[Any]:
    """A named rate-limiting queue on the real clock (Go's deprecated ``NewNamedRateLimitingQueue``).

    The name switches metrics on; it should be unique in the process since it
    is the value of the ``name`` label.
    """
    return new_rate_limiting_queue_with_config(rate_limiter, RateLimitingQueueConfig(name=name))

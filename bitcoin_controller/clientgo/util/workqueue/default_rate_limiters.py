"""Rate limiters for retries, mirroring ``util/workqueue/default_rate_limiters.go``.

A rate limiter answers one question for a rate-limiting queue: *how long
should this item wait before it is retried?*  Per-item limiters count the
item's consecutive failures and back off harder each time, so one broken
object cannot make a controller spin; the bucket limiter bounds the overall
retry rate, so many failing objects cannot flood the API server.  A
controller calls :meth:`RateLimiter.forget` after a successful sync so the
next failure starts from the shortest delay again.

All delays are float seconds.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Generic, TypeVar

from ....utils.clock import REAL_CLOCK, Clock
from ..flowcontrol import TokenBucketRateLimiter

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "TypedBucketRateLimiter",
    "TypedItemExponentialFailureRateLimiter",
    "TypedItemFastSlowRateLimiter",
    "TypedMaxOfRateLimiter",
    "TypedRateLimiter",
    "TypedWithMaxWaitRateLimiter",
    "WithMaxWaitRateLimiter",
    "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
    "default_typed_controller_rate_limiter",
    "default_typed_item_based_rate_limiter",
]

#: The item type (Go's ``T comparable``); kept apart from the queue's to
#: avoid an import cycle.
T = TypeVar("T", bound=Hashable)


class TypedRateLimiter(ABC, Generic[T]):
    """Decides retry delays (Go's ``workqueue.TypedRateLimiter[T]``; :data:`RateLimiter`
    is the untyped name, as each ``Typed<Name>`` below has its untyped ``<Name>``)."""

    @abstractmethod
    def when(self, item: T) -> float:
        """Seconds ``item`` should wait now; records one more failure for it."""

    @abstractmethod
    def forget(self, item: T) -> None:
        """Stop tracking ``item`` (it succeeded), resetting its back-off."""

    @abstractmethod
    def num_requeues(self, item: T) -> int:
        """How many failures are currently recorded for ``item``."""


class _ItemFailures(TypedRateLimiter[T]):
    """The per-item failure count both per-item limiters keep (Go's ``failures`` map).

    :meth:`_fail` records one more failure and returns how many there were
    before it; :meth:`num_requeues` and :meth:`forget` read and clear it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[Hashable, int] = {}

    def _fail(self, item: Hashable) -> int:
        with self._lock:
            before = self._failures.get(item, 0)
            self._failures[item] = before + 1
            return before

    def num_requeues(self, item: Hashable) -> int:
        with self._lock:
            return self._failures.get(item, 0)

    def forget(self, item: Hashable) -> None:
        with self._lock:
            self._failures.pop(item, None)


class TypedItemExponentialFailureRateLimiter(_ItemFailures[T]):
    """Per-item exponential back-off: ``base_delay * 2**failures``, capped at ``max_delay``.

    Mirrors Go's ``ItemExponentialFailureRateLimiter``.  The n-th consecutive
    failure of an item (counting from 0) waits ``base_delay * 2**n``; once
    that exceeds ``max_delay`` -- or overflows a float -- it waits
    ``max_delay``, so a permanently failing item is still retried regularly.
    """

    def __init__(self, base_delay: float, max_delay: float) -> None:
        super().__init__()
        self._base_delay = base_delay
        self._max_delay = max_delay

    def when(self, item: Hashable) -> float:
        exp = self._fail(item)
        try:
            backoff = self._base_delay * 2.0**exp
        except OverflowError:
            return self._max_delay
        return min(backoff, self._max_delay)


class TypedItemFastSlowRateLimiter(_ItemFailures[T]):
    """``fast_delay`` for the first ``max_fast_attempts`` failures, then ``slow_delay``.

    Mirrors Go's ``ItemFastSlowRateLimiter``: useful when a few quick retries
    usually fix a transient problem and anything beyond that is worth only an
    occasional look.
    """

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        super().__init__()
        self._fast_delay = fast_delay
        self._slow_delay = slow_delay
        self._max_fast_attempts = max_fast_attempts

    def when(self, item: Hashable) -> float:
        if self._fail(item) + 1 <= self._max_fast_attempts:
            return self._fast_delay
        return self._slow_delay


class TypedBucketRateLimiter(TypedRateLimiter[T]):
    """An overall token bucket: ``qps`` refill rate, ``burst`` capacity.

    Mirrors Go's ``BucketRateLimiter``, which wraps
    ``golang.org/x/time/rate.Limiter`` and returns ``Reserve().Delay()``.
    The bucket starts full.  Every call takes a token *now*, even when the
    bucket is empty -- the balance goes negative and the caller is told how
    long until that token would have existed -- so successive callers queue
    up behind each other instead of all retrying at the same instant.  It is
    the same for every item, hence ``num_requeues`` is always 0 and
    ``forget`` does nothing.

    Edge cases follow ``x/time/rate``: an infinite ``qps`` never delays; a
    ``burst`` below 1 can never grant a token (infinite delay); a ``qps`` of
    zero hands out the ``burst`` tokens once and then delays forever.  The
    bucket is :class:`~..flowcontrol.TokenBucketRateLimiter`, the one the REST
    client and the event spam filter use too.
    """

    def __init__(self, qps: float, burst: int, clock: Clock = REAL_CLOCK) -> None:
        self._bucket = TokenBucketRateLimiter(qps, burst, clock)

    def when(self, item: Hashable) -> float:
        return self._bucket.reserve()

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def forget(self, item: Hashable) -> None:
        pass


class TypedMaxOfRateLimiter(TypedRateLimiter[T]):
    """The longest delay any of ``limiters`` asks for (Go's ``MaxOfRateLimiter``).

    Every limiter is asked on every call, not just until one gives a big
    answer, because asking is what records the failure (or spends the token)
    in each of them; skipping one would leave its state behind.
    """

    def __init__(self, *limiters: TypedRateLimiter[T]) -> None:
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        delay = 0.0
        for limiter in self._limiters:
            delay = max(delay, limiter.when(item))
        return delay

    def num_requeues(self, item: Hashable) -> int:
        return max((limiter.num_requeues(item) for limiter in self._limiters), default=0)

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)


class TypedWithMaxWaitRateLimiter(TypedRateLimiter[T]):
    """Caps another limiter's delay at ``max_delay`` (Go's ``WithMaxWaitRateLimiter``)."""

    def __init__(self, limiter: TypedRateLimiter[T], max_delay: float) -> None:
        self._limiter = limiter
        self._max_delay = max_delay

    def when(self, item: Hashable) -> float:
        return min(self._limiter.when(item), self._max_delay)

    def num_requeues(self, item: Hashable) -> int:
        return self._limiter.num_requeues(item)

    def forget(self, item: Hashable) -> None:
        self._limiter.forget(item)


def default_typed_controller_rate_limiter(clock: Clock = REAL_CLOCK) -> TypedRateLimiter[Hashable]:
    """Go's ``DefaultTypedControllerRateLimiter``: per-item 5 ms..1000 s, overall 10 qps / burst 100.

    The per-item exponential limiter protects against one hot item; the
    bucket caps the total retry rate when many items fail at once.
    """
    return TypedMaxOfRateLimiter(
        TypedItemExponentialFailureRateLimiter(0.005, 1000.0),
        TypedBucketRateLimiter(qps=10, burst=100, clock=clock),
    )


def default_typed_item_based_rate_limiter() -> TypedRateLimiter[Hashable]:
    """Go's ``DefaultTypedItemBasedRateLimiter``: per-item exponential back-off 1 ms..1000 s."""
    return TypedItemExponentialFailureRateLimiter(0.001, 1000.0)


# The untyped names (Go: ``RateLimiter = TypedRateLimiter[any]`` and so on).
RateLimiter = TypedRateLimiter
ItemExponentialFailureRateLimiter = TypedItemExponentialFailureRateLimiter
ItemFastSlowRateLimiter = TypedItemFastSlowRateLimiter
BucketRateLimiter = TypedBucketRateLimiter
MaxOfRateLimiter = TypedMaxOfRateLimiter
WithMaxWaitRateLimiter = TypedWithMaxWaitRateLimiter
#: ``DefaultControllerRateLimiter``
default_controller_rate_limiter = default_typed_controller_rate_limiter
#: ``DefaultItemBasedRateLimiter``
default_item_based_rate_limiter = default_typed_item_based_rate_limiter

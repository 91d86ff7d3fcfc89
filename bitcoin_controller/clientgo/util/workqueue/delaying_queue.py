"""A work queue that can add an item later, mirroring ``util/workqueue/delaying_queue.go``.

Controllers use :meth:`DelayingQueue.add_after` to retry a failed key after a
back-off instead of spinning on it.  Pending items wait in a min-heap ordered
by the moment they become ready; one background thread sleeps until the
earliest of them is due (or at most :data:`MAX_WAIT` seconds) and then moves
every due item into the queue with an ordinary :meth:`~.Queue.add`, so the
base queue's de-duplication applies to delayed items too.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from abc import abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ....utils.clock import REAL_CLOCK, Clock
from .metrics import MetricsProvider, new_retry_metric
from .queue import T, Typed, TypedInterface, TypedQueueConfig

__all__ = [
    "DelayingInterface",
    "DelayingQueue",
    "DelayingQueueConfig",
    "MAX_WAIT",
    "TypedDelayingInterface",
    "TypedDelayingQueue",
    "TypedDelayingQueueConfig",
    "new_delaying_queue_with_config",
    "new_typed_delaying_queue_with_config",
]

# Longest the waiting thread sleeps before looking at the heap again (Go's
# ``maxWait`` heartbeat).  It is insurance: even if a wake-up were missed, no
# due item would sit in the heap for more than this long.
MAX_WAIT = 10.0


class TypedDelayingInterface(TypedInterface[T]):
    """A work queue that can add an item after a delay (Go's ``TypedDelayingInterface[T]``)."""

    @abstractmethod
    def add_after(self, item: T, seconds: float) -> None:
        """Add ``item`` once ``seconds`` have passed."""


#: ``DelayingInterface``: the untyped name (Go: ``TypedDelayingInterface[any]``).
DelayingInterface = TypedDelayingInterface


class _WaitFor:
    """One pending delayed add (Go's ``waitFor``): an item and when it is due.

    ``seq`` breaks ties between equal ready times in insertion order and
    keeps the heap from ever comparing items (which need not be orderable).
    ``cancelled`` marks an entry superseded by an earlier deadline; the heap
    drops it when it surfaces, the usual lazy-deletion idiom for ``heapq``.
    """

    __slots__ = ("ready_at", "seq", "item", "cancelled")

    def __init__(self, ready_at: float, seq: int, item: Hashable) -> None:
        self.ready_at = ready_at
        self.seq = seq
        self.item = item
        self.cancelled = False

    def __lt__(self, other: _WaitFor) -> bool:
        return (self.ready_at, self.seq) < (other.ready_at, other.seq)


@dataclass
class TypedDelayingQueueConfig(TypedQueueConfig):
    """``TypedDelayingQueueConfig``: the fields of :class:`~.queue.TypedQueueConfig`
    (Go's ``Queue`` field, a queue to wrap, has no counterpart: this queue is one)."""


#: ``DelayingQueueConfig``: the untyped name.
DelayingQueueConfig = TypedDelayingQueueConfig


class TypedDelayingQueue(Typed[T], TypedDelayingInterface[T]):
    """The base :class:`~.queue.Typed` queue plus :meth:`add_after` (Go's unexported
    ``delayingType[T]``, built by ``NewTypedDelayingQueueWithConfig``;
    :data:`DelayingQueue` is the untyped name).

    Go wraps any ``Interface`` and feeds the waiting goroutine through a
    channel of 1000 entries; here the caller inserts into the heap directly
    under the waiting lock, so :meth:`add_after` never blocks on a full
    buffer.  Lock order is always waiting lock, then queue lock.
    """

    def __init__(
        self,
        name: str = "",
        clock: Clock = REAL_CLOCK,
        metrics_provider: MetricsProvider | None = None,
    ) -> None:
        super().__init__(name, clock, metrics_provider)
        self._retries = new_retry_metric(name, metrics_provider)
        self._waiting_cond = threading.Condition(threading.Lock())
        self._waiting: list[_WaitFor] = []
        self._waiting_by_item: dict[Hashable, _WaitFor] = {}
        self._waiting_seq = itertools.count()
        self._waiting_stopped = False
        threading.Thread(
            target=self._waiting_loop, name=f"workqueue-delay-{name}", daemon=True
        ).start()

    def add_after(self, item: Hashable, seconds: float) -> None:
        """Add ``item`` after ``seconds`` (Go's ``AddAfter``).

        Ignored once shutting down.  Counts a retry in the metrics.  A delay
        of zero or less adds at once.  If the item is already waiting, only
        an *earlier* deadline replaces the old one: an item waits at most
        once, and a later retry request never postpones work already due
        sooner.

        A non-finite delay raises :class:`ValueError` and adds nothing: a NaN
        deadline compares false with everything and would corrupt the heap
        order (wedging every delayed item behind it), and an infinite one
        would hold the item forever.  Go cannot express either (a Duration
        is an int64), so rejecting them is the faithful translation.
        """
        if not math.isfinite(seconds):
            raise ValueError(f"add_after: the delay must be a finite number of seconds, not {seconds!r}")
        with self._lock:
            if self._shutting_down:
                return
            # Counted under the queue lock, which serialises all of this
            # queue's metric updates (see metrics.MetricsProvider).
            self._retries.inc()
        if seconds <= 0:
            self.add(item)
            return
        ready_at = self._clock.now() + seconds
        with self._waiting_cond:
            if self._waiting_stopped:
                return
            existing = self._waiting_by_item.get(item)
            if existing is not None:
                if existing.ready_at <= ready_at:
                    return
                existing.cancelled = True
            entry = _WaitFor(ready_at, next(self._waiting_seq), item)
            heapq.heappush(self._waiting, entry)
            self._waiting_by_item[item] = entry
            # Only a new earliest deadline changes how long the loop must sleep.
            if self._waiting[0] is entry:
                self._waiting_cond.notify()

    def _begin_shut_down(self, drain: bool) -> None:
        """Shut the queue and stop the waiting thread, dropping pending delayed items."""
        super()._begin_shut_down(drain)
        with self._waiting_cond:
            self._waiting_stopped = True
            self._waiting.clear()
            self._waiting_by_item.clear()
            self._waiting_cond.notify_all()

    def _waiting_loop(self) -> None:
        """Move due items into the queue, sleep until the next is due (Go's ``waitingLoop``)."""
        clock = self._clock
        cond = self._waiting_cond
        heap = self._waiting
        with cond:
            while not self._waiting_stopped:
                now = clock.now()
                while heap and (heap[0].cancelled or heap[0].ready_at <= now):
                    entry = heapq.heappop(heap)
                    if entry.cancelled:
                        continue
                    del self._waiting_by_item[entry.item]
                    self.add(entry.item)
                timeout = MAX_WAIT
                if heap:
                    # Re-read the clock: adding items took time, and a wait
                    # that is already due returns at once and loops again.
                    timeout = min(timeout, heap[0].ready_at - clock.now())
                clock.wait(cond, timeout)


#: The untyped name of :class:`TypedDelayingQueue`.
DelayingQueue = TypedDelayingQueue


def new_typed_delaying_queue_with_config(config: TypedDelayingQueueConfig) -> TypedDelayingQueue[Any]:
    """``NewTypedDelayingQueueWithConfig``: a delaying queue built from ``config``."""
    return TypedDelayingQueue(config.name, config.clock, config.metrics_provider)


#: ``NewDelayingQueueWithConfig``: the untyped name.
new_delaying_queue_with_config = new_typed_delaying_queue_with_config

"""The base work queue, mirroring ``util/workqueue/queue.go``.

A controller's event handlers put *keys* (``"namespace/name"``) on a work
queue and a few worker threads take them off.  The queue is not a plain FIFO:
it keeps three collections so that a key is worked on by at most one worker
at a time and is never worked on twice for the same reason:

* ``_queue`` -- keys ready to be handed out, in FIFO order;
* ``_dirty`` -- keys that need processing (everything in ``_queue`` plus keys
  re-added while a worker holds them);
* ``_processing`` -- keys currently held by a worker.

Invariant (the same as Go's): every key in ``_queue`` is in ``_dirty`` and not
in ``_processing``.  From it follow the three guarantees controllers rely on:

1. a key is never handed to two workers at once;
2. a key added many times before a worker takes it is processed once
   (duplicates collapse, which is why handlers enqueue keys, not objects);
3. a key added while it is being processed is processed again after
   :meth:`Queue.done` -- the change that arrived mid-sync is not lost.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ....utils.clock import REAL_CLOCK, Clock
from .metrics import UNFINISHED_WORK_UPDATE_PERIOD, MetricsProvider, new_queue_metrics

__all__ = [
    "Interface",
    "Queue",
    "QueueConfig",
    "Type",
    "Typed",
    "TypedInterface",
    "TypedQueueConfig",
    "new",
    "new_typed",
    "new_typed_with_config",
    "new_with_config",
]

#: The item type of a typed queue (Go's ``T comparable``).
T = TypeVar("T", bound=Hashable)


class TypedInterface(ABC, Generic[T]):
    """What every work queue offers (Go's ``workqueue.TypedInterface[T]``;
    :data:`Interface` is the untyped name, as Go's ``Interface = TypedInterface[any]``).

    Code that consumes a queue (controllers, fakes in tests) should depend on
    this rather than on a concrete class.  Items must be hashable; they are
    compared by equality, like Go's ``comparable`` items.
    """

    @abstractmethod
    def add(self, item: T) -> None:
        """Mark ``item`` as needing processing."""

    @abstractmethod
    def __len__(self) -> int:
        """``Len``: number of items waiting to be handed out (informational only)."""

    def len(self) -> int:
        """``Len`` under its Go name; the same as ``len(queue)``."""
        return len(self)

    @abstractmethod
    def get(self) -> tuple[Any, bool]:
        """Block until an item is available; return ``(item, shutdown)``."""

    @abstractmethod
    def done(self, item: T) -> None:
        """Tell the queue that processing of ``item`` has finished."""

    @abstractmethod
    def shut_down(self) -> None:
        """Stop accepting items and release the workers once the queue is empty."""

    @abstractmethod
    def shut_down_with_drain(self) -> None:
        """Like :meth:`shut_down`, then wait until in-flight items are done."""

    @abstractmethod
    def shutting_down(self) -> bool:
        """True once a shutdown has been requested."""


#: ``workqueue.Interface``: the untyped name (Go: ``TypedInterface[any]``).
Interface = TypedInterface


@dataclass
class TypedQueueConfig:
    """``TypedQueueConfig``: how to build a queue (:func:`new_typed_with_config`).

    ``name`` turns metrics on; ``metrics_provider`` ``None`` means the
    process-wide provider; ``clock`` drives every time measurement.
    """

    name: str = ""
    metrics_provider: MetricsProvider | None = None
    clock: Clock = REAL_CLOCK


#: ``QueueConfig``: the untyped name.
QueueConfig = TypedQueueConfig


class Typed(TypedInterface[T]):
    """The base work queue (Go's ``workqueue.Typed[T]``, built by ``NewTypedWithConfig``;
    :data:`Type` and :data:`Queue` are its untyped names).

    Go's ``Queue`` interface is the pluggable FIFO storage inside it, which
    this port does not expose; the name ``Queue`` is kept for this class.

    ``name`` turns metrics on (see :mod:`.metrics`): a named queue reports to
    ``metrics_provider`` or, if that is ``None``, to the process-wide provider,
    and runs a small daemon thread refreshing the unfinished-work gauges
    every 0.5 s until shutdown (a named queue that is never shut down keeps
    that thread, as Go keeps its goroutine).  ``clock`` drives every time
    measurement, so tests can use a
    :class:`~bitcoin_controller.utils.clock.FakeClock`.

    All state sits behind one lock with one condition variable, as in Go:
    the operations are short, and a single lock makes the invariant in the
    module docstring easy to keep.
    """

    def __init__(
        self,
        name: str = "",
        clock: Clock = REAL_CLOCK,
        metrics_provider: MetricsProvider | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        # Critical sections enter the raw lock rather than the condition:
        # same lock, but it skips Condition's pure-Python __enter__/__exit__,
        # a measurable share of every operation (see benchmarks/).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._shutting_down = False
        self._drain = False
        self._metrics = new_queue_metrics(name, clock, metrics_provider)
        # The updater has its own condition so that shutdown can wake it
        # without disturbing workers blocked in get().
        self._updater_cond = threading.Condition(threading.Lock())
        self._updater_stopped = False
        if self._metrics.enabled:
            threading.Thread(
                target=self._update_unfinished_work_loop,
                name=f"workqueue-metrics-{name}",
                daemon=True,
            ).start()

    def add(self, item: Hashable) -> None:
        """Mark ``item`` dirty and, unless a worker holds it, queue it (Go's ``Add``).

        Ignored after shutdown.  Adding an item that is already dirty does
        nothing: it will be processed once.  Adding an item a worker is
        processing only marks it dirty; :meth:`done` queues it again, which
        keeps guarantee 1 (never two workers on one item).
        """
        with self._lock:
            if self._shutting_down or item in self._dirty:
                return
            self._metrics.add(item)
            self._dirty.add(item)
            if item in self._processing:
                return
            self._queue.append(item)
            self._cond.notify()

    def __len__(self) -> int:
        """Items waiting to be handed out (Go's ``Len``).

        Excludes items being processed.  The value can be stale as soon as it
        is returned, so use it for reporting, never to decide whether to
        ``add`` or ``get``.
        """
        with self._lock:
            return len(self._queue)

    def get(self) -> tuple[Any, bool]:
        """Block until an item is ready; return ``(item, False)`` or ``(None, True)``.

        Mirrors Go's ``Get``.  After a shutdown the items still queued keep
        being returned; only when the queue is empty does ``get`` report
        ``shutdown=True``, which tells the worker to exit.  The caller must
        call :meth:`done` with the item when it has finished with it.
        """
        with self._lock:
            while not self._queue and not self._shutting_down:
                self._cond.wait()
            if not self._queue:
                return None, True
            item = self._queue.popleft()
            self._metrics.get(item)
            self._processing.add(item)
            self._dirty.discard(item)
            return item, False

    def done(self, item: Hashable) -> None:
        """Release ``item``; queue it again if it was re-added meanwhile (Go's ``Done``).

        When the last in-flight item is released, a pending
        :meth:`shut_down_with_drain` is woken.
        """
        with self._lock:
            self._metrics.done(item)
            self._processing.discard(item)
            if item in self._dirty:
                self._queue.append(item)
                self._cond.notify()
            elif not self._processing and self._drain:
                # Only a drain waits for "nothing in processing"; during a
                # shutdown no get() is waiting, so waking all is cheap.
                self._cond.notify_all()

    def shut_down(self) -> None:
        """Refuse new items and tell workers to exit once empty (Go's ``ShutDown``).

        Items already queued are still handed out by :meth:`get`.  Calling it
        while another thread is in :meth:`shut_down_with_drain` cancels that
        wait, which is how a caller forces a stuck drain to finish.
        Idempotent.
        """
        self._begin_shut_down(drain=False)

    def shut_down_with_drain(self) -> None:
        """Shut down, then block until every in-flight item is done (Go's ``ShutDownWithDrain``).

        It waits for items already handed to workers, not for items still in
        the queue.  Workers must keep calling :meth:`done` or this blocks
        until a :meth:`shut_down` from another thread cancels the wait.
        """
        self._begin_shut_down(drain=True)
        with self._lock:
            while self._processing and self._drain:
                self._cond.wait()

    def shutting_down(self) -> bool:
        """True once :meth:`shut_down` or :meth:`shut_down_with_drain` was called."""
        with self._lock:
            return self._shutting_down

    # -- internals --------------------------------------------------------------
    def _begin_shut_down(self, drain: bool) -> None:
        """Set the shutdown flags, wake every waiter and stop background threads.

        The single place subclasses extend to stop their own threads, so that
        both shutdown flavours stop them.
        """
        with self._lock:
            self._drain = drain
            self._shutting_down = True
            self._cond.notify_all()
        with self._updater_cond:
            self._updater_stopped = True
            self._updater_cond.notify_all()

    def _update_unfinished_work_loop(self) -> None:
        """Refresh the unfinished-work gauges every period until shutdown.

        Mirrors Go's ``updateUnfinishedWorkLoop`` ticker.  Those gauges are
        about items nobody is touching (stuck workers), so no queue operation
        would ever update them; a timer has to.
        """
        clock = self._clock
        cond = self._updater_cond
        period = UNFINISHED_WORK_UPDATE_PERIOD
        with cond:
            next_tick = clock.now() + period
            while not self._updater_stopped:
                remaining = next_tick - clock.now()
                if remaining > 0:
                    clock.wait(cond, remaining)
                    continue
                # Like a Go ticker, drop missed ticks rather than bursting.
                next_tick = clock.now() + period
                with self._lock:
                    if self._shutting_down:
                        break
                    self._metrics.update_unfinished_work()
        with self._lock:
            self._metrics.stop()


#: ``workqueue.Type``: the untyped name of :class:`Typed` (Go: ``Typed[any]``).
Type = Typed
#: The name this port used before it followed Go's; the same class.
Queue = Typed


def new_typed_with_config(config: TypedQueueConfig) -> Typed[Any]:
    """``NewTypedWithConfig``: a queue built from ``config``."""
    return Typed(config.name, config.clock, config.metrics_provider)


def new_typed() -> Typed[Any]:
    """``NewTyped``: an unnamed queue (no metrics) on the real clock."""
    return new_typed_with_config(TypedQueueConfig())


#: ``NewWithConfig``: the untyped name of :func:`new_typed_with_config`.
new_with_config = new_typed_with_config
#: ``New``: the untyped name of :func:`new_typed`.
new = new_typed

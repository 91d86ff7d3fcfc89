"""Fan-out of informer notifications to event handlers, mirroring ``sharedProcessor``
and ``processorListener`` in ``k8s.io/client-go/tools/cache/shared_informer.go``
(and ``tools/cache/synctrack``).

One shared informer serves many handlers.  The informer must never wait for
a handler -- a slow handler would stall every other handler *and* the cache
itself -- so each handler gets a :class:`ProcessorListener`: an unbounded
buffer that accepts notifications at once, plus a thread that delivers them
to the handler one by one, in order.

Go builds the listener from two goroutines and two unbuffered channels with
a growing ring buffer between them (``pop`` accepts, ``run`` delivers).  In
Python a :class:`collections.deque` guarded by a
:class:`threading.Condition` gives the same contract with one thread: ``add``
never blocks, delivery is sequential per handler, and handlers run
concurrently with each other.  The buffer is unbounded, as in Go: memory is
the price of never blocking the informer.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ....utils.clock import REAL_CLOCK, Clock

__all__ = [
    "AddNotification",
    "UpdateNotification",
    "DeleteNotification",
    "SingleFileTracker",
    "ProcessorListener",
    "SharedProcessor",
    "ResourceEventHandlerRegistration",
    "determine_resync_period",
]

log = logging.getLogger(__name__)

# After a handler raised, the next notification waits this long (Go's
# wait.Until period in processorListener.run), so a handler that fails on
# everything does not spin.
_HANDLER_CRASH_DELAY = 1.0


class AddNotification:
    """``addNotification``: deliver ``on_add(obj, is_in_initial_list)``."""

    __slots__ = ("new_obj", "is_in_initial_list")

    def __init__(self, new_obj: Any, is_in_initial_list: bool) -> None:
        self.new_obj = new_obj
        self.is_in_initial_list = is_in_initial_list


class UpdateNotification:
    """``updateNotification``: deliver ``on_update(old, new)``."""

    __slots__ = ("old_obj", "new_obj")

    def __init__(self, old_obj: Any, new_obj: Any) -> None:
        self.old_obj = old_obj
        self.new_obj = new_obj


class DeleteNotification:
    """``deleteNotification``: deliver ``on_delete(obj)`` (maybe a tombstone)."""

    __slots__ = ("old_obj",)

    def __init__(self, old_obj: Any) -> None:
        self.old_obj = old_obj


Notification = AddNotification | UpdateNotification | DeleteNotification


class SingleFileTracker:
    """``synctrack.SingleFileTracker``: has one handler seen the whole initial list?

    ``start()`` is called when an initial-list add is queued for the handler,
    ``finished()`` once the handler returned from it.  :meth:`has_synced` is
    true when the upstream (the informer) has synced *and* nothing is
    outstanding.  Asking upstream first matters: the informer only reports
    synced after it queued the last initial add, so once upstream says yes
    the count can only go down.
    """

    def __init__(self, upstream_has_synced: Callable[[], bool]) -> None:
        self.upstream_has_synced = upstream_has_synced
        self._lock = threading.Lock()
        self._count = 0

    def start(self) -> None:
        with self._lock:
            self._count += 1

    def finished(self) -> None:
        with self._lock:
            self._count -= 1
            if self._count < 0:
                # A logic error in the caller (Go panics); keep the tracker usable.
                self._count = 0
                raise RuntimeError("synctrack: negative counter; duplicated finished() call?")

    def has_synced(self) -> bool:
        if not self.upstream_has_synced():
            return False
        with self._lock:
            return self._count == 0


class ProcessorListener:
    """``processorListener``: one handler's buffer, delivery thread and resync schedule.

    It is also the registration handle returned by
    ``SharedIndexInformer.add_event_handler`` (Go's
    ``ResourceEventHandlerRegistration``): :meth:`has_synced` tells whether this
    handler has been handed every object of the informer's initial list.

    ``requested_resync_period`` is what the caller asked for;
    ``resync_period`` is what the informer granted (see
    ``SharedIndexInformer.add_event_handler_with_resync_period``).
    """

    def __init__(
        self,
        handler: Any,
        requested_resync_period: float,
        resync_period: float,
        now: float,
        upstream_has_synced: Callable[[], bool],
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.handler = handler
        self.requested_resync_period = requested_resync_period
        self._resync_lock = threading.Lock()
        self._resync_period = resync_period
        self._next_resync = now
        self._clock = clock
        self._sync_tracker = SingleFileTracker(upstream_has_synced)
        self._cond = threading.Condition(threading.Lock())
        self._pending: deque[Notification] = deque()
        self._closed = False
        self._closed_event = threading.Event()
        self._thread: threading.Thread | None = None
        self.determine_next_resync(now)

    # -- registration handle ----------------------------------------------------------

    def has_synced(self) -> bool:
        """Whether the informer synced and this handler returned from every initial add."""
        return self._sync_tracker.has_synced()

    # -- add side -------------------------------------------------------------------------

    def add(self, notification: Notification) -> None:
        """Queue a notification; never blocks.  Dropped once the listener is closed."""
        if isinstance(notification, AddNotification) and notification.is_in_initial_list:
            self._sync_tracker.start()
        with self._cond:
            if self._closed:
                # Go would panic sending on a closed channel; the notification
                # has nowhere to go, so undo the tracker's count and drop it.
                if isinstance(notification, AddNotification) and notification.is_in_initial_list:
                    self._sync_tracker.finished()
                return
            self._pending.append(notification)
            self._cond.notify()

    # -- delivery side ------------------------------------------------------------------

    def start(self, on_exit: Callable[[ProcessorListener], None] | None = None) -> None:
        """Start the delivery thread (once); ``on_exit(self)`` runs when it ends.

        ``on_exit`` plays the part of ``wg.Done()`` for the processor's
        ``WaitGroup`` in Go: it lets the processor forget a listener whose
        thread has finished.
        """
        with self._cond:
            if self._thread is not None or self._closed:
                return

            def run() -> None:
                try:
                    self.run()
                finally:
                    if on_exit is not None:
                        on_exit(self)

            self._thread = threading.Thread(
                target=run, name=f"informer-handler-{type(self.handler).__name__}", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop delivering: the current handler call finishes, buffered notifications are dropped.

        Mirrors closing ``addCh`` in Go, after which ``pop`` returns without
        draining its buffer.
        """
        with self._cond:
            self._closed = True
            dropped = [
                n for n in self._pending if isinstance(n, AddNotification) and n.is_in_initial_list
            ]
            self._pending.clear()
            self._cond.notify_all()
        self._closed_event.set()
        for _ in dropped:
            self._sync_tracker.finished()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the delivery thread to end (after :meth:`close`)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run(self) -> None:
        """The delivery loop: call the handler for each notification, in order."""
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                notification = self._pending.popleft()
            if not self._deliver(notification):
                # Skip the failed notification and pause before the next, like
                # Go's wait.Until restart after a recovered panic.
                self._clock.wait_event(self._closed_event, _HANDLER_CRASH_DELAY)

    def _deliver(self, notification: Notification) -> bool:
        handler = self.handler
        try:
            if isinstance(notification, UpdateNotification):
                handler.on_update(notification.old_obj, notification.new_obj)
            elif isinstance(notification, AddNotification):
                handler.on_add(notification.new_obj, notification.is_in_initial_list)
            elif isinstance(notification, DeleteNotification):
                handler.on_delete(notification.old_obj)
            else:
                log.error("unrecognized notification: %r", notification)
            return True
        except Exception:
            log.exception("event handler %s raised; notification skipped", type(handler).__name__)
            return False
        finally:
            # Even if the handler raised, the initial add has been delivered;
            # otherwise has_synced() would stay false forever.
            if isinstance(notification, AddNotification) and notification.is_in_initial_list:
                self._sync_tracker.finished()

    # -- resync schedule -----------------------------------------------------------------

    def should_resync(self, now: float) -> bool:
        """Whether this listener's resync is due (never if its period is 0)."""
        with self._resync_lock:
            return self._resync_period != 0 and now >= self._next_resync

    def determine_next_resync(self, now: float) -> None:
        with self._resync_lock:
            self._next_resync = now + self._resync_period

    def set_resync_period(self, resync_period: float) -> None:
        with self._resync_lock:
            self._resync_period = resync_period

    @property
    def resync_period(self) -> float:
        with self._resync_lock:
            return self._resync_period


def determine_resync_period(desired: float, check: float) -> float:
    """``determineResyncPeriod``: the resync period a handler actually gets.

    0 stays 0 (no resync).  An informer whose check period is 0 cannot
    resync at all, so any request becomes 0.  A request shorter than the
    check period is raised to it: the reflector's timer, which runs at the
    check period, is what drives every handler's resync.
    """
    if desired == 0:
        return desired
    if check == 0:
        log.warning(
            "resyncPeriod %ss is invalid because this shared informer doesn't support resyncing",
            desired,
        )
        return 0.0
    if desired < check:
        log.warning(
            "resyncPeriod %ss is smaller than resyncCheckPeriod %ss; changing it to %ss",
            desired, check, check,
        )
        return check
    return desired


#: ``cache.ResourceEventHandlerRegistration``: the handle ``add_event_handler`` returns.
ResourceEventHandlerRegistration = ProcessorListener


class SharedProcessor:
    """``sharedProcessor``: the set of listeners of one informer and their syncing flags.

    Each listener maps to ``is_syncing``: whether it is due for the resync in
    progress.  Ordinary notifications go to every listener; *sync*
    notifications (an update with an unchanged resourceVersion, produced by
    a periodic resync or by a relist) only to syncing listeners, so each
    handler sees resyncs at its own period.
    """

    def __init__(self, clock: Clock = REAL_CLOCK) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: dict[ProcessorListener, bool] = {}
        self._started = False
        # Listeners whose delivery thread is running (Go's ``wg``): run() waits
        # for them on stop, including removed ones still finishing a handler
        # call.  A thread leaving takes its listener out, so nothing here holds
        # a removed handler once its thread is gone.
        self._running: set[ProcessorListener] = set()

    def add_listener(self, listener: ProcessorListener) -> ProcessorListener:
        """``addListener``: register (and start, if running); new listeners count as syncing."""
        with self._lock:
            self._listeners[listener] = True
            if self._started:
                self._start(listener)
        return listener

    def remove_listener(self, listener: ProcessorListener) -> None:
        """``removeListener``: unregister and stop a listener; unknown handles are ignored.

        The processor keeps no reference to it afterwards (once its thread
        ends), so adding and removing handlers in a loop does not grow memory.
        """
        with self._lock:
            if listener not in self._listeners:
                return
            del self._listeners[listener]
            if self._started:
                listener.close()

    def _start(self, listener: ProcessorListener) -> None:
        # Under self._lock.
        self._running.add(listener)
        listener.start(on_exit=self._exited)

    def _exited(self, listener: ProcessorListener) -> None:
        with self._lock:
            self._running.discard(listener)

    def running(self) -> int:
        """Listeners whose delivery thread has not ended yet."""
        with self._lock:
            return len(self._running)

    def listeners(self) -> list[ProcessorListener]:
        """The registered listeners (a copy)."""
        with self._lock:
            return list(self._listeners)

    def distribute(self, notification: Notification, sync: bool) -> None:
        """Give ``notification`` to every listener, or only to syncing ones if ``sync``."""
        with self._lock:
            for listener, is_syncing in self._listeners.items():
                if not sync or is_syncing:
                    listener.add(notification)

    def run(self, stop_event: threading.Event) -> None:
        """Start every listener, block until ``stop_event``, then stop and wait for them."""
        with self._lock:
            for listener in self._listeners:
                self._start(listener)
            self._started = True
        stop_event.wait()
        with self._lock:
            listeners = list(self._listeners)
            started = list(self._running)
            for listener in listeners:
                listener.close()
            # Listeners cannot be reused once closed.
            self._listeners = {}
            self._started = False
        for listener in started:
            listener.join()

    def should_resync(self) -> bool:
        """``shouldResync``: mark which listeners are due and return whether any is.

        Called by the reflector's resync timer before it asks the queue to
        resync.  Due listeners get their next resync scheduled; the syncing
        flags stay until the next call and decide who receives the sync
        notifications the resync produces.
        """
        with self._lock:
            now = self._clock.now()
            needed = False
            for listener in self._listeners:
                due = listener.should_resync(now)
                self._listeners[listener] = due
                if due:
                    needed = True
                    listener.determine_next_resync(now)
            return needed

    def resync_check_period_changed(self, resync_check_period: float) -> None:
        """``resyncCheckPeriodChanged``: recompute every listener's granted period."""
        with self._lock:
            for listener in self._listeners:
                listener.set_resync_period(
                    determine_resync_period(listener.requested_resync_period, resync_check_period)
                )

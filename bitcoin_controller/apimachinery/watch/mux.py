"""Fan one stream of events out to many watchers: ``watch.Broadcaster`` (``pkg/watch/mux.go``).

client-go's event recording is built on this: a recorder calls
:meth:`Broadcaster.action_or_drop`, and every sink (the API server, a log,
a test) is a watcher of the same broadcaster.

How it works, and why:

* Senders put events on one bounded *incoming* queue; a single distribution
  thread takes them off in order and offers each one to every watcher.  One
  thread means every watcher sees the events in the same order.
* Each watcher has its own bounded buffer.  What happens when a watcher's
  buffer is full is the broadcaster's :class:`FullChannelBehavior`:
  ``WAIT_IF_CHANNEL_FULL`` blocks the distribution thread (a slow watcher
  slows everyone, nobody misses anything); ``DROP_IF_CHANNEL_FULL`` skips that
  watcher for that event (the others are not affected).
* The set of watchers is only ever touched by the distribution thread.
  Registering or removing a watcher is done by sending a *marker* -- a
  function -- through the incoming queue and waiting for the distribution
  thread to run it.  So a new watcher sees exactly the events sent after it
  was registered, never an older one and never a gap.
* :meth:`Broadcaster.shutdown` is a marker too: events queued before it are
  still delivered, then every watcher is closed.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .watch import EventType, Interface

__all__ = [
    "INCOMING_QUEUE_LENGTH",
    "FullChannelBehavior",
    "WAIT_IF_CHANNEL_FULL",
    "DROP_IF_CHANNEL_FULL",
    "BroadcasterStoppedError",
    "Broadcaster",
    "new_broadcaster",
    "new_long_queue_broadcaster",
]

_log = logging.getLogger(__name__)

#: ``incomingQueueLength``: capacity of the incoming queue of :func:`new_broadcaster`.
INCOMING_QUEUE_LENGTH = 25


class FullChannelBehavior(enum.IntEnum):
    """``watch.FullChannelBehavior``: what to do when a watcher's buffer is full."""

    #: Block the distribution thread until the watcher makes room (or stops).
    WAIT_IF_CHANNEL_FULL = 0
    #: Skip that watcher for this event; the other watchers still get it.
    DROP_IF_CHANNEL_FULL = 1


WAIT_IF_CHANNEL_FULL = FullChannelBehavior.WAIT_IF_CHANNEL_FULL
DROP_IF_CHANNEL_FULL = FullChannelBehavior.DROP_IF_CHANNEL_FULL


class BroadcasterStoppedError(RuntimeError):
    """Sending to, or watching, a broadcaster after :meth:`Broadcaster.shutdown`.

    Go returns ``fmt.Errorf("broadcaster already stopped")``; Go's error
    becomes a Python exception here.
    """

    def __init__(self) -> None:
        super().__init__("broadcaster already stopped")


class _Marker:
    """A function smuggled through the incoming queue, run by the distribution thread."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn


class _BroadcasterWatcher(Interface):
    """One watcher of a :class:`Broadcaster` (Go's ``broadcasterWatcher``).

    Its buffer is a bounded channel: the distribution thread offers events
    with :meth:`_offer`, the consumer iterates.  Once closed, iteration
    drains what is buffered and then ends, like ranging over a closed Go
    channel.
    """

    def __init__(self, broadcaster: Broadcaster, watcher_id: int, capacity: int) -> None:
        self._broadcaster = broadcaster
        self._id = watcher_id
        self._capacity = capacity
        self._buffer: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        # A consumer waiting in __iter__ counts as room, so a capacity of 0
        # behaves like an unbuffered Go channel (a hand-off to a waiting reader).
        self._receivers_waiting = 0
        self._stopped = False  # the consumer called stop(): never block on this watcher again
        self._closed = False  # no further events will be added

    # -- distribution side (called only by the distribution thread) -----------
    def _offer(self, event: dict[str, Any], block: bool) -> bool:
        """Add ``event``; wait for room only if ``block``.  False if not delivered."""
        with self._cond:
            while len(self._buffer) >= self._capacity + self._receivers_waiting:
                if self._stopped or self._closed or not block:
                    return False
                self._cond.wait()
            if self._stopped or self._closed:
                return False
            self._buffer.append(event)
            self._cond.notify_all()
            return True

    def _close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- consumer side --------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            with self._cond:
                self._receivers_waiting += 1
                # A sender blocked on a full (or unbuffered) channel may hand off to us now.
                self._cond.notify_all()
                try:
                    while not self._buffer and not self._closed:
                        self._cond.wait()
                finally:
                    self._receivers_waiting -= 1
                if not self._buffer:
                    return  # closed and drained
                event = self._buffer.popleft()
                self._cond.notify_all()  # room for a sender blocked in _offer
            yield event

    def stop(self) -> None:
        """Stop watching: idempotent, callable from any thread.

        The watcher is closed at once (so a blocked iteration ends and the
        distribution thread never blocks on it again), then removed from the
        broadcaster through the incoming queue, keeping the rule that only
        the distribution thread changes the set of watchers.
        """
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
            self._closed = True
            self._cond.notify_all()
        self._broadcaster._stop_watching(self._id)


class Broadcaster:
    """``watch.Broadcaster``: distribute events from any number of senders to every watcher.

    ``queue_length`` is the buffer of each watcher; the incoming queue holds
    ``incoming_queue_length`` events (25 unless built with
    :func:`new_long_queue_broadcaster`).  One daemon thread distributes.
    """

    def __init__(
        self,
        queue_length: int,
        full_channel_behavior: FullChannelBehavior = WAIT_IF_CHANNEL_FULL,
        *,
        incoming_queue_length: int = INCOMING_QUEUE_LENGTH,
    ) -> None:
        if queue_length < 0 or incoming_queue_length < 1:
            raise ValueError("queue lengths must be positive")
        self._watch_queue_length = queue_length
        self._full_channel_behavior = FullChannelBehavior(full_channel_behavior)
        self._incoming: queue.Queue[Any] = queue.Queue(maxsize=incoming_queue_length)
        # Serialises the *blocking* senders (action, markers) with the stop
        # check, like Go's ``incomingBlock`` mutex: nothing blocking can slip
        # into the queue once shutdown has been queued.
        self._incoming_block = threading.Lock()
        # Held only around a stop check plus a non-blocking put, so
        # action_or_drop never waits behind a blocked sender.
        self._send_lock = threading.Lock()
        self._stopped = threading.Event()
        self._exit_loop = False
        self._watchers: dict[int, _BroadcasterWatcher] = {}  # owned by the distribution thread
        self._next_watcher = 0
        self._thread = threading.Thread(target=self._loop, name="watch-broadcaster", daemon=True)
        self._thread.start()

    # -- sending --------------------------------------------------------------
    def action(self, event_type: EventType | str, obj: Any) -> None:
        """Queue an event for every watcher, waiting while the incoming queue is full.

        Raises :class:`BroadcasterStoppedError` after :meth:`shutdown`.
        """
        with self._incoming_block:
            if self._stopped.is_set():
                raise BroadcasterStoppedError()
            self._incoming.put(_make_event(event_type, obj))

    def action_or_drop(self, event_type: EventType | str, obj: Any) -> bool:
        """Queue an event unless the incoming queue is full; never waits.

        Returns False when the event was dropped.  This is what event
        recording uses, so a flood of events cannot stall a controller.
        Raises :class:`BroadcasterStoppedError` after :meth:`shutdown`.
        """
        with self._send_lock:
            if self._stopped.is_set():
                raise BroadcasterStoppedError()
            try:
                self._incoming.put_nowait(_make_event(event_type, obj))
            except queue.Full:
                return False
            return True

    # -- watching -------------------------------------------------------------
    def watch(self) -> Interface:
        """A new watcher that receives every event sent after this call returns.

        Raises :class:`BroadcasterStoppedError` after :meth:`shutdown`.
        """
        return self._add_watcher([], self._watch_queue_length)

    def watch_with_prefix(self, events: Iterable[dict[str, Any]]) -> Interface:
        """Like :meth:`watch`, but the watcher first receives ``events``.

        ``events`` are watch events (``{"type": ..., "object": ...}``).  The
        buffer is enlarged to hold them all plus one, so the prefix can never
        make the watcher drop or block.
        """
        prefix = list(events)
        return self._add_watcher(prefix, max(self._watch_queue_length, len(prefix) + 1))

    def _add_watcher(self, prefix: list[dict[str, Any]], capacity: int) -> Interface:
        created: list[_BroadcasterWatcher] = []

        def register() -> None:
            watcher_id = self._next_watcher
            self._next_watcher += 1
            watcher = _BroadcasterWatcher(self, watcher_id, capacity)
            for event in prefix:
                watcher._offer(event, block=False)
            self._watchers[watcher_id] = watcher
            created.append(watcher)

        self._block_queue(register)
        if not created:
            raise BroadcasterStoppedError()
        return created[0]

    def _stop_watching(self, watcher_id: int) -> None:
        def remove() -> None:
            watcher = self._watchers.pop(watcher_id, None)
            if watcher is not None:
                watcher._close()

        self._block_queue(remove)

    # -- shutting down --------------------------------------------------------
    def shutdown(self) -> None:
        """Stop accepting events, deliver those already queued, then close every watcher.

        Blocks until the distribution thread has finished.  Idempotent.
        Watchers keep what is in their buffers: consumers read it before
        their iteration ends.
        """

        def stop() -> None:
            with self._send_lock:
                self._stopped.set()
            self._exit_loop = True

        self._block_queue(stop)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def stopped(self) -> bool:
        """True once :meth:`shutdown` has been called."""
        return self._stopped.is_set()

    # -- the distribution thread ----------------------------------------------
    def _block_queue(self, fn: Callable[[], None]) -> bool:
        """Run ``fn`` on the distribution thread, after every event queued before it.

        Returns False (without running ``fn``) once the broadcaster is stopped.
        """
        with self._incoming_block:
            if self._stopped.is_set():
                return False
            if threading.current_thread() is self._thread:
                fn()  # already on the distribution thread: queueing would deadlock
                return True
            done = threading.Event()

            def run() -> None:
                try:
                    fn()
                finally:
                    done.set()

            self._incoming.put(_Marker(run))
            done.wait()
            return True

    def _loop(self) -> None:
        while not self._exit_loop:
            self._handle(self._incoming.get())
        # Shutdown was queued behind every blocking sender; only a racing
        # action_or_drop that passed its stop check can have queued after it.
        # Such an event was accepted, so it is delivered too.
        while True:
            try:
                item = self._incoming.get_nowait()
            except queue.Empty:
                break
            self._handle(item)
        for watcher in self._watchers.values():
            watcher._close()
        self._watchers.clear()

    def _handle(self, item: Any) -> None:
        if isinstance(item, _Marker):
            try:
                item.fn()
            except Exception:  # a broken marker must not kill the only distribution thread
                _log.exception("broadcaster marker function failed")
            return
        self._distribute(item)

    def _distribute(self, event: dict[str, Any]) -> None:
        block = self._full_channel_behavior == WAIT_IF_CHANNEL_FULL
        for watcher in list(self._watchers.values()):
            watcher._offer(event, block)


def _make_event(event_type: EventType | str, obj: Any) -> dict[str, Any]:
    return {"type": str(event_type), "object": obj}


def new_broadcaster(
    queue_length: int, full_channel_behavior: FullChannelBehavior = WAIT_IF_CHANNEL_FULL
) -> Broadcaster:
    """``watch.NewBroadcaster``: watcher buffers of ``queue_length``, incoming queue of 25."""
    return Broadcaster(queue_length, full_channel_behavior)


def new_long_queue_broadcaster(
    queue_length: int, full_channel_behavior: FullChannelBehavior = WAIT_IF_CHANNEL_FULL
) -> Broadcaster:
    """``watch.NewLongQueueBroadcaster``: the incoming queue is ``queue_length`` long too.

    Used by event recording (1000, drop if full) so that bursts of events
    are absorbed rather than dropped at the door.
    """
    return Broadcaster(queue_length, full_channel_behavior, incoming_queue_length=queue_length)

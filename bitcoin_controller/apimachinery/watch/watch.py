"""The watch interface and a fake watcher (``watch.Interface``, ``watch.NewRaceFreeFake``)."""

from __future__ import annotations

import enum
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

__all__ = [
    "EventType",
    "ADDED",
    "MODIFIED",
    "DELETED",
    "BOOKMARK",
    "ERROR",
    "DEFAULT_CHAN_SIZE",
    "Interface",
    "FakeWatcher",
    "WatcherFullError",
]


class EventType(enum.StrEnum):
    """``watch.EventType``; the values are the strings the API server sends."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"


ADDED = EventType.ADDED
MODIFIED = EventType.MODIFIED
DELETED = EventType.DELETED
BOOKMARK = EventType.BOOKMARK
ERROR = EventType.ERROR

#: ``watch.DefaultChanSize``: the buffer of a fake watcher.
DEFAULT_CHAN_SIZE = 100


class Interface(ABC):
    """``watch.Interface``: iterate for events, ``stop()`` to end the watch.

    Implementations must let ``stop()`` be called from another thread while a
    consumer is blocked in iteration, and must make it idempotent.
    """

    @abstractmethod
    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Yield ``{"type": str, "object": dict}`` events until the watch ends."""

    @abstractmethod
    def stop(self) -> None:
        """End the watch; a blocked iteration returns promptly."""

    def __enter__(self) -> Interface:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WatcherFullError(RuntimeError):
    """A fake watcher's buffer is full (Go panics with "channel full")."""


_CLOSED = object()


class FakeWatcher(Interface):
    """A watcher fed by hand (``watch.NewRaceFreeFake``).

    Events are buffered (``DEFAULT_CHAN_SIZE`` = 100).  Sending to a full
    buffer raises :class:`WatcherFullError`, as the Go fake panics: a test
    that floods a watcher without reading it has a bug.  Sending after
    ``stop()`` is silently ignored.
    """

    def __init__(self, size: int = DEFAULT_CHAN_SIZE) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=size + 1)  # +1 for the close marker
        self._size = size
        self._lock = threading.Lock()
        self._stopped = False

    # -- producer side --------------------------------------------------------
    def action(self, event_type: EventType | str, obj: Any) -> None:
        with self._lock:
            if self._stopped:
                return
            if self._queue.qsize() >= self._size:
                raise WatcherFullError("channel full")
            self._queue.put_nowait({"type": str(event_type), "object": obj})

    def add(self, obj: Any) -> None:
        self.action(ADDED, obj)

    def modify(self, obj: Any) -> None:
        self.action(MODIFIED, obj)

    def delete(self, obj: Any) -> None:
        self.action(DELETED, obj)

    def bookmark(self, obj: Any) -> None:
        self.action(BOOKMARK, obj)

    def error(self, status: Any) -> None:
        self.action(ERROR, status)

    @property
    def is_stopped(self) -> bool:
        with self._lock:
            return self._stopped

    # -- consumer side --------------------------------------------------------
    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._queue.put_nowait(_CLOSED)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            item = self._queue.get()
            if item is _CLOSED:
                # Leave the marker for any other consumer blocked on the same watcher.
                self._queue.put_nowait(_CLOSED)
                return
            yield item

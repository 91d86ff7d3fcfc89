"""Watch streams, mirroring ``k8s.io/apimachinery/pkg/watch``.

A watch is a stream of events ``{"type": ..., "object": ...}`` where
``type`` is one of the :class:`EventType` values and ``object`` the
decoded object (for ``ERROR``, a ``metav1.Status``).  In Go a watch is a
channel plus ``Stop()``; here it is an iterator plus :meth:`Interface.stop`:
iteration blocks until the next event and ends when the watch is closed --
by the server (a clean close, e.g. its ``timeoutSeconds``), by a dropped
connection, or by ``stop()`` from any thread.
"""

from .watch import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    MODIFIED,
    DEFAULT_CHAN_SIZE,
    EventType,
    FakeWatcher,
    Interface,
    WatcherFullError,
)

__all__ = [
    "ADDED",
    "BOOKMARK",
    "DELETED",
    "ERROR",
    "MODIFIED",
    "DEFAULT_CHAN_SIZE",
    "EventType",
    "FakeWatcher",
    "Interface",
    "WatcherFullError",
]

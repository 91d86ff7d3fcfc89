"""Watch streams, mirroring ``k8s.io/apimachinery/pkg/watch``.

A watch is a stream of events ``{"type": ..., "object": ...}`` where
``type`` is one of the :class:`EventType` values and ``object`` the
decoded object (for ``ERROR``, a ``metav1.Status``).  In Go a watch is a
channel plus ``Stop()``; here it is an iterator plus :meth:`Interface.stop`:
iteration blocks until the next event and ends when the watch is closed --
by the server (a clean close, e.g. its ``timeoutSeconds``), by a dropped
connection, or by ``stop()`` from any thread.
"""

from .mux import (
    DROP_IF_CHANNEL_FULL,
    WAIT_IF_CHANNEL_FULL,
    Broadcaster,
    BroadcasterStoppedError,
    FullChannelBehavior,
    new_broadcaster,
    new_long_queue_broadcaster,
)
from .watch import (
    ADDED,
    BOOKMARK,
    DEFAULT_CHAN_SIZE,
    DELETED,
    ERROR,
    MODIFIED,
    EventType,
    FakeWatcher,
    Interface,
    WatcherFullError,
)

__all__ = [
    "DROP_IF_CHANNEL_FULL",
    "WAIT_IF_CHANNEL_FULL",
    "Broadcaster",
    "BroadcasterStoppedError",
    "FullChannelBehavior",
    "new_broadcaster",
    "new_long_queue_broadcaster",
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

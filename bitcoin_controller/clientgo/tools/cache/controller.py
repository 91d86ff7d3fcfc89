"""The low-level informer controller and event handlers, mirroring
``k8s.io/client-go/tools/cache/controller.go``.

A :class:`Controller` wires three things together::

    ListerWatcher --Reflector--> Queue (a DeltaFIFO) --process loop--> process(deltas)

The reflector fills the queue from the API server in one thread; the process
loop pops one key's :class:`~.delta_fifo.Deltas` at a time and hands them to
``Config.process``.  A shared informer's process function updates its
indexer and notifies event handlers; :func:`new_informer` builds the simpler
single-handler version.

Event handlers implement :class:`ResourceEventHandler`.  Handlers are told
*that* something changed, never asked to do slow work: the idiom is to
compute a key and put it on a work queue.  :class:`ResourceEventHandlerFuncs`
adapts plain functions, :class:`FilteringResourceEventHandler` narrows the
stream to the objects a controller cares about.

Delete handlers must accept a
:class:`~.keys.DeletedFinalStateUnknown` tombstone as well as an object: a
deletion the watch missed is discovered by a relist, and all that is known
then is the last cached state.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ....apimachinery import wait
from ....utils.clock import REAL_CLOCK, Clock
from .delta_fifo import DeltaFIFO, Deltas, DeltaType, FIFOClosedError, Queue, RequeueError
from .keys import deletion_handling_meta_namespace_key_func
from .listwatch import ListerWatcher
from .reflector import Reflector, WatchErrorHandler
from .store import Indexer, Store, new_indexer, new_store

__all__ = [
    "ResourceEventHandler",
    "ResourceEventHandlerFuncs",
    "ResourceEventHandlerDetailedFuncs",
    "FilteringResourceEventHandler",
    "ProcessFunc",
    "Config",
    "Controller",
    "new",
    "process_deltas",
    "new_informer",
    "new_indexer_informer",
]

log = logging.getLogger(__name__)

#: ``cache.ProcessFunc``: consumes one popped item, ``(deltas, is_in_initial_list)``.
ProcessFunc = Callable[[Deltas, bool], Any]


# -- event handlers ---------------------------------------------------------------


class ResourceEventHandler(ABC):
    """``cache.ResourceEventHandler``: what an informer notifies.

    * ``on_add(obj, is_in_initial_list)`` -- an object appeared in the cache;
      ``is_in_initial_list`` is true while the informer delivers its first
      list (or replays the cache to a handler added late), so a handler can
      tell "already existed" from "just created".
    * ``on_update(old, new)`` -- an object changed, *or* a periodic resync /
      relist re-delivered it unchanged (then ``old`` and ``new`` have the same
      resourceVersion).
    * ``on_delete(obj)`` -- the final state, or a
      :class:`~.keys.DeletedFinalStateUnknown` tombstone.

    Each handler is called from one thread, one notification at a time, in
    order.  Objects are the cache's own: never modify them.  Any object with
    these three methods can be registered; subclassing is optional.
    """

    @abstractmethod
    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        """An object was added to the cache."""

    @abstractmethod
    def on_update(self, old: Any, new: Any) -> None:
        """An object changed (or was re-delivered by a resync or relist)."""

    @abstractmethod
    def on_delete(self, obj: Any) -> None:
        """An object was removed; ``obj`` may be a ``DeletedFinalStateUnknown``."""


class ResourceEventHandlerFuncs(ResourceEventHandler):
    """``cache.ResourceEventHandlerFuncs``: a handler from up to three functions.

    ``on_add(obj)`` takes only the object (the ``is_in_initial_list`` flag is
    dropped, as in Go); missing functions mean "ignore that kind of event".
    """

    def __init__(
        self,
        on_add: Callable[[Any], Any] | None = None,
        on_update: Callable[[Any, Any], Any] | None = None,
        on_delete: Callable[[Any], Any] | None = None,
    ) -> None:
        self.add_func = on_add
        self.update_func = on_update
        self.delete_func = on_delete

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if self.add_func is not None:
            self.add_func(obj)

    def on_update(self, old: Any, new: Any) -> None:
        if self.update_func is not None:
            self.update_func(old, new)

    def on_delete(self, obj: Any) -> None:
        if self.delete_func is not None:
            self.delete_func(obj)


class ResourceEventHandlerDetailedFuncs(ResourceEventHandlerFuncs):
    """``cache.ResourceEventHandlerDetailedFuncs``: like the plain form, but
    ``on_add(obj, is_in_initial_list)`` receives the flag."""

    def __init__(
        self,
        on_add: Callable[[Any, bool], Any] | None = None,
        on_update: Callable[[Any, Any], Any] | None = None,
        on_delete: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__(on_add, on_update, on_delete)  # type: ignore[arg-type]

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if self.add_func is not None:
            self.add_func(obj, is_in_initial_list)  # type: ignore[call-arg]


class FilteringResourceEventHandler(ResourceEventHandler):
    """``cache.FilteringResourceEventHandler``: pass on only objects ``filter_func`` accepts.

    An update is translated so that the inner handler sees a consistent
    world: if the object starts passing the filter it is an add, if it stops
    passing it is a delete, if both versions pass it is an update, and if
    neither does nothing is delivered.  (``filter_func`` also sees
    tombstones on delete.)
    """

    def __init__(self, filter_func: Callable[[Any], bool], handler: Any) -> None:
        self.filter_func = filter_func
        self.handler = handler

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if self.filter_func(obj):
            self.handler.on_add(obj, is_in_initial_list)

    def on_update(self, old: Any, new: Any) -> None:
        new_passes = self.filter_func(new)
        old_passes = self.filter_func(old)
        if new_passes and old_passes:
            self.handler.on_update(old, new)
        elif new_passes:
            self.handler.on_add(new, False)
        elif old_passes:
            self.handler.on_delete(old)

    def on_delete(self, obj: Any) -> None:
        if self.filter_func(obj):
            self.handler.on_delete(obj)


# -- the controller -----------------------------------------------------------------


@dataclass
class Config:
    """``cache.Config``: everything a :class:`Controller` needs.

    ``queue`` is filled by the reflector and drained by the process loop
    (normally a :class:`~.delta_fifo.DeltaFIFO`).  ``should_resync`` is asked
    before each periodic resync (a shared informer asks its handlers).
    With ``retry_on_error`` a failed ``process`` call re-queues the item
    (classic client-go; removed in v0.33), otherwise the error is logged and
    the item dropped.
    """

    queue: Queue
    lister_watcher: ListerWatcher
    process: ProcessFunc
    object_type: Any = None
    object_description: str | None = None
    full_resync_period: float = 0.0
    should_resync: Callable[[], bool] | None = None
    retry_on_error: bool = False
    watch_error_handler: WatchErrorHandler | None = None
    watch_list_page_size: int = 0
    min_watch_timeout: float | None = None
    #: Names the reflector in logs and metrics (the ``name`` label).
    name: str | None = None
    clock: Clock = field(default=REAL_CLOCK)


class Controller:
    """``cache.controller``: run a reflector and a process loop over one queue.

    :meth:`run` blocks until the stop event is set.  On stop the queue is
    closed, which ends the process loop once the queue is drained (a closed
    DeltaFIFO still hands out what it holds), and the reflector's watch is
    stopped.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._reflector: Reflector | None = None

    def run(self, stop_event: threading.Event) -> None:
        """``Run``: start the reflector in a thread and process the queue until stopped."""
        cfg = self.config
        wait.after_func(stop_event, cfg.queue.close)
        reflector = Reflector(
            cfg.name,
            cfg.lister_watcher,
            cfg.object_type,
            cfg.queue,
            cfg.full_resync_period,
            clock=cfg.clock,
            min_watch_timeout=cfg.min_watch_timeout,
            watch_list_page_size=cfg.watch_list_page_size,
            should_resync=cfg.should_resync,
            watch_error_handler=cfg.watch_error_handler,
            type_description=cfg.object_description,
        )
        with self._lock:
            self._reflector = reflector
        reflector_thread = threading.Thread(
            target=reflector.run,
            args=(stop_event,),
            name=f"reflector-{reflector.name}",
            daemon=True,
        )
        reflector_thread.start()
        wait.until(self._process_loop, 1.0, stop_event, cfg.clock)
        reflector_thread.join()

    def has_synced(self) -> bool:
        """``HasSynced``: the queue's initial list has been popped and processed."""
        return self.config.queue.has_synced()

    def last_sync_resource_version(self) -> str:
        """``LastSyncResourceVersion``: the reflector's, or ``""`` before :meth:`run`."""
        with self._lock:
            reflector = self._reflector
        return "" if reflector is None else reflector.last_sync_resource_version()

    def _process_loop(self) -> None:
        """``processLoop``: pop and process until the queue is closed and empty."""
        process = self.config.process
        if self.config.retry_on_error:
            process = _requeue_on_error(process)
        queue = self.config.queue
        while True:
            try:
                queue.pop(process)
            except FIFOClosedError:
                return
            except Exception:
                # Go ignores the error here (RetryOnError aside); we at least log it.
                log.exception("error processing an item popped from the informer queue")


def _requeue_on_error(process: ProcessFunc) -> ProcessFunc:
    def wrapped(deltas: Deltas, is_in_initial_list: bool) -> Any:
        try:
            return process(deltas, is_in_initial_list)
        except RequeueError:
            raise
        except Exception as err:
            # Put the item back (unless newer deltas for its key arrived meanwhile).
            raise RequeueError(err) from err

    return wrapped


def new(config: Config) -> Controller:
    """``cache.New``: a controller for ``config``."""
    return Controller(config)


def process_deltas(
    handler: Any, client_state: Store, deltas: Deltas, is_in_initial_list: bool
) -> None:
    """``processDeltas``: apply one key's deltas to ``client_state`` and notify ``handler``.

    Oldest first.  Any non-delete delta of an object already in the store is
    an update (so a ``Replaced``/``Sync`` of an unchanged object reaches
    ``on_update`` with equal resourceVersions); of an unknown object, an add.
    A delete removes the object and passes whatever the delta holds -- maybe a
    tombstone -- to ``on_delete``.
    """
    for delta in deltas:
        obj = delta.object
        if delta.type == DeltaType.DELETED:
            client_state.delete(obj)
            handler.on_delete(obj)
            continue
        old, exists = client_state.get(obj)
        if exists:
            client_state.update(obj)
            handler.on_update(old, obj)
        else:
            client_state.add(obj)
            handler.on_add(obj, is_in_initial_list)


def _new_informer(
    lister_watcher: ListerWatcher,
    object_type: Any,
    resync_period: float,
    handler: Any,
    client_state: Store,
    transform: Callable[[Any], Any] | None,
    clock: Clock,
) -> Controller:
    fifo = DeltaFIFO(
        known_objects=client_state, emit_delta_type_replaced=True, transformer=transform
    )

    def process(deltas: Deltas, is_in_initial_list: bool) -> None:
        process_deltas(handler, client_state, deltas, is_in_initial_list)

    return Controller(
        Config(
            queue=fifo,
            lister_watcher=lister_watcher,
            process=process,
            object_type=object_type,
            full_resync_period=resync_period,
            clock=clock,
        )
    )


def new_informer(
    lister_watcher: ListerWatcher,
    object_type: Any,
    resync_period: float,
    handler: Any,
    *,
    transform: Callable[[Any], Any] | None = None,
    clock: Clock = REAL_CLOCK,
) -> tuple[Store, Controller]:
    """``cache.NewInformer``: a store kept in sync plus a controller notifying one handler.

    The single-handler ancestor of the shared informer; use it when nothing
    else needs the same cache.
    """
    store = new_store(deletion_handling_meta_namespace_key_func)
    return store, _new_informer(
        lister_watcher, object_type, resync_period, handler, store, transform, clock
    )


def new_indexer_informer(
    lister_watcher: ListerWatcher,
    object_type: Any,
    resync_period: float,
    handler: Any,
    indexers: dict[str, Callable[[Any], list[str]]],
    *,
    transform: Callable[[Any], Any] | None = None,
    clock: Clock = REAL_CLOCK,
) -> tuple[Indexer, Controller]:
    """``cache.NewIndexerInformer``: :func:`new_informer` with an indexer as the store."""
    indexer = new_indexer(deletion_handling_meta_namespace_key_func, indexers)
    return indexer, _new_informer(
        lister_watcher, object_type, resync_period, handler, indexer, transform, clock
    )

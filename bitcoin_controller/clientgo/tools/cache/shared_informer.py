"""The shared index informer, mirroring ``k8s.io/client-go/tools/cache/shared_informer.go``.

One informer per resource per process: it lists and watches once, keeps a
local indexed cache, and notifies any number of event handlers::

    ListerWatcher -> Reflector -> DeltaFIFO(known_objects=indexer)
        -> process loop: pop -> handle_deltas (under the block-deltas lock)
             -> indexer add/update/delete
             -> SharedProcessor.distribute -> one ProcessorListener per handler

Rules a user of an informer relies on:

* :meth:`SharedIndexInformer.has_synced` turns true once the first LIST has
  been fully applied to the indexer -- controllers wait for it
  (:func:`wait_for_cache_sync`) before trusting their listers;
* every handler sees, per object, a consistent sequence: add, updates, delete
  (with a tombstone if the deletion was missed);
* a handler added after start first receives the whole cache as adds with
  ``is_in_initial_list=True``; its registration's ``has_synced()`` turns true
  once it has processed them;
* a slow handler delays only itself;
* periodic resyncs reach a handler only at its own resync period; an
  unchanged object re-delivered by a relist likewise only reaches handlers
  that are resyncing.

Classic (v0.31/v0.32) behaviour; since v0.33 the queue is a ``RealFIFO``
(one entry per event rather than per key) and the cache mutation detector
(``KUBE_CACHE_MUTATION_DETECTOR``) is not mirrored here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ....apimachinery import metav1, wait
from ....utils.clock import REAL_CLOCK, Clock
from .controller import Config, Controller, process_deltas
from .delta_fifo import DeltaFIFO, Deltas
from .index import Indexers
from .keys import deletion_handling_meta_namespace_key_func
from .listwatch import ListerWatcher
from .processor import (
    AddNotification,
    DeleteNotification,
    ProcessorListener,
    SharedProcessor,
    UpdateNotification,
    determine_resync_period,
)
from .reflector import WatchErrorHandler, _expected_gvk, _gvk_description
from .store import Indexer, new_indexer

__all__ = [
    "SharedIndexInformer",
    "SharedInformer",
    "InformerSynced",
    "new_shared_informer",
    "new_shared_index_informer",
    "wait_for_cache_sync",
    "wait_for_named_cache_sync",
    "determine_resync_period",
    "MINIMUM_RESYNC_PERIOD",
    "SYNCED_POLL_PERIOD",
    "InformerAlreadyStartedError",
]

log = logging.getLogger(__name__)

#: ``minimumResyncPeriod``: shorter handler resync periods are raised to this.
MINIMUM_RESYNC_PERIOD = 1.0
#: ``syncedPollPeriod``: how often :func:`wait_for_cache_sync` checks.
SYNCED_POLL_PERIOD = 0.1

#: ``cache.InformerSynced``: a function that reports whether a cache has synced.
InformerSynced = Callable[[], bool]


class InformerAlreadyStartedError(RuntimeError):
    """A setting that must be made before :meth:`SharedIndexInformer.run` was made after it."""

    def __init__(self) -> None:
        super().__init__("informer has already started")


class SharedIndexInformer:
    """``cache.SharedIndexInformer``: a cached, indexed view of one resource shared by handlers.

    ``expected_type`` (a ``ResourceInfo``, an example object or an
    ``(apiVersion, kind)`` tuple) guards the cache against objects of another
    kind.  ``default_event_handler_resync_period`` is both the default
    handler resync period and the informer's resync *check* period (0 = no
    resyncs at all).  ``indexers`` come on top of the key (``ns/name``);
    factories add the ``namespace`` index.  ``name`` labels logs and reflector
    metrics (defaults to the resource, e.g. ``pods``).
    """

    def __init__(
        self,
        lister_watcher: ListerWatcher,
        expected_type: Any,
        default_event_handler_resync_period: float = 0.0,
        indexers: Indexers | None = None,
        *,
        name: str | None = None,
        object_description: str | None = None,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self._lister_watcher = lister_watcher
        self._expected_type = expected_type
        self._object_description = object_description or _gvk_description(
            _expected_gvk(expected_type)
        )
        if name is None:
            group_resource = getattr(expected_type, "group_resource", None)
            name = group_resource or self._object_description
        self.name = name
        self._clock = clock
        self._indexer = new_indexer(deletion_handling_meta_namespace_key_func, dict(indexers or {}))
        self._processor = SharedProcessor(clock)
        self._default_event_handler_resync_period = default_event_handler_resync_period
        self._resync_check_period = default_event_handler_resync_period
        self._watch_error_handler: WatchErrorHandler | None = None
        self._transform: Callable[[Any], Any] | None = None

        # Guards started/stopped, the controller and the resync check period.
        self._started_lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._controller: Controller | None = None
        # Held while deltas are applied, so that a handler added late gets a
        # snapshot of the cache with no event slipping between snapshot and live stream.
        self._block_deltas = threading.Lock()

    # -- configuration (before run) --------------------------------------------------------

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """``SetWatchErrorHandler``: called when a list-and-watch cycle fails.

        Must be set before :meth:`run`.
        """
        with self._started_lock:
            if self._started:
                raise InformerAlreadyStartedError()
            self._watch_error_handler = handler

    def set_transform(self, transform: Callable[[Any], Any] | None) -> None:
        """``SetTransform``: rewrite each object before it is cached; before :meth:`run`.

        Typical use: drop ``metadata.managedFields`` to save memory.  The
        function must be quick and should be idempotent (a relisted object may
        be transformed again).
        """
        with self._started_lock:
            if self._started:
                raise InformerAlreadyStartedError()
            self._transform = transform

    def add_indexers(self, indexers: Indexers) -> None:
        """``AddIndexers``: add indices; existing items are indexed at once.

        Allowed until the informer stops (client-go v0.26+).
        """
        with self._started_lock:
            if self._stopped:
                raise RuntimeError("indexer was not added because it has stopped already")
            self._indexer.add_indexers(indexers)

    # -- handlers ------------------------------------------------------------------------

    def add_event_handler(self, handler: Any) -> ProcessorListener:
        """``AddEventHandler``: register ``handler`` with the default resync period.

        Returns the registration (``has_synced()``, and the handle for
        :meth:`remove_event_handler`).  Raises ``RuntimeError`` if the
        informer has stopped.
        """
        return self.add_event_handler_with_resync_period(
            handler, self._default_event_handler_resync_period
        )

    def add_event_handler_with_resync_period(
        self, handler: Any, resync_period: float
    ) -> ProcessorListener:
        """``AddEventHandlerWithResyncPeriod``: register ``handler`` with its own resync period.

        The granted period follows client-go's rules: 0 means never; below
        1 s is raised to 1 s; shorter than the informer's check period it
        either lowers the check period (before start, recomputing the other
        handlers' periods) or is raised to it (after start); an informer built
        with resync 0 cannot resync, so the grant is 0.

        After start, the handler first receives the current cache as adds
        with ``is_in_initial_list=True`` -- queued under the block-deltas lock
        so nothing is missed or duplicated between that snapshot and the live
        stream.
        """
        with self._started_lock:
            if self._stopped:
                raise RuntimeError(
                    f"handler {handler!r} was not added to shared informer because it has "
                    "stopped already"
                )
            if resync_period > 0:
                if resync_period < MINIMUM_RESYNC_PERIOD:
                    log.warning(
                        "resyncPeriod %ss is too small. Changing it to the minimum allowed "
                        "value of %ss", resync_period, MINIMUM_RESYNC_PERIOD,
                    )
                    resync_period = MINIMUM_RESYNC_PERIOD
                if resync_period < self._resync_check_period:
                    if self._started:
                        log.warning(
                            "resyncPeriod %ss is smaller than resyncCheckPeriod %ss and the "
                            "informer has already started. Changing it to %ss",
                            resync_period, self._resync_check_period, self._resync_check_period,
                        )
                        resync_period = self._resync_check_period
                    else:
                        # Not started yet: check more often, and re-grant everyone's period.
                        self._resync_check_period = resync_period
                        self._processor.resync_check_period_changed(resync_period)

            listener = ProcessorListener(
                handler,
                resync_period,
                determine_resync_period(resync_period, self._resync_check_period),
                self._clock.now(),
                self.has_synced,
                self._clock,
            )
            if not self._started:
                return self._processor.add_listener(listener)

            with self._block_deltas:
                self._processor.add_listener(listener)
                for obj in self._indexer.list():
                    # Queued (and counted by the listener's sync tracker) before
                    # the handle is returned, so has_synced() can never be true early.
                    listener.add(AddNotification(obj, True))
            return listener

    def remove_event_handler(self, registration: ProcessorListener) -> None:
        """``RemoveEventHandler``: stop notifying a handler; unknown handles are ignored."""
        with self._started_lock, self._block_deltas:
            self._processor.remove_listener(registration)

    # -- running ------------------------------------------------------------------------

    def run(self, stop_event: threading.Event) -> None:
        """``Run``: list, watch and notify until ``stop_event`` is set; blocks.

        A second call logs a warning and returns.  The handlers' processor is
        stopped strictly after the controller, so every delta applied to the
        cache has been handed to the listeners before they shut down.
        """
        with self._started_lock:
            if self._started:
                log.warning("The sharedIndexInformer has started, run more than once is not "
                            "allowed")
                return
            fifo = DeltaFIFO(
                known_objects=self._indexer,
                emit_delta_type_replaced=True,
                transformer=self._transform,
            )
            self._controller = Controller(
                Config(
                    queue=fifo,
                    lister_watcher=self._lister_watcher,
                    process=self.handle_deltas,
                    object_type=self._expected_type,
                    object_description=self._object_description,
                    full_resync_period=self._resync_check_period,
                    should_resync=self._processor.should_resync,
                    retry_on_error=False,
                    watch_error_handler=self._watch_error_handler,
                    name=self.name,
                    clock=self._clock,
                )
            )
            self._started = True

        processor_stop = threading.Event()
        processor_thread = threading.Thread(
            target=self._processor.run,
            args=(processor_stop,),
            name=f"informer-processor-{self.name}",
            daemon=True,
        )
        processor_thread.start()
        try:
            self._controller.run(stop_event)
        finally:
            with self._started_lock:
                self._stopped = True  # no new handlers from now on
            processor_stop.set()
            processor_thread.join()

    def has_started(self) -> bool:
        """Whether :meth:`run` has been called."""
        with self._started_lock:
            return self._started

    def is_stopped(self) -> bool:
        """``IsStopped``: :meth:`run` has returned (or is returning)."""
        with self._started_lock:
            return self._stopped

    def has_synced(self) -> bool:
        """``HasSynced``: the first LIST has been applied to the cache.

        Says nothing about handlers -- use a registration's ``has_synced()``
        for that.
        """
        with self._started_lock:
            controller = self._controller
        return controller is not None and controller.has_synced()

    def last_sync_resource_version(self) -> str:
        """``LastSyncResourceVersion``: the reflector's, ``""`` before start."""
        with self._started_lock:
            controller = self._controller
        return "" if controller is None else controller.last_sync_resource_version()

    def get_store(self) -> Indexer:
        """``GetStore``: the cache (read-only use!)."""
        return self._indexer

    def get_indexer(self) -> Indexer:
        """``GetIndexer``: the cache with its indices (read-only use!)."""
        return self._indexer

    def get_controller(self) -> Controller | None:
        """``GetController``: the low-level controller, ``None`` before start."""
        with self._started_lock:
            return self._controller

    # -- processing (called by the controller's process loop) -----------------------------

    def handle_deltas(self, deltas: Deltas, is_in_initial_list: bool) -> None:
        """``HandleDeltas``: apply one key's deltas to the indexer and notify handlers."""
        if not isinstance(deltas, Deltas):
            raise TypeError("object given as Process argument is not Deltas")
        with self._block_deltas:
            process_deltas(self, self._indexer, deltas, is_in_initial_list)

    # The informer is itself the handler process_deltas notifies; it fans out.

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self._processor.distribute(AddNotification(obj, is_in_initial_list), False)

    def on_update(self, old: Any, new: Any) -> None:
        # An update that did not change the resourceVersion is a resync (Sync
        # delta) or a relist of an unchanged object (Replaced delta): only
        # handlers currently due for a resync get it.
        try:
            is_sync = metav1.get_resource_version(old) == metav1.get_resource_version(new)
        except metav1.ObjectMetaError:
            is_sync = False
        self._processor.distribute(UpdateNotification(old, new), is_sync)

    def on_delete(self, obj: Any) -> None:
        self._processor.distribute(DeleteNotification(obj), False)


#: ``cache.SharedInformer`` -- the same class; Go's interface without the indexer methods.
SharedInformer = SharedIndexInformer


def new_shared_informer(
    lister_watcher: ListerWatcher,
    expected_type: Any,
    default_event_handler_resync_period: float = 0.0,
    **options: Any,
) -> SharedIndexInformer:
    """``cache.NewSharedInformer``: a shared informer without extra indices."""
    return SharedIndexInformer(
        lister_watcher, expected_type, default_event_handler_resync_period, {}, **options
    )


def new_shared_index_informer(
    lister_watcher: ListerWatcher,
    expected_type: Any,
    default_event_handler_resync_period: float,
    indexers: Indexers,
    **options: Any,
) -> SharedIndexInformer:
    """``cache.NewSharedIndexInformer``."""
    return SharedIndexInformer(
        lister_watcher, expected_type, default_event_handler_resync_period, indexers, **options
    )


def wait_for_cache_sync(
    stop_event: threading.Event, *cache_syncs: InformerSynced, clock: Clock = REAL_CLOCK
) -> bool:
    """``cache.WaitForCacheSync``: wait until every function returns true.

    Checks at once, then every 100 ms.  Returns ``False`` if ``stop_event``
    is set first -- callers must then not start their workers.
    """

    def all_synced() -> bool:
        return all(synced() for synced in cache_syncs)

    return wait.poll_until(all_synced, SYNCED_POLL_PERIOD, stop_event, immediate=True, clock=clock)


def wait_for_named_cache_sync(
    controller_name: str,
    stop_event: threading.Event,
    *cache_syncs: InformerSynced,
    clock: Clock = REAL_CLOCK,
) -> bool:
    """``cache.WaitForNamedCacheSync``: :func:`wait_for_cache_sync` with log lines."""
    log.info("Waiting for caches to sync for %s", controller_name)
    if not wait_for_cache_sync(stop_event, *cache_syncs, clock=clock):
        log.error("unable to sync caches for %s", controller_name)
        return False
    log.info("Caches are synced for %s", controller_name)
    return True

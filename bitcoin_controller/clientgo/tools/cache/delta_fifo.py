"""The DeltaFIFO, mirroring client-go's ``tools/cache/delta_fifo.go`` (classic,
v0.31/v0.32), with the ``Queue`` interface and errors of ``fifo.go``.

The DeltaFIFO sits between a reflector (which LISTs and WATCHes the API
server) and an informer (which keeps a cache and calls event handlers)::

    reflector --add/update/delete/replace--> DeltaFIFO --pop(process)--> informer

It is a queue of *keys*, each with the list of everything that happened to
that object while it waited (its :class:`Deltas`): a consumer pops a key once
and sees every change, oldest first, instead of one queue entry per event.
Two jobs make it more than a queue:

* **deletion detection on relist** -- :meth:`DeltaFIFO.replace` compares the
  new list with what is queued and with what the consumer already knows
  (``known_objects``, the informer's cache) and queues a ``Deleted`` delta
  holding a :class:`~.keys.DeletedFinalStateUnknown` tombstone for every
  object that vanished while the watch was down;
* **knowing when the initial list has been processed** --
  :meth:`DeltaFIFO.has_synced`, which informers' ``has_synced`` builds on.

Later client-go versions (v0.33+) replaced it in informers by ``RealFIFO``,
which keeps one entry per event instead of coalescing per key; see the notes
on :class:`DeltaFIFO`.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

from .keys import DeletedFinalStateUnknown, KeyFunc, KeyFuncError, meta_namespace_key_func
from .store import Store

__all__ = [
    "DeltaType",
    "Delta",
    "Deltas",
    "DeltaFIFO",
    "Queue",
    "KeyLister",
    "KeyGetter",
    "KeyListerGetter",
    "PopProcessFunc",
    "TransformFunc",
    "FIFOClosedError",
    "RequeueError",
]

_log = logging.getLogger(__name__)

# client-go traces a Pop whose process function is slow while a backlog waits.
_TRACE_MIN_DEPTH = 10
_TRACE_THRESHOLD = 0.1


class DeltaType(enum.StrEnum):
    """``cache.DeltaType``: what happened to an object; the values are client-go's strings.

    A :class:`str` enum, so ``DeltaType.ADDED == "Added"`` and it formats as
    ``Added`` in logs, as in Go.
    """

    #: A watch ADDED event (``Add``).
    ADDED = "Added"
    #: A watch MODIFIED event (``Update``).
    UPDATED = "Updated"
    #: A watch DELETED event, or an object missing from a relist (then a tombstone).
    DELETED = "Deleted"
    #: An object present in a relist (``Replace`` with ``emit_delta_type_replaced``);
    #: it may or may not have changed.
    REPLACED = "Replaced"
    #: A periodic resync of a cached object (also ``Replace`` without
    #: ``emit_delta_type_replaced``, for backwards compatibility).
    SYNC = "Sync"


_ADDED = DeltaType.ADDED
_UPDATED = DeltaType.UPDATED
_DELETED = DeltaType.DELETED
_REPLACED = DeltaType.REPLACED
_SYNC = DeltaType.SYNC


class Delta(NamedTuple):
    """``cache.Delta``: one change -- its :class:`DeltaType` and the object after it.

    For ``Deleted`` the object is the final state, or a
    :class:`~.keys.DeletedFinalStateUnknown` tombstone when the deletion was
    inferred from a relist.
    """

    type: DeltaType
    object: Any


class Deltas(list[Delta]):
    """``cache.Deltas``: the changes to one object, oldest first."""

    __slots__ = ()

    def oldest(self) -> Delta | None:
        """The first delta, or ``None`` if there are none."""
        return self[0] if self else None

    def newest(self) -> Delta | None:
        """The latest delta (the most recent state), or ``None`` if there are none."""
        return self[-1] if self else None


class FIFOClosedError(Exception):
    """``cache.ErrFIFOClosed``: the queue is closed and has nothing left to pop."""

    def __init__(self, message: str = "DeltaFIFO: manipulating with closed queue") -> None:
        super().__init__(message)


class RequeueError(Exception):
    """``cache.ErrRequeue{Err}``: a process function asks for its item to be put back.

    A process function passed to :meth:`DeltaFIFO.pop` may return or raise
    this.  The popped deltas are then re-queued with add-if-not-present
    semantics (only if no newer deltas for that key arrived meanwhile, because
    the newer ones supersede them), and ``pop`` raises ``err`` (or returns
    normally if ``err`` is ``None``).

    Classic client-go only: v0.33 removed ``ErrRequeue`` together with
    ``AddIfNotPresent`` and ``Config.RetryOnError``.
    """

    def __init__(self, err: BaseException | None = None) -> None:
        super().__init__(str(err) if err is not None else "requeue")
        self.err = err


#: ``cache.PopProcessFunc``: handles one popped item; called with the FIFO's lock
#: held.  Return ``None``, or a :class:`RequeueError` to have the item re-queued.
PopProcessFunc = Callable[[Deltas, bool], "RequeueError | None"]

#: ``cache.TransformFunc``: rewrites an object before it is queued (e.g. to drop
#: ``managedFields`` and save memory); raises on failure.
TransformFunc = Callable[[Any], Any]


class KeyLister(Protocol):
    """``cache.KeyLister``: anything that can list its keys."""

    def list_keys(self) -> list[str]: ...


class KeyGetter(Protocol):
    """``cache.KeyGetter``: anything that can look an object up by key."""

    def get_by_key(self, key: str) -> tuple[Any, bool]: ...


class KeyListerGetter(KeyLister, KeyGetter, Protocol):
    """``cache.KeyListerGetter``: what a DeltaFIFO needs of ``known_objects``.

    In an informer this is the informer's indexer, i.e. the consumer's view of
    the world.
    """


class Queue(Store):
    """``cache.Queue`` (declared in Go's ``fifo.go``): a Store that is also a work
    queue, as consumed by client-go's ``controller`` processing loop."""

    @abstractmethod
    def pop(self, process: PopProcessFunc) -> Any:
        """Block until an item is available, process it, and return it."""

    @abstractmethod
    def add_if_not_present(self, obj: Any) -> None:
        """Queue ``obj`` unless its key is already queued (used to retry an item)."""

    @abstractmethod
    def has_synced(self) -> bool:
        """Whether the first batch of items has been popped and processed."""

    @abstractmethod
    def close(self) -> None:
        """Wake blocked consumers; ``pop`` fails once the queue is empty."""


class DeltaFIFO(Queue):
    """``cache.DeltaFIFO``: a per-key FIFO of :class:`Deltas` with relist deletion detection.

    Data model (all guarded by one lock and its :class:`threading.Condition`):

    * ``_items``: key -> :class:`Deltas`, never empty;
    * ``_queue``: keys in FIFO order, each at most once; a key is queued iff
      it has deltas.  A key keeps its place while more deltas pile up behind
      it, so a busy object cannot starve the others.

    Constructor arguments mirror ``DeltaFIFOOptions``:

    * ``key_function`` -- default :func:`~.keys.meta_namespace_key_func`;
    * ``known_objects`` -- the consumer's store (an informer's indexer).  With
      it, ``replace`` also tombstones objects the consumer knows but the relist
      lacks, ``delete`` of an object only the consumer knows is still
      delivered, and ``resync`` can replay the consumer's objects.
    * ``emit_delta_type_replaced`` -- ``replace`` queues ``Replaced`` instead of
      ``Sync`` (informers set it; the default keeps old clients' behaviour);
    * ``transformer`` -- applied to every object entering the queue, except
      tombstones (their object was transformed already) and ``Sync`` deltas
      from ``resync`` (those come from the consumer's store, already
      transformed).  Objects from ``replace`` *are* transformed, so the
      transformer must tolerate being given an already-transformed object.

    **Pop runs the process function under the FIFO lock.**  An informer's
    process function updates ``known_objects`` (its indexer).  Holding the lock
    makes "pop an item and apply it to the indexer" atomic with respect to
    ``replace`` and ``resync``, which read the indexer to decide what to
    tombstone or replay: they can never see the item gone from the queue but
    not yet in the indexer (which would lose a deletion or replay a stale
    object).  The price is that producers block while a handler runs, so
    process functions must be quick.  The lock is reentrant so that a process
    function may call read methods such as :meth:`has_synced` (Go's mutex is
    not; Go's informers never need to).

    The design assumes a single consumer: two concurrent ``pop`` callers could
    handle two versions of one object out of order.

    Version notes: v0.33 removed ``list``, ``list_keys``, ``get``,
    ``get_by_key``, ``add_if_not_present`` and :class:`RequeueError`, and
    informers switched to ``RealFIFO`` (one entry per event, no per-key
    coalescing; gate ``InOrderInformers``, GA in 1.36).
    """

    def __init__(
        self,
        key_function: KeyFunc | None = meta_namespace_key_func,
        known_objects: KeyListerGetter | None = None,
        emit_delta_type_replaced: bool = False,
        transformer: TransformFunc | None = None,
    ) -> None:
        self._key_func: KeyFunc = key_function or meta_namespace_key_func
        self._known_objects = known_objects
        self._emit_delta_type_replaced = emit_delta_type_replaced
        self._transformer = transformer
        self._items: dict[str, Deltas] = {}
        self._queue: deque[str] = deque()
        # populated: the first write of any kind has happened.
        # initial_population_count: items of the first replace not yet popped.
        self._populated = False
        self._initial_population_count = 0
        self._closed = False
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)

    # -- keys -----------------------------------------------------------------

    def key_of(self, obj: Any) -> str:
        """``KeyOf``: the key of ``obj``, also for :class:`Deltas` and tombstones.

        A Deltas yields the key of its newest object; a tombstone its ``key``.
        Raises :class:`~.keys.KeyFuncError` on failure.
        """
        if isinstance(obj, Deltas):
            if not obj:
                raise KeyFuncError(obj, ValueError("0 length Deltas object; can't get key"))
            obj = obj[-1].object
        if isinstance(obj, DeletedFinalStateUnknown):
            return obj.key
        try:
            return self._key_func(obj)
        except Exception as err:
            raise KeyFuncError(obj, err) from err

    # -- producer side (the reflector calls these) ----------------------------

    def add(self, obj: Any) -> None:
        """Queue an ``Added`` delta (a watch ADDED event)."""
        with self._lock:
            self._populated = True
            self._queue_action_locked(_ADDED, obj)

    def update(self, obj: Any) -> None:
        """Queue an ``Updated`` delta (a watch MODIFIED event)."""
        with self._lock:
            self._populated = True
            self._queue_action_locked(_UPDATED, obj)

    def delete(self, obj: Any) -> None:
        """Queue a ``Deleted`` delta (a watch DELETED event) -- unless nobody knows the object.

        If the key is neither queued nor (with ``known_objects``) known to the
        consumer, the deletion has already been reported -- typically as a
        tombstone by a relist -- and reporting it twice would confuse handlers,
        so it is dropped.  A consecutive duplicate deletion is deduplicated by
        the queue itself (see :meth:`_queue_action_locked`).
        """
        key = self.key_of(obj)
        with self._lock:
            self._populated = True
            if self._known_objects is None:
                if key not in self._items:
                    return
            elif key not in self._items:
                try:
                    _, known = self._known_objects.get_by_key(key)
                except Exception:
                    known = True  # lookup failed: deliver rather than risk losing it
                if not known:
                    return
            self._queue_action_locked(_DELETED, obj, key)

    def replace(self, objs: Iterable[Any], resource_version: str = "") -> None:
        """``Replace``: the result of a (re)list -- queue every object, tombstone the rest.

        1. Each listed object gets ``Replaced`` (or ``Sync`` without
           ``emit_delta_type_replaced``).
        2. Each queued key missing from the list gets ``Deleted`` with a
           tombstone holding its newest queued object (unwrapped if that is
           itself a tombstone).
        3. With ``known_objects``: each known key missing from the list and not
           queued gets ``Deleted`` with a tombstone holding the consumer's
           object (``None`` if the lookup fails).

        If this is the FIFO's first write, it also fixes how many pops make the
        FIFO synced (:meth:`has_synced`): the listed keys plus the tombstones.
        ``resource_version`` is ignored (the reflector tracks it).
        """
        with self._lock:
            action = _REPLACED if self._emit_delta_type_replaced else _SYNC
            listed: set[str] = set()
            for obj in objs:
                key = self.key_of(obj)
                listed.add(key)
                # Transform even when emitting Sync here: these objects are
                # fresh from the server (client-go's "internal" type is Replaced).
                self._queue_action_locked(action, obj, key)

            queued_deletions = 0
            items = self._items
            for key in [k for k in items if k not in listed]:
                last = items[key][-1].object
                if isinstance(last, DeletedFinalStateUnknown):
                    last = last.obj
                queued_deletions += 1
                self._queue_action_locked(_DELETED, DeletedFinalStateUnknown(key, last), key)

            known_objects = self._known_objects
            if known_objects is not None:
                for key in known_objects.list_keys():
                    if key in listed or key in items:
                        continue
                    try:
                        known_obj, exists = known_objects.get_by_key(key)
                    except Exception as err:
                        _log.error(
                            "Unexpected error %s during lookup of key %s, placing "
                            "DeletedFinalStateUnknown marker without object",
                            err,
                            key,
                        )
                        known_obj = None
                    else:
                        if not exists:
                            _log.info(
                                "Key %s does not exist in known objects store, placing "
                                "DeletedFinalStateUnknown marker without object",
                                key,
                            )
                            known_obj = None
                    queued_deletions += 1
                    self._queue_action_locked(
                        _DELETED, DeletedFinalStateUnknown(key, known_obj), key
                    )

            if not self._populated:
                self._populated = True
                self._initial_population_count = len(listed) + queued_deletions

    def resync(self) -> None:
        """``Resync``: queue ``Sync`` for every object the consumer knows, unless queued.

        A no-op without ``known_objects``.  Keys that already have deltas are
        skipped on purpose: the consumer's copy is older than what is queued,
        and replaying it after the queued change would roll handlers back.
        """
        with self._lock:
            known_objects = self._known_objects
            if known_objects is None:
                return
            for key in known_objects.list_keys():
                self._sync_key_locked(known_objects, key)

    def _sync_key_locked(self, known_objects: KeyListerGetter, key: str) -> None:
        try:
            obj, exists = known_objects.get_by_key(key)
        except Exception as err:
            _log.error(
                "Unexpected error %s during lookup of key %s, unable to queue object for sync",
                err,
                key,
            )
            return
        if not exists:
            _log.info(
                "Key %s does not exist in known objects store, unable to queue object for sync",
                key,
            )
            return
        obj_key = self.key_of(obj)
        if self._items.get(obj_key):
            return
        self._queue_action_locked(_SYNC, obj, obj_key, transform=False)

    def add_if_not_present(self, obj: Any) -> None:
        """``AddIfNotPresent``: queue popped ``Deltas`` again, unless the key is queued.

        For retrying a popped item: if newer deltas for the key arrived in the
        meantime they already describe a later state, so the old ones are
        dropped rather than queued behind or in front of them.  ``obj`` must be
        a :class:`Deltas` (unlike ``add``).  Marks the FIFO populated.
        """
        if not isinstance(obj, Deltas):
            raise TypeError(f"object must be of type Deltas, but got {type(obj).__name__}")
        key = self.key_of(obj)
        with self._lock:
            self._add_if_not_present_locked(key, obj)

    def _add_if_not_present_locked(self, key: str, deltas: Deltas) -> None:
        self._populated = True
        if key in self._items:
            return
        self._queue.append(key)
        self._items[key] = deltas
        self._cond.notify()

    def _queue_action_locked(
        self, action: DeltaType, obj: Any, key: str | None = None, transform: bool = True
    ) -> None:
        """Append ``Delta(action, obj)`` to the key's deltas, queueing the key if new.

        This is client-go's ``queueActionLocked``/``queueActionInternalLocked``;
        ``transform=False`` corresponds to an internal action type of ``Sync``.
        """
        if key is None:
            key = self.key_of(obj)
        if (
            transform
            and self._transformer is not None
            and not isinstance(obj, DeletedFinalStateUnknown)
        ):
            obj = self._transformer(obj)
        delta = Delta(action, obj)
        deltas = self._items.get(key)
        if deltas is None:
            self._items[key] = Deltas((delta,))
            self._queue.append(key)
            # Consumers only wait while the queue is empty, so only a newly
            # queued key can be news to them; one item wakes one consumer.
            self._cond.notify()
            return
        deltas.append(delta)
        if action is _DELETED:
            _dedup_last_deletion(deltas)

    # -- consumer side ----------------------------------------------------------

    def pop(self, process: PopProcessFunc) -> Deltas:
        """``Pop``: wait for the head key, remove it, run ``process`` on it, return its deltas.

        ``process(deltas, is_in_initial_list)`` runs **under the FIFO lock** (see
        the class docstring for why); ``is_in_initial_list`` tells whether the
        item belongs to the first relist (i.e. the FIFO had not synced before
        this pop).  Blocks while the queue is empty; raises
        :class:`FIFOClosedError` once the FIFO is closed *and* empty (a closed
        FIFO still hands out what it holds).

        If ``process`` returns or raises :class:`RequeueError`, the deltas are
        re-queued (add-if-not-present) and its ``err`` is raised.  Any other
        exception propagates and the item is not re-queued.  The returned
        Deltas belongs to the caller.
        """
        with self._lock:
            while True:
                while not self._queue:
                    if self._closed:
                        raise FIFOClosedError()
                    self._cond.wait()
                # Decided before the decrement: the last initial item is still
                # part of the initial list.
                is_in_initial_list = not (
                    self._populated and self._initial_population_count == 0
                )
                key = self._queue.popleft()
                if self._initial_population_count > 0:
                    self._initial_population_count -= 1
                deltas = self._items.pop(key, None)
                if deltas is None:  # cannot happen: queue and items move together
                    _log.error("Inconceivable! %r was in the queue but not in items", key)
                    continue
                depth = len(self._queue)
                started = time.perf_counter() if depth > _TRACE_MIN_DEPTH else None
                try:
                    try:
                        result = process(deltas, is_in_initial_list)
                    except RequeueError as requeue:
                        result = requeue
                finally:
                    if started is not None:
                        _trace_slow_pop(key, depth, time.perf_counter() - started)
                if isinstance(result, RequeueError):
                    self._add_if_not_present_locked(key, deltas)
                    if result.err is not None:
                        raise result.err
                return deltas

    def has_synced(self) -> bool:
        """``HasSynced``: the first batch of items has been popped *and processed*.

        True once the FIFO is populated and every item of the first
        :meth:`replace` (tombstones included) has been popped; or at once if
        the first write was something else (add, update, delete,
        add_if_not_present).  The counter drops just before ``process`` runs,
        but both happen under the lock this method takes, so other threads can
        only observe it after processing finished.  (Called from inside
        ``process`` itself, it already reports the post-pop state.)
        """
        with self._lock:
            return self._populated and self._initial_population_count == 0

    @property
    def initial_population_count(self) -> int:
        """Items of the first replace not yet popped (unexported in client-go;
        exposed to make :meth:`has_synced` observable in tests and lessons)."""
        with self._lock:
            return self._initial_population_count

    def close(self) -> None:
        """``Close``: mark closed and wake every blocked :meth:`pop`."""
        with self._lock:
            self._closed = True
            self._cond.notify_all()

    def is_closed(self) -> bool:
        """``IsClosed``."""
        with self._lock:
            return self._closed

    # -- read methods (classic only; removed in v0.33) ------------------------

    def list(self) -> list[Any]:
        """The newest object of every queued key (shared, read-only)."""
        with self._lock:
            return [deltas[-1].object for deltas in self._items.values()]

    def list_keys(self) -> list[str]:
        """Queued keys in queue order."""
        with self._lock:
            return list(self._queue)

    def get(self, obj: Any) -> tuple[Deltas | None, bool]:
        """``(copy of the deltas, exists)`` for ``obj``'s key."""
        return self.get_by_key(self.key_of(obj))

    def get_by_key(self, key: str) -> tuple[Deltas | None, bool]:
        """``(copy of the deltas, exists)`` for ``key``.

        The list is copied so that later queue activity cannot change what the
        caller holds; the objects inside are shared (read-only).
        """
        with self._lock:
            deltas = self._items.get(key)
            if deltas is None:
                return None, False
            return Deltas(deltas), True


def _dedup_last_deletion(deltas: Deltas) -> None:
    """``dedupDeltas``: collapse the last two deltas if both are deletions.

    Relists and watches can report one deletion twice (a tombstone from a
    relist and the real watch event, in either order).  Keep the one with the
    most information: the real final state over a tombstone; of two real
    deletions, the older.  Only the last two deltas are looked at, and nothing
    but deletions is ever collapsed (Added then Updated both stay).
    """
    if len(deltas) < 2:
        return
    newer = deltas[-1]
    older = deltas[-2]
    if older.type is not _DELETED or newer.type is not _DELETED:
        return
    keep = newer if isinstance(older.object, DeletedFinalStateUnknown) else older
    del deltas[-1]
    deltas[-1] = keep


def _trace_slow_pop(key: str, depth: int, seconds: float) -> None:
    if seconds > _TRACE_THRESHOLD:
        _log.warning(
            "DeltaFIFO Pop Process took %.3fs (ID=%s, Depth=%d, "
            "Reason=slow event handlers blocking the queue)",
            seconds,
            key,
            depth,
        )

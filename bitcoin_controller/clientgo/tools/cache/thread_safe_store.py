"""A key -> object map with indices behind one lock, mirroring client-go's
``tools/cache/thread_safe_store.go``.

This is the storage under every :class:`~.store.Store` and
:class:`~.store.Indexer`: an informer's cache is one of these.  It is keyed
by strings the caller computes (the ``Store`` wrapper computes them with its
key function); it keeps each index (see :mod:`.index`) in step with the items
under the same lock, so a reader never sees an item that its indices do not
yet reflect, or the reverse.

Objects are stored and handed out **as they are, without copies**: an
informer's cache may hold tens of thousands of objects and is read on every
reconcile, so copying on each read would dominate.  Everything returned is
shared with the cache and with every other reader; treat it as read-only and
:func:`~bitcoin_controller.apimachinery.metav1.deep_copy` before changing it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .index import (
    Index,
    IndexerConflictError,
    Indexers,
    IndexFunc,
    IndexFuncError,
    Indices,
    UnknownIndexError,
)

__all__ = ["ThreadSafeStore", "new_thread_safe_store"]

# Marks "no previous object" (objects themselves may be any value, even None).
_ABSENT: Any = object()

# One index's pending change for one key: (index, old values, new values).
_Change = tuple[Index, list[str], list[str]]


class _StoreIndex:
    """client-go's unexported ``storeIndex``: index functions and their indices.

    Not thread-safe by itself: :class:`ThreadSafeStore` calls it with its lock
    held.  Writes happen in two steps -- :meth:`changes_for` computes every
    index value (and may raise), :meth:`apply` mutates -- so a failing index
    function never leaves items and indices out of step.
    """

    def __init__(self, indexers: Indexers, indices: Indices) -> None:
        self.indexers: Indexers = dict(indexers)
        self.indices: Indices = indices

    def index_for(self, name: str) -> tuple[IndexFunc, Index]:
        func = self.indexers.get(name)
        if func is None:
            raise UnknownIndexError(name)
        return func, self.indices.get(name, {})

    def changes_for(self, old: Any, new: Any, key: str) -> list[_Change]:
        """The index updates that replacing ``old`` by ``new`` under ``key`` needs.

        ``_ABSENT`` stands for "no object".  Raises :class:`IndexFuncError`.
        """
        changes: list[_Change] = []
        for name, func in self.indexers.items():
            old_values = _values(func, old, key, name) if old is not _ABSENT else []
            new_values = _values(func, new, key, name) if new is not _ABSENT else []
            # The common case -- one value, unchanged (e.g. the namespace of an
            # updated object) -- needs no work at all.
            if len(old_values) == 1 and len(new_values) == 1 and old_values[0] == new_values[0]:
                continue
            if not old_values and not new_values:
                continue
            index = self.indices.get(name)
            if index is None:
                index = self.indices[name] = {}
            changes.append((index, old_values, new_values))
        return changes

    @staticmethod
    def apply(changes: list[_Change], key: str) -> None:
        for index, old_values, new_values in changes:
            for value in old_values:
                keys = index.get(value)
                if keys is None:
                    continue
                keys.discard(key)
                # Drop emptied sets: with short-lived objects and high-cardinality
                # values (e.g. a per-pod label) they would otherwise pile up
                # forever (kubernetes/kubernetes#84959).
                if not keys:
                    del index[value]
            for value in new_values:
                keys = index.get(value)
                if keys is None:
                    index[value] = {key}
                else:
                    keys.add(key)


def _values(func: IndexFunc, obj: Any, key: str, name: str) -> list[str]:
    try:
        return func(obj)
    except Exception as err:
        raise IndexFuncError(key, name, err) from err


def _build_indices(indexers: Indexers, items: Mapping[str, Any]) -> Indices:
    """Index every item from scratch (used by replace and add_indexers)."""
    indices: Indices = {name: {} for name in indexers}
    for name, func in indexers.items():
        index = indices[name]
        for key, obj in items.items():
            for value in _values(func, obj, key, name):
                keys = index.get(value)
                if keys is None:
                    index[value] = {key}
                else:
                    keys.add(key)
    return indices


class ThreadSafeStore:
    """``cache.ThreadSafeStore`` (and its implementation ``threadSafeMap``).

    A dict of key -> object plus the indices over it, all guarded by one
    :class:`threading.Lock` so that items and indices change together.  Go
    splits this into an interface and an unexported struct; Python needs only
    the class.  Go uses a reader/writer lock; the standard library has none, and
    the critical sections here are a few dict operations, so a plain lock is
    enough.

    Index functions run under the lock; they must be pure functions of the
    object and must not call back into the store.
    """

    def __init__(self, indexers: Indexers | None = None, indices: Indices | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}
        self._index = _StoreIndex(indexers or {}, indices if indices is not None else {})

    # -- writes ---------------------------------------------------------------

    def add(self, key: str, obj: Any) -> None:
        """Store ``obj`` under ``key`` (same as :meth:`update`)."""
        self.update(key, obj)

    def update(self, key: str, obj: Any) -> None:
        """Store ``obj`` under ``key``, moving ``key`` between index values as needed.

        Raises :class:`~.index.IndexFuncError` (leaving the store unchanged) if
        an index function fails.
        """
        with self._lock:
            old = self._items.get(key, _ABSENT)
            changes = self._index.changes_for(old, obj, key)
            self._items[key] = obj
            if changes:
                self._index.apply(changes, key)

    def delete(self, key: str) -> None:
        """Remove ``key`` and its index entries; a missing key is not an error."""
        with self._lock:
            old = self._items.get(key, _ABSENT)
            if old is _ABSENT:
                return
            changes = self._index.changes_for(old, _ABSENT, key)
            del self._items[key]
            self._index.apply(changes, key)

    def replace(self, items: dict[str, Any], resource_version: str = "") -> None:
        """Swap in ``items`` wholesale and rebuild every index from scratch.

        The store takes ownership of ``items`` (no copy).  The indices are built
        before the swap, so a failing index function leaves the old contents in
        place.  ``resource_version`` is accepted for interface parity and ignored.
        """
        with self._lock:
            indices = _build_indices(self._index.indexers, items)
            self._items = items
            self._index.indices = indices

    def resync(self) -> None:
        """``Resync``: nothing to do for a plain store (kept for the interface)."""

    # -- reads ----------------------------------------------------------------

    def get(self, key: str) -> tuple[Any, bool]:
        """``(obj, exists)`` for ``key``; ``(None, False)`` if absent."""
        with self._lock:
            obj = self._items.get(key, _ABSENT)
        if obj is _ABSENT:
            return None, False
        return obj, True

    def list(self) -> list[Any]:
        """Every stored object, in no particular order (shared, read-only)."""
        with self._lock:
            return list(self._items.values())

    def list_keys(self) -> list[str]:
        """Every key, in no particular order."""
        with self._lock:
            return list(self._items)

    def index(self, index_name: str, obj: Any) -> list[Any]:
        """Objects sharing any of ``obj``'s values under the index ``index_name``.

        ``obj`` need not be stored: it is only run through the index function
        (whose errors propagate unchanged).  Raises
        :class:`~.index.UnknownIndexError` for an unknown index name.
        """
        with self._lock:
            func, index = self._index.index_for(index_name)
            values = func(obj)
            if len(values) == 1:
                keys: Iterable[str] = index.get(values[0], ())
            else:
                # An object with several values may share more than one of them
                # with another object: collect into a set so each key counts once.
                keys = set().union(*(index.get(v, ()) for v in values))
            items = self._items
            return [items[k] for k in keys]

    def by_index(self, index_name: str, indexed_value: str) -> list[Any]:
        """Objects whose values under ``index_name`` include ``indexed_value``."""
        with self._lock:
            _, index = self._index.index_for(index_name)
            items = self._items
            return [items[k] for k in index.get(indexed_value, ())]

    def index_keys(self, index_name: str, indexed_value: str) -> list[str]:
        """Keys (sorted, as client-go's ``sets.String.List()``) under ``indexed_value``."""
        with self._lock:
            _, index = self._index.index_for(index_name)
            return sorted(index.get(indexed_value, ()))

    def list_index_func_values(self, index_name: str) -> list[str]:
        """Every value currently present in the index (``[]`` for an unknown name,
        as in client-go)."""
        with self._lock:
            return list(self._index.indices.get(index_name, ()))

    def get_indexers(self) -> Indexers:
        """A copy of the index functions (a copy, so callers cannot bypass
        :meth:`add_indexers`)."""
        with self._lock:
            return dict(self._index.indexers)

    def add_indexers(self, new_indexers: Indexers) -> None:
        """Register more index functions and index the existing items with them.

        Raises :class:`~.index.IndexerConflictError` (a ``ValueError``) if a
        name is already registered.  Back-filling matches client-go v0.26+,
        which lets informers gain indexers after they have started.
        """
        with self._lock:
            clash = self._index.indexers.keys() & new_indexers.keys()
            if clash:
                raise IndexerConflictError(list(clash))
            built = _build_indices(new_indexers, self._items)
            self._index.indexers.update(new_indexers)
            self._index.indices.update(built)


def new_thread_safe_store(indexers: Indexers, indices: Indices) -> ThreadSafeStore:
    """``cache.NewThreadSafeStore``: an empty store with these index functions."""
    return ThreadSafeStore(indexers, indices)

"""The ``Store`` and ``Indexer`` interfaces and their cache, mirroring client-go's
``tools/cache/store.go`` (and the ``Indexer`` interface from ``index.go``).

A :class:`Store` is the object-level face of a :class:`~.thread_safe_store.ThreadSafeStore`:
callers hand it objects, and it works out their keys with a key function
(normally :func:`~.keys.meta_namespace_key_func`, or for informers
:func:`~.keys.deletion_handling_meta_namespace_key_func`).  An
:class:`Indexer` is a Store that also answers index queries; an informer's
cache is an Indexer, and listers read from it.

Stores hand out the stored objects themselves, never copies; see
:mod:`.thread_safe_store` for why.  Treat what you get as read-only.

client-go's ``Store`` methods return ``error``; here failures raise:
:class:`~.keys.KeyFuncError` when the key function fails, and
:class:`~.index.IndexFuncError` when an index function does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .index import Indexers, Indices
from .keys import KeyFunc, KeyFuncError
from .thread_safe_store import ThreadSafeStore

__all__ = ["Store", "Indexer", "new_store", "new_indexer"]


class Store(ABC):
    """``cache.Store``: a generic object storage and processing interface.

    Implemented by the plain cache (:func:`new_store`, :func:`new_indexer`) and
    by queues such as :class:`~.delta_fifo.DeltaFIFO`, which is why the
    "write" methods are named after events (add, update, delete, replace):
    a reflector drives any Store the same way.
    """

    @abstractmethod
    def add(self, obj: Any) -> None:
        """Add ``obj`` (under the key its key function gives)."""

    @abstractmethod
    def update(self, obj: Any) -> None:
        """Update ``obj`` (under the key its key function gives)."""

    @abstractmethod
    def delete(self, obj: Any) -> None:
        """Delete the object with ``obj``'s key."""

    @abstractmethod
    def list(self) -> list[Any]:
        """All objects, in no particular order."""

    @abstractmethod
    def list_keys(self) -> list[str]:
        """All keys, in no particular order."""

    @abstractmethod
    def get(self, obj: Any) -> tuple[Any, bool]:
        """``(stored, exists)`` for the key of ``obj``."""

    @abstractmethod
    def get_by_key(self, key: str) -> tuple[Any, bool]:
        """``(stored, exists)`` for ``key``; ``(None, False)`` if absent."""

    @abstractmethod
    def replace(self, objs: list[Any], resource_version: str) -> None:
        """Replace the whole contents with ``objs`` (a relist);
        ``resource_version`` is the list's RV."""

    @abstractmethod
    def resync(self) -> None:
        """Meaningful only for queues (see ``DeltaFIFO.resync``)."""


class Indexer(Store):
    """``cache.Indexer``: a Store with named indices (see :mod:`.index`).

    Unknown index names raise :class:`~.index.UnknownIndexError` (a
    ``ValueError``), except in :meth:`list_index_func_values` which, like
    client-go, returns ``[]``.
    """

    @abstractmethod
    def index(self, index_name: str, obj: Any) -> list[Any]:
        """Stored objects sharing an indexed value with ``obj``."""

    @abstractmethod
    def index_keys(self, index_name: str, indexed_value: str) -> list[str]:
        """Keys of stored objects indexed under ``indexed_value`` (sorted)."""

    @abstractmethod
    def list_index_func_values(self, index_name: str) -> list[str]:
        """The values currently present in index ``index_name``."""

    @abstractmethod
    def by_index(self, index_name: str, indexed_value: str) -> list[Any]:
        """Stored objects indexed under ``indexed_value``."""

    @abstractmethod
    def get_indexers(self) -> Indexers:
        """The registered index functions."""

    @abstractmethod
    def add_indexers(self, new_indexers: Indexers) -> None:
        """Register more index functions (back-filling existing objects)."""


class _Cache(Indexer):
    """client-go's unexported ``cache`` struct: a key function over a
    :class:`~.thread_safe_store.ThreadSafeStore`.

    The key is computed *outside* the store's lock (it only reads the object),
    which keeps the critical section to the dict and index updates.
    """

    def __init__(self, key_func: KeyFunc, storage: ThreadSafeStore) -> None:
        self._key_func = key_func
        self._storage = storage

    def _key(self, obj: Any) -> str:
        try:
            return self._key_func(obj)
        except Exception as err:
            raise KeyFuncError(obj, err) from err

    def add(self, obj: Any) -> None:
        self._storage.update(self._key(obj), obj)

    def update(self, obj: Any) -> None:
        self._storage.update(self._key(obj), obj)

    def delete(self, obj: Any) -> None:
        self._storage.delete(self._key(obj))

    def list(self) -> list[Any]:
        return self._storage.list()

    def list_keys(self) -> list[str]:
        return self._storage.list_keys()

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self._storage.get(self._key(obj))

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self._storage.get(key)

    def replace(self, objs: list[Any], resource_version: str = "") -> None:
        # Build the new contents completely before touching the store, so a
        # bad object leaves the old contents intact.
        key = self._key
        items = {key(obj): obj for obj in objs}
        self._storage.replace(items, resource_version)

    def resync(self) -> None:
        self._storage.resync()

    def index(self, index_name: str, obj: Any) -> list[Any]:
        return self._storage.index(index_name, obj)

    def index_keys(self, index_name: str, indexed_value: str) -> list[str]:
        return self._storage.index_keys(index_name, indexed_value)

    def list_index_func_values(self, index_name: str) -> list[str]:
        return self._storage.list_index_func_values(index_name)

    def by_index(self, index_name: str, indexed_value: str) -> list[Any]:
        return self._storage.by_index(index_name, indexed_value)

    def get_indexers(self) -> Indexers:
        return self._storage.get_indexers()

    def add_indexers(self, new_indexers: Indexers) -> None:
        self._storage.add_indexers(new_indexers)


def new_store(key_func: KeyFunc) -> Store:
    """``cache.NewStore``: a thread-safe Store without indices."""
    return _Cache(key_func, ThreadSafeStore({}, {}))


def new_indexer(key_func: KeyFunc, indexers: Indexers) -> Indexer:
    """``cache.NewIndexer``: a thread-safe Store that maintains ``indexers``.

    Typical informer use::

        indexer = new_indexer(deletion_handling_meta_namespace_key_func,
                              {NAMESPACE_INDEX: meta_namespace_index_func})
    """
    indices: Indices = {}
    return _Cache(key_func, ThreadSafeStore(indexers, indices))

"""Index types and the namespace index, mirroring client-go's ``tools/cache/index.go``.

An *index* answers "which cached objects have this value?" without scanning
the whole cache.  It is defined by an :data:`IndexFunc`, which maps an object
to the values it should be found under (zero, one or several strings).  A
store keeps, for every index name, a map from each value to the set of keys of
the objects that produced it::

    indexers = {"namespace": meta_namespace_index_func}   # Indexers
    indices  = {"namespace": {"default": {"default/a", "default/b"}}}  # Indices

Listers use the namespace index so that listing one namespace costs as much
as that namespace, not as much as the whole cluster.

The :class:`Indexer` interface itself is declared in :mod:`.store`, next to
:class:`Store` which it extends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bitcoin_controller.apimachinery.metav1 import meta

__all__ = [
    "IndexFunc",
    "Indexers",
    "Index",
    "Indices",
    "NAMESPACE_INDEX",
    "meta_namespace_index_func",
    "UnknownIndexError",
    "IndexerConflictError",
    "IndexFuncError",
]

#: ``cache.IndexFunc``: the values an object is indexed under; raises on failure.
IndexFunc = Callable[[Any], list[str]]

#: ``cache.Indexers``: index name -> index function.
Indexers = dict[str, IndexFunc]

#: ``cache.Index``: indexed value -> keys of the objects that have that value.
Index = dict[str, set[str]]

#: ``cache.Indices``: index name -> its :data:`Index`.
Indices = dict[str, Index]

#: ``cache.NamespaceIndex``: the conventional name of the namespace index.
NAMESPACE_INDEX = "namespace"


def meta_namespace_index_func(obj: Any) -> list[str]:
    """``cache.MetaNamespaceIndexFunc``: index an object by its namespace.

    Cluster-scoped objects are indexed under ``""``.  Go returns ``[""]``
    together with an error for an object without metadata; Python cannot return
    both, so this raises
    :class:`~bitcoin_controller.apimachinery.metav1.ObjectMetaError`.
    """
    return [meta(obj).get("namespace") or ""]


class UnknownIndexError(ValueError):
    """A query named an index the store does not have.

    client-go returns the error ``Index with name <n> does not exist``; this is
    that error.  It subclasses :class:`ValueError` (a bad argument), never
    :class:`KeyError`, so it cannot be mistaken for "no such object".
    """

    def __init__(self, index_name: str) -> None:
        super().__init__(f"Index with name {index_name} does not exist")
        self.index_name = index_name


class IndexerConflictError(ValueError):
    """``AddIndexers`` was given a name that is already registered.

    Replacing an index function silently would leave the existing index built
    by the old function, so client-go refuses (``indexer conflict: ...``).
    """

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"indexer conflict: {sorted(names)}")
        self.names = sorted(names)


class IndexFuncError(RuntimeError):
    """An index function failed while the store was being written.

    client-go panics here ("unable to calculate an index entry for key ..."):
    an index function that cannot index an object the store must hold is a
    programming error, and continuing would leave an index that silently
    misses objects.  Python raises this instead; the store checks every index
    function *before* changing anything, so the store is left as it was.
    """

    def __init__(self, key: str, index_name: str, err: BaseException) -> None:
        super().__init__(
            f"unable to calculate an index entry for key {key!r} on index {index_name!r}: {err}"
        )
        self.key = key
        self.index_name = index_name
        self.err = err
        self.__cause__ = err

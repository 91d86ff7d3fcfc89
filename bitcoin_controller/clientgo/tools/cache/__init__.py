"""Caches and queues of Kubernetes objects, mirroring ``k8s.io/client-go/tools/cache``.

====================================  =========================================
client-go file                        Python module
====================================  =========================================
``store.go`` (key functions)          :mod:`.keys`
``store.go`` (Store), ``index.go``    :mod:`.store` (``Store``, ``Indexer``)
``index.go`` (Indexers, IndexFunc)    :mod:`.index`
``thread_safe_store.go``              :mod:`.thread_safe_store`
``delta_fifo.go``                     :mod:`.delta_fifo`
====================================  =========================================

Data flows reflector -> :class:`DeltaFIFO` -> informer -> indexer (a
:func:`new_indexer` store) -> listers.  Everything a store hands out is shared
with the cache: treat it as read-only.
"""

from .delta_fifo import (
    Delta,
    DeltaFIFO,
    Deltas,
    DeltaType,
    FIFOClosedError,
    KeyGetter,
    KeyLister,
    KeyListerGetter,
    PopProcessFunc,
    Queue,
    RequeueError,
    TransformFunc,
)
from .index import (
    NAMESPACE_INDEX,
    Index,
    IndexerConflictError,
    Indexers,
    IndexFunc,
    IndexFuncError,
    Indices,
    UnknownIndexError,
    meta_namespace_index_func,
)
from .keys import (
    DeletedFinalStateUnknown,
    ExplicitKey,
    KeyFunc,
    KeyFuncError,
    ObjectName,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_key_func,
    object_to_name,
    parse_object_name,
    split_meta_namespace_key,
)
from .store import Indexer, Store, new_indexer, new_store
from .thread_safe_store import ThreadSafeStore, new_thread_safe_store

__all__ = [
    # keys.py
    "KeyFunc",
    "KeyFuncError",
    "ExplicitKey",
    "DeletedFinalStateUnknown",
    "ObjectName",
    "object_to_name",
    "parse_object_name",
    "meta_namespace_key_func",
    "deletion_handling_meta_namespace_key_func",
    "split_meta_namespace_key",
    # index.py
    "IndexFunc",
    "Indexers",
    "Index",
    "Indices",
    "NAMESPACE_INDEX",
    "meta_namespace_index_func",
    "UnknownIndexError",
    "IndexerConflictError",
    "IndexFuncError",
    # store.py
    "Store",
    "Indexer",
    "new_store",
    "new_indexer",
    # thread_safe_store.py
    "ThreadSafeStore",
    "new_thread_safe_store",
    # delta_fifo.py
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

"""Caches and queues of Kubernetes objects, mirroring ``k8s.io/client-go/tools/cache``.

====================================  =========================================
client-go file                        Python module
====================================  =========================================
``store.go`` (key functions)          :mod:`.keys`
``store.go`` (Store), ``index.go``    :mod:`.store` (``Store``, ``Indexer``)
``index.go`` (Indexers, IndexFunc)    :mod:`.index`
``thread_safe_store.go``              :mod:`.thread_safe_store`
``delta_fifo.go``                     :mod:`.delta_fifo`
``listwatch.go``                      :mod:`.listwatch`
``reflector.go`` (+ metrics)          :mod:`.reflector`, :mod:`.metrics`
``controller.go``                     :mod:`.controller`
``shared_informer.go`` (informer)     :mod:`.shared_informer`
``shared_informer.go`` (processor)    :mod:`.processor`
``listers.go``                        :mod:`.listers`
====================================  =========================================

Data flows reflector -> :class:`DeltaFIFO` -> informer -> indexer (a
:func:`new_indexer` store) -> listers.  Everything a store hands out is shared
with the cache: treat it as read-only.
"""

from .controller import (
    Config,
    Controller,
    FilteringResourceEventHandler,
    ResourceEventHandler,
    ResourceEventHandlerDetailedFuncs,
    ResourceEventHandlerFuncs,
    new_indexer_informer,
    new_informer,
)
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
from .listers import GenericLister, GenericNamespaceLister, list_all, list_all_by_namespace, new_generic_lister
from .listwatch import ListerWatcher, ListWatch, new_filtered_list_watch_from_client, new_list_watch_from_client
from .processor import ResourceEventHandlerRegistration
from .reflector import Reflector, VeryShortWatchError, new_named_reflector, new_reflector
from .shared_informer import (
    InformerAlreadyStartedError,
    SharedIndexInformer,
    SharedInformer,
    new_shared_index_informer,
    new_shared_informer,
    wait_for_cache_sync,
    wait_for_named_cache_sync,
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
    # listwatch.py, reflector.py
    "ListerWatcher",
    "ListWatch",
    "new_list_watch_from_client",
    "new_filtered_list_watch_from_client",
    "Reflector",
    "VeryShortWatchError",
    "new_reflector",
    "new_named_reflector",
    # controller.py, processor.py, shared_informer.py
    "Config",
    "Controller",
    "ResourceEventHandler",
    "ResourceEventHandlerFuncs",
    "ResourceEventHandlerDetailedFuncs",
    "FilteringResourceEventHandler",
    "ResourceEventHandlerRegistration",
    "new_informer",
    "new_indexer_informer",
    "SharedInformer",
    "SharedIndexInformer",
    "InformerAlreadyStartedError",
    "new_shared_informer",
    "new_shared_index_informer",
    "wait_for_cache_sync",
    "wait_for_named_cache_sync",
    # listers.py
    "GenericLister",
    "GenericNamespaceLister",
    "list_all",
    "list_all_by_namespace",
    "new_generic_lister",
]

"""Shared informers, mirroring ``k8s.io/client-go/informers``.

:class:`SharedInformerFactory` hands out one shared informer per resource
(``factory.core().v1().pods().informer()``) and a typed lister over its cache
(``.lister()``); ``factory.start(stop)`` runs them and
``factory.wait_for_cache_sync(stop)`` waits for their first LIST.
"""

from .factory import (
    AppsV1Informers,
    BitcoincontrollerV1Informers,
    CoordinationV1Informers,
    CoreV1Informers,
    GenericInformer,
    NewInformerFunc,
    SharedInformerFactory,
    SharedInformerOption,
    default_indexers,
    new_filtered_informer,
    new_filtered_shared_informer_factory,
    new_shared_informer_factory,
    new_shared_informer_factory_with_options,
    with_custom_resync_config,
    with_namespace,
    with_transform,
    with_tweak_list_options,
)

__all__ = [
    "SharedInformerFactory",
    "SharedInformerOption",
    "NewInformerFunc",
    "GenericInformer",
    "CoreV1Informers",
    "AppsV1Informers",
    "CoordinationV1Informers",
    "BitcoincontrollerV1Informers",
    "default_indexers",
    "new_filtered_informer",
    "new_shared_informer_factory",
    "new_shared_informer_factory_with_options",
    "new_filtered_shared_informer_factory",
    "with_namespace",
    "with_tweak_list_options",
    "with_custom_resync_config",
    "with_transform",
]

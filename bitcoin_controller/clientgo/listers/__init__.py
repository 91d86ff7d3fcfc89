"""Listers, mirroring ``k8s.io/client-go/listers``.

A lister answers "get" and "list" from an informer's cache instead of the API
server: cheap enough to call in every reconcile.  Build one from an informer
(``factory.core().v1().pods().lister()``) or directly from an indexer
(``PodLister(informer.get_indexer())``).

* ``lister.list(selector)`` -- all namespaces;
* ``lister.pods(ns).list(selector)`` -- one namespace, via the ``namespace`` index;
* ``lister.pods(ns).get(name)`` -- raises ``NotFoundError`` with lister-gen's
  message (``pod "x" not found``).

Returned objects are shared with the cache: deep-copy before modifying.
"""

from .generic import ResourceIndexer, lister_group_resource, new, new_namespaced
from .typed import (
    BitcoinNetworkLister,
    BitcoinNetworkNamespaceLister,
    ConfigMapLister,
    ConfigMapNamespaceLister,
    EventLister,
    EventNamespaceLister,
    LeaseLister,
    LeaseNamespaceLister,
    NamespaceLister,
    NodeLister,
    PodLister,
    PodNamespaceLister,
    SecretLister,
    SecretNamespaceLister,
    ServiceAccountLister,
    ServiceAccountNamespaceLister,
    ServiceLister,
    ServiceNamespaceLister,
    StatefulSetLister,
    StatefulSetNamespaceLister,
    lister_for,
)

__all__ = [
    "ResourceIndexer",
    "lister_group_resource",
    "new",
    "new_namespaced",
    "lister_for",
    "PodLister",
    "PodNamespaceLister",
    "ServiceLister",
    "ServiceNamespaceLister",
    "SecretLister",
    "SecretNamespaceLister",
    "ConfigMapLister",
    "ConfigMapNamespaceLister",
    "EventLister",
    "EventNamespaceLister",
    "ServiceAccountLister",
    "ServiceAccountNamespaceLister",
    "NamespaceLister",
    "NodeLister",
    "StatefulSetLister",
    "StatefulSetNamespaceLister",
    "LeaseLister",
    "LeaseNamespaceLister",
    "BitcoinNetworkLister",
    "BitcoinNetworkNamespaceLister",
]

"""Typed listers, mirroring lister-gen output (``k8s.io/client-go/listers/<group>/<version>``).

Each ``XxxLister`` lists across namespaces and returns an
``XxxNamespaceLister`` from its plural accessor (``pods(ns)``); cluster-scoped
resources (namespaces, nodes) get ``get(name)`` on the lister itself.
"""

from __future__ import annotations

from ...apimachinery.schema import ResourceInfo
from ..kubernetes import scheme
from ..tools.cache.store import Indexer
from .generic import ResourceIndexer

__all__ = [
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
    "lister_for",
]


class _TypedLister(ResourceIndexer):
    """A lister for one resource across all namespaces (``Xxx(ns)`` gives a namespaced one)."""

    info: ResourceInfo

    def __init__(self, indexer: Indexer) -> None:
        super().__init__(indexer, self.info)

    def namespaced(self, namespace: str) -> ResourceIndexer:
        """The namespace lister (what the typed accessor returns)."""
        return ResourceIndexer(self._indexer, self._group_resource, namespace)


class PodNamespaceLister(ResourceIndexer):
    """``v1.PodNamespaceLister``: ``list(selector)``, ``get(name)`` in one namespace."""


class PodLister(_TypedLister):
    """``v1.PodLister`` (``k8s.io/client-go/listers/core/v1``)."""

    info = scheme.PODS

    def pods(self, namespace: str) -> PodNamespaceLister:
        return PodNamespaceLister(self._indexer, self._group_resource, namespace)


class ServiceNamespaceLister(ResourceIndexer):
    """``v1.ServiceNamespaceLister``."""


class ServiceLister(_TypedLister):
    """``v1.ServiceLister``."""

    info = scheme.SERVICES

    def services(self, namespace: str) -> ServiceNamespaceLister:
        return ServiceNamespaceLister(self._indexer, self._group_resource, namespace)


class SecretNamespaceLister(ResourceIndexer):
    """``v1.SecretNamespaceLister``."""


class SecretLister(_TypedLister):
    """``v1.SecretLister``."""

    info = scheme.SECRETS

    def secrets(self, namespace: str) -> SecretNamespaceLister:
        return SecretNamespaceLister(self._indexer, self._group_resource, namespace)


class ConfigMapNamespaceLister(ResourceIndexer):
    """``v1.ConfigMapNamespaceLister``."""


class ConfigMapLister(_TypedLister):
    """``v1.ConfigMapLister``."""

    info = scheme.CONFIG_MAPS

    def config_maps(self, namespace: str) -> ConfigMapNamespaceLister:
        return ConfigMapNamespaceLister(self._indexer, self._group_resource, namespace)


class EventNamespaceLister(ResourceIndexer):
    """``v1.EventNamespaceLister``."""


class EventLister(_TypedLister):
    """``v1.EventLister``."""

    info = scheme.EVENTS

    def events(self, namespace: str) -> EventNamespaceLister:
        return EventNamespaceLister(self._indexer, self._group_resource, namespace)


class ServiceAccountNamespaceLister(ResourceIndexer):
    """``v1.ServiceAccountNamespaceLister``."""


class ServiceAccountLister(_TypedLister):
    """``v1.ServiceAccountLister``."""

    info = scheme.SERVICE_ACCOUNTS

    def service_accounts(self, namespace: str) -> ServiceAccountNamespaceLister:
        return ServiceAccountNamespaceLister(self._indexer, self._group_resource, namespace)


class NamespaceLister(_TypedLister):
    """``v1.NamespaceLister``: cluster-scoped, so ``get(name)`` is on the lister itself."""

    info = scheme.NAMESPACES


class NodeLister(_TypedLister):
    """``v1.NodeLister``: cluster-scoped."""

    info = scheme.NODES


class StatefulSetNamespaceLister(ResourceIndexer):
    """``appsv1.StatefulSetNamespaceLister``."""


class StatefulSetLister(_TypedLister):
    """``appsv1.StatefulSetLister`` (``k8s.io/client-go/listers/apps/v1``)."""

    info = scheme.STATEFUL_SETS

    def stateful_sets(self, namespace: str) -> StatefulSetNamespaceLister:
        return StatefulSetNamespaceLister(self._indexer, self._group_resource, namespace)


class LeaseNamespaceLister(ResourceIndexer):
    """``coordinationv1.LeaseNamespaceLister``."""


class LeaseLister(_TypedLister):
    """``coordinationv1.LeaseLister``."""

    info = scheme.LEASES

    def leases(self, namespace: str) -> LeaseNamespaceLister:
        return LeaseNamespaceLister(self._indexer, self._group_resource, namespace)


class BitcoinNetworkNamespaceLister(ResourceIndexer):
    """The generated-style namespace lister of ``BitcoinNetwork``."""


class BitcoinNetworkLister(_TypedLister):
    """The generated-style lister of the project's ``BitcoinNetwork`` custom resource."""

    info = scheme.BITCOIN_NETWORKS

    def bitcoin_networks(self, namespace: str) -> BitcoinNetworkNamespaceLister:
        return BitcoinNetworkNamespaceLister(self._indexer, self._group_resource, namespace)


_BY_RESOURCE: dict[ResourceInfo, type[_TypedLister]] = {
    cls.info: cls
    for cls in (
        PodLister,
        ServiceLister,
        SecretLister,
        ConfigMapLister,
        EventLister,
        ServiceAccountLister,
        NamespaceLister,
        NodeLister,
        StatefulSetLister,
        LeaseLister,
        BitcoinNetworkLister,
    )
}


def lister_for(info: ResourceInfo, indexer: Indexer) -> ResourceIndexer:
    """The typed lister of ``info`` over ``indexer`` (a generic one for unknown resources)."""
    cls = _BY_RESOURCE.get(info)
    return cls(indexer) if cls is not None else ResourceIndexer(indexer, info)

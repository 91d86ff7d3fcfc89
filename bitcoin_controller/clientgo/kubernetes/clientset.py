"""The clientset surface shared by the real and the fake clientset.

client-go generates one typed client per resource
(``clientset.CoreV1().Pods(ns).Get(ctx, name, opts)``).  Because our objects
are plain dicts, one :class:`ResourceClient` shape serves every resource;
the typed accessors below only pick the
:class:`~bitcoin_controller.apimachinery.schema.ResourceInfo`.
A concrete clientset implements :meth:`Interface.resource`:

* :class:`bitcoin_controller.clientgo.kubernetes.Clientset` talks to a real
  API server;
* :class:`bitcoin_controller.clientgo.kubernetes.fake.Clientset` records
  actions and serves them from an object tracker, like
  ``k8s.io/client-go/kubernetes/fake``.

In Go the project's custom resource would get its own generated clientset
(``versioned.Interface``); here it is one more group on the same clientset,
because the same resource table drives every group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ...apimachinery import watch
from ...apimachinery.metav1 import NAMESPACE_ALL, ListOptions
from ...apimachinery.schema import ResourceInfo
from ...apimachinery.types import MERGE_PATCH
from . import scheme

__all__ = [
    "NAMESPACE_ALL",
    "ResourceClient",
    "Interface",
    "CoreV1",
    "AppsV1",
    "CoordinationV1",
    "BitcoincontrollerV1",
]



class ResourceClient(ABC):
    """One resource in one namespace (``""`` = all namespaces for list/watch).

    Every method raises a :class:`~bitcoin_controller.apimachinery.errors.StatusError`
    subclass when the API answers with a failure.
    """

    def __init__(self, info: ResourceInfo, namespace: str = NAMESPACE_ALL) -> None:
        self.info = info
        self.namespace = namespace if info.namespaced else NAMESPACE_ALL

    @abstractmethod
    def get(self, name: str) -> dict[str, Any]:
        """GET one object."""

    @abstractmethod
    def list(self, opts: ListOptions | None = None) -> dict[str, Any]:
        """LIST: the ``<Kind>List`` object (``items``, ``metadata.resourceVersion``, ``continue``)."""

    @abstractmethod
    def watch(self, opts: ListOptions | None = None) -> watch.Interface:
        """WATCH: a stream of events; see :mod:`bitcoin_controller.apimachinery.watch`."""

    @abstractmethod
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """POST a new object; returns the object as stored."""

    @abstractmethod
    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT the whole object; its ``metadata.resourceVersion`` guards against conflicts."""

    @abstractmethod
    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT to the ``status`` subresource."""

    @abstractmethod
    def patch(
        self,
        name: str,
        patch: bytes | dict[str, Any] | list[Any],
        patch_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PATCH with the given content type; dicts and lists are sent as JSON."""

    @abstractmethod
    def delete(
        self,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
        grace_period_seconds: int | None = None,
    ) -> None:
        """DELETE one object."""


class Interface(ABC):
    """``kubernetes.Interface``: typed group accessors over :meth:`resource`."""

    @abstractmethod
    def resource(self, info: ResourceInfo, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        """The client of one resource in one namespace."""

    def core_v1(self) -> CoreV1:
        return CoreV1(self)

    def apps_v1(self) -> AppsV1:
        return AppsV1(self)

    def coordination_v1(self) -> CoordinationV1:
        return CoordinationV1(self)

    def bitcoincontroller_v1(self) -> BitcoincontrollerV1:
        return BitcoincontrollerV1(self)


class _Group:
    def __init__(self, clientset: Interface) -> None:
        self._clientset = clientset


class CoreV1(_Group):
    """``CoreV1Interface``: the core ("") group, version v1."""

    def pods(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.PODS, namespace)

    def services(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.SERVICES, namespace)

    def secrets(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.SECRETS, namespace)

    def config_maps(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.CONFIG_MAPS, namespace)

    def events(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.EVENTS, namespace)

    def service_accounts(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.SERVICE_ACCOUNTS, namespace)

    def namespaces(self) -> ResourceClient:
        return self._clientset.resource(scheme.NAMESPACES)

    def nodes(self) -> ResourceClient:
        return self._clientset.resource(scheme.NODES)


class AppsV1(_Group):
    """``AppsV1Interface``."""

    def stateful_sets(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.STATEFUL_SETS, namespace)


class CoordinationV1(_Group):
    """``CoordinationV1Interface``."""

    def leases(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.LEASES, namespace)


class BitcoincontrollerV1(_Group):
    """The generated-style client of the project's own group ``bitcoincontroller.dev/v1``."""

    def bitcoin_networks(self, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return self._clientset.resource(scheme.BITCOIN_NETWORKS, namespace)

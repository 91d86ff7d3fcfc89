"""The resources the clientsets know, mirroring ``k8s.io/client-go/kubernetes/scheme``.

Go's clientsets are generated per type and register them in ``scheme.Scheme``;
ours are built from one :class:`~bitcoin_controller.apimachinery.schema.ResourceInfo`
per resource, so the real and the fake clientset, the informers and the
listers all agree on paths, kinds and error messages.  :data:`SCHEME` is the
lookup the fake clientset's object tracker is given (Go:
``NewSimpleClientset`` passes ``scheme.Scheme`` to ``testing.ObjectTracker``).
"""

from __future__ import annotations

from ...apimachinery.schema import ResourceInfo, Scheme

__all__ = [
    "SCHEME",
    "PODS",
    "SERVICES",
    "SECRETS",
    "CONFIG_MAPS",
    "EVENTS",
    "NAMESPACES",
    "NODES",
    "SERVICE_ACCOUNTS",
    "STATEFUL_SETS",
    "LEASES",
    "BITCOIN_NETWORKS",
    "ALL_RESOURCES",
    "resource_for_kind",
    "resource_for",
    "resource_named",
]


PODS = ResourceInfo("", "v1", "pods", "Pod")
SERVICES = ResourceInfo("", "v1", "services", "Service")
SECRETS = ResourceInfo("", "v1", "secrets", "Secret")
CONFIG_MAPS = ResourceInfo("", "v1", "configmaps", "ConfigMap")
EVENTS = ResourceInfo("", "v1", "events", "Event")
SERVICE_ACCOUNTS = ResourceInfo("", "v1", "serviceaccounts", "ServiceAccount")
NAMESPACES = ResourceInfo("", "v1", "namespaces", "Namespace", namespaced=False)
NODES = ResourceInfo("", "v1", "nodes", "Node", namespaced=False)
STATEFUL_SETS = ResourceInfo("apps", "v1", "statefulsets", "StatefulSet")
LEASES = ResourceInfo("coordination.k8s.io", "v1", "leases", "Lease")
BITCOIN_NETWORKS = ResourceInfo("bitcoincontroller.dev", "v1", "bitcoinnetworks", "BitcoinNetwork")

ALL_RESOURCES: tuple[ResourceInfo, ...] = (
    PODS,
    SERVICES,
    SECRETS,
    CONFIG_MAPS,
    EVENTS,
    SERVICE_ACCOUNTS,
    NAMESPACES,
    NODES,
    STATEFUL_SETS,
    LEASES,
    BITCOIN_NETWORKS,
)

#: ``scheme.Scheme``: every resource above; statefulsets and the custom
#: resource have a status subresource (``metadata.generation`` tracks spec).
SCHEME = Scheme(ALL_RESOURCES, status_subresources=(STATEFUL_SETS, BITCOIN_NETWORKS))

#: The resource of objects with this ``apiVersion``/``kind``; ``KeyError`` if unknown.
resource_for_kind = SCHEME.resource_for_kind
#: The resource of a typed dict object (by its ``apiVersion``/``kind``).
resource_for = SCHEME.resource_for
#: Look a resource up by its plural name (``"pods"``).
resource_named = SCHEME.resource_named

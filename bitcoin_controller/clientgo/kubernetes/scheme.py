"""What the clientsets know about each resource (the part of client-go's
``scheme`` and ``GroupVersionResource`` plumbing that plain-dict objects need).

Go's clientsets are generated per type; ours are built from one
:class:`ResourceInfo` per resource, so the real and the fake clientset, the
informers and the listers all agree on paths, kinds and error messages.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ResourceInfo",
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
]


@dataclass(frozen=True)
class ResourceInfo:
    """A resource of the API: ``GroupVersionResource`` plus its kind and scope."""

    group: str
    version: str
    resource: str  # plural, lower case: "pods", "statefulsets"
    kind: str  # "Pod", "StatefulSet"
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """``apiVersion`` of objects: ``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``schema.GroupResource`` as the API server prints it: ``pods``, ``statefulsets.apps``."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def singular(self) -> str:
        """The lowercase kind lister-gen uses in NotFound errors: ``pod "x" not found``."""
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def path(self, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        """The REST path, e.g. ``/apis/apps/v1/namespaces/ns/statefulsets/x/status``."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


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

_BY_KIND = {(r.api_version, r.kind): r for r in ALL_RESOURCES}
_BY_RESOURCE = {r.resource: r for r in ALL_RESOURCES}


def resource_for_kind(api_version: str, kind: str) -> ResourceInfo:
    """The resource of objects with this ``apiVersion``/``kind``; ``KeyError`` if unknown."""
    return _BY_KIND[(api_version, kind)]


def resource_for(obj: dict) -> ResourceInfo:
    """The resource of a typed dict object (by its ``apiVersion``/``kind``)."""
    return resource_for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))


def resource_named(resource: str) -> ResourceInfo:
    """Look a resource up by its plural name (``"pods"``)."""
    return _BY_RESOURCE[resource]

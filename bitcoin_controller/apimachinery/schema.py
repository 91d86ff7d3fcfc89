"""What a resource is and how to find one, mirroring
``k8s.io/apimachinery/pkg/runtime/schema`` (``GroupVersionResource``) and the
lookup half of ``runtime.Scheme``.

Objects travel as plain dicts, so a :class:`ResourceInfo` (the GVR plus kind
and scope) is all a client needs to build paths, kinds and error messages.
It lives in apimachinery, below client-go, so that ``tools/cache``,
``client-go/testing`` and the API types can name resources without
importing the clientset that serves them; the clientset's
:data:`~bitcoin_controller.clientgo.kubernetes.scheme.SCHEME` lists the
resources it knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ResourceInfo", "Scheme"]


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


class Scheme:
    """The lookup half of ``runtime.Scheme``: the resources a clientset knows.

    ``status_subresources`` are the resources whose status is a separate
    subresource with ``metadata.generation`` tracking spec changes (what a
    CRD's ``subresources.status`` or a built-in's strategy declares); the
    fake object tracker behaves accordingly for them.
    """

    def __init__(self, resources: Iterable[ResourceInfo], status_subresources: Iterable[ResourceInfo] = ()) -> None:
        self.resources: tuple[ResourceInfo, ...] = tuple(resources)
        self._by_kind = {(r.api_version, r.kind): r for r in self.resources}
        self._by_resource = {r.resource: r for r in self.resources}
        self._by_group_resource = {(r.group, r.resource): r for r in self.resources}
        self.status_subresources: frozenset[tuple[str, str]] = frozenset(
            (r.group, r.resource) for r in status_subresources
        )

    def resource_for_kind(self, api_version: str, kind: str) -> ResourceInfo:
        """The resource of objects with this ``apiVersion``/``kind``; ``KeyError`` if unknown."""
        return self._by_kind[(api_version, kind)]

    def resource_for(self, obj: dict) -> ResourceInfo:
        """The resource of a typed dict object (by its ``apiVersion``/``kind``)."""
        return self.resource_for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def resource_named(self, resource: str) -> ResourceInfo:
        """Look a resource up by its plural name (``"pods"``); ``KeyError`` if unknown."""
        return self._by_resource[resource]

    def for_group_resource(self, group: str, resource: str) -> ResourceInfo | None:
        """The resource with this group and plural, or ``None``."""
        return self._by_group_resource.get((group, resource))

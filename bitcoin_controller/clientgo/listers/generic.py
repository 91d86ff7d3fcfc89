"""The generic lister, mirroring ``k8s.io/client-go/listers/generic_helpers.go``.

lister-gen generates one small lister per type, all built on
``listers.ResourceIndexer[T]``.  Our objects are dicts, so one
:class:`ResourceIndexer` serves every resource and the typed listers in this
package are thin subclasses that add the accessor names client-go users
expect (``pod_lister.pods(ns).get(name)``).
"""

from __future__ import annotations

from typing import Any

from ...apimachinery import errors, labels
from ...apimachinery.schema import ResourceInfo
from ..tools.cache.listers import list_all, list_all_by_namespace
from ..tools.cache.store import Indexer

__all__ = ["ResourceIndexer", "lister_group_resource", "new", "new_namespaced"]


def lister_group_resource(info: ResourceInfo) -> str:
    """The resource name lister-gen puts in NotFound errors: the lowercase singular kind.

    ``pod``, ``statefulset.apps``, ``bitcoinnetwork.bitcoincontroller.dev``
    -- so a lister miss reads ``pod "x" not found`` where the API server
    would say ``pods "x" not found``.
    """
    return f"{info.singular}.{info.group}" if info.group else info.singular


class ResourceIndexer:
    """``listers.ResourceIndexer[T]``: list and get over an informer's indexer.

    With ``namespace=""`` it lists every namespace and ``get`` looks up a
    cluster-scoped name; with a namespace it lists through the ``namespace``
    index and ``get`` looks up ``"<namespace>/<name>"``.
    """

    def __init__(self, indexer: Indexer, resource: ResourceInfo | str, namespace: str = "") -> None:
        self._indexer = indexer
        self._group_resource = (
            lister_group_resource(resource) if isinstance(resource, ResourceInfo) else resource
        )
        self._namespace = namespace

    @property
    def namespace(self) -> str:
        return self._namespace

    def list(self, selector: labels.Selector | None = None) -> list[dict[str, Any]]:
        """Objects whose labels match ``selector`` (``None`` = everything). Read-only!"""
        out: list[dict[str, Any]] = []
        if self._namespace == "":
            list_all(self._indexer, selector, out.append)
        else:
            list_all_by_namespace(self._indexer, self._namespace, selector, out.append)
        return out

    def get(self, name: str) -> dict[str, Any]:
        """The cached object; raises ``NotFoundError`` if it is not in the cache. Read-only!"""
        key = f"{self._namespace}/{name}" if self._namespace else name
        obj, exists = self._indexer.get_by_key(key)
        if not exists:
            raise errors.new_not_found(self._group_resource, name)
        return obj


def new(indexer: Indexer, resource: ResourceInfo | str) -> ResourceIndexer:
    """``listers.New``: a lister across all namespaces."""
    return ResourceIndexer(indexer, resource)


def new_namespaced(lister: ResourceIndexer, namespace: str) -> ResourceIndexer:
    """``listers.NewNamespaced``: the same lister restricted to ``namespace``."""
    return ResourceIndexer(lister._indexer, lister._group_resource, namespace)

"""Listing helpers over a cache, mirroring ``k8s.io/client-go/tools/cache/listers.go``.

Listers read an informer's indexer instead of the API server.  These are the
building blocks the typed listers in :mod:`bitcoin_controller.clientgo.listers`
use, plus the generic lister for any resource.

Objects returned are the cache's own instances: never modify them; call
:func:`~bitcoin_controller.apimachinery.metav1.deep_copy` first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ....apimachinery import errors, labels, metav1
from .index import NAMESPACE_INDEX, UnknownIndexError
from .store import Indexer, Store

__all__ = [
    "AppendFunc",
    "list_all",
    "list_all_by_namespace",
    "GenericLister",
    "GenericNamespaceLister",
    "new_generic_lister",
]

log = logging.getLogger(__name__)

#: ``cache.AppendFunc``: receives each selected object.
AppendFunc = Callable[[Any], Any]


def _selected(selector: labels.Selector, obj: Any) -> bool:
    return selector.matches(metav1.get_labels(obj))


def list_all(store: Store, selector: labels.Selector | None, append_fn: AppendFunc) -> None:
    """``cache.ListAll``: every object in ``store`` whose labels match ``selector``.

    The empty selector (``labels.everything()``, or ``None``) skips reading
    labels altogether -- the common "list everything" path stays cheap.
    """
    selector = labels.everything() if selector is None else selector
    select_all = selector.empty()
    for obj in store.list():
        if select_all or _selected(selector, obj):
            append_fn(obj)


def list_all_by_namespace(
    indexer: Indexer, namespace: str, selector: labels.Selector | None, append_fn: AppendFunc
) -> None:
    """``cache.ListAllByNamespace``: like :func:`list_all`, restricted to ``namespace``.

    Uses the ``namespace`` index; without it, falls back to a full scan (with
    a warning, since that is linear in the cache size).  ``""`` means all
    namespaces.
    """
    if namespace == "":
        list_all(indexer, selector, append_fn)
        return
    selector = labels.everything() if selector is None else selector
    try:
        items = indexer.by_index(NAMESPACE_INDEX, namespace)
    except UnknownIndexError as err:  # the index is missing: slow path
        log.warning("can not retrieve list of objects using index : %s", err)
        for obj in indexer.list():
            if metav1.get_namespace(obj) == namespace and _selected(selector, obj):
                append_fn(obj)
        return
    select_all = selector.empty()
    for obj in items:
        if select_all or _selected(selector, obj):
            append_fn(obj)


class GenericNamespaceLister:
    """``cache.GenericNamespaceLister``: list and get within one namespace."""

    def __init__(self, indexer: Indexer, group_resource: str, namespace: str) -> None:
        self._indexer = indexer
        self._group_resource = group_resource
        self._namespace = namespace

    def list(self, selector: labels.Selector | None = None) -> list[Any]:
        out: list[Any] = []
        list_all_by_namespace(self._indexer, self._namespace, selector, out.append)
        return out

    def get(self, name: str) -> Any:
        """The object ``name``; raises ``NotFoundError`` (``<resource> "<name>" not found``)."""
        obj, exists = self._indexer.get_by_key(f"{self._namespace}/{name}")
        if not exists:
            raise errors.new_not_found(self._group_resource, name)
        return obj


class GenericLister:
    """``cache.GenericLister``: a lister for any resource, used with dynamic informers.

    ``group_resource`` names the resource in NotFound errors (``pods``,
    ``statefulsets.apps``).
    """

    def __init__(self, indexer: Indexer, group_resource: str) -> None:
        self._indexer = indexer
        self._group_resource = group_resource

    def list(self, selector: labels.Selector | None = None) -> list[Any]:
        out: list[Any] = []
        list_all(self._indexer, selector, out.append)
        return out

    def get(self, name: str) -> Any:
        """A cluster-scoped object by name (a namespaced one by ``"ns/name"``)."""
        obj, exists = self._indexer.get_by_key(name)
        if not exists:
            raise errors.new_not_found(self._group_resource, name)
        return obj

    def by_namespace(self, namespace: str) -> GenericNamespaceLister:
        return GenericNamespaceLister(self._indexer, self._group_resource, namespace)


def new_generic_lister(indexer: Indexer, group_resource: str) -> GenericLister:
    """``cache.NewGenericLister``."""
    return GenericLister(indexer, group_resource)

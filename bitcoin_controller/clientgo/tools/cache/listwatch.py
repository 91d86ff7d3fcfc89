"""ListerWatcher, mirroring ``k8s.io/client-go/tools/cache/listwatch.go``.

A reflector needs exactly two calls against the API: LIST (a snapshot with a
resourceVersion) and WATCH (the changes after a resourceVersion).  A
:class:`ListerWatcher` is that pair; :class:`ListWatch` builds one from two
plain functions, and :func:`new_filtered_list_watch_from_client` builds the
usual one from a clientset, one resource and one namespace -- which is what
every generated informer does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ....apimachinery import watch
from ....apimachinery.metav1 import NAMESPACE_ALL, ListOptions
from ....apimachinery.schema import ResourceInfo

__all__ = [
    "Lister",
    "Watcher",
    "ListerWatcher",
    "ListFunc",
    "WatchFunc",
    "TweakListOptionsFunc",
    "ListWatch",
    "ResourceGetter",
    "new_list_watch_from_client",
    "new_filtered_list_watch_from_client",
]

#: ``cache.ListFunc``: LIST with the given options; returns a ``<Kind>List`` dict.
ListFunc = Callable[[ListOptions], dict[str, Any]]
#: ``cache.WatchFunc``: WATCH with the given options.
WatchFunc = Callable[[ListOptions], watch.Interface]
#: ``internalinterfaces.TweakListOptionsFunc``: mutates the options in place
#: (e.g. sets a label selector) before every LIST and WATCH.
TweakListOptionsFunc = Callable[[ListOptions], None]


@runtime_checkable
class Lister(Protocol):
    """``cache.Lister``: LIST a resource."""

    def list(self, opts: ListOptions) -> dict[str, Any]: ...


@runtime_checkable
class Watcher(Protocol):
    """``cache.Watcher``: WATCH a resource."""

    def watch(self, opts: ListOptions) -> watch.Interface: ...


@runtime_checkable
class ListerWatcher(Lister, Watcher, Protocol):
    """``cache.ListerWatcher``: what a :class:`~.reflector.Reflector` consumes.

    ``list`` must return the whole ``<Kind>List`` object (its
    ``metadata.resourceVersion`` and ``metadata.continue`` matter), not just
    the items; ``watch`` must honour ``opts.resource_version``.
    """


class _ResourceClient(Protocol):
    def list(self, opts: ListOptions) -> dict[str, Any]: ...

    def watch(self, opts: ListOptions) -> watch.Interface: ...


class ResourceGetter(Protocol):
    """What :func:`new_filtered_list_watch_from_client` needs of a clientset (Go's
    ``cache.Getter``): one resource's client in one namespace.  Every clientset
    (``kubernetes.Interface``, real or fake) is one, and ``tools/cache`` need
    not import the clientset package, as in client-go."""

    def resource(self, info: ResourceInfo, namespace: str = NAMESPACE_ALL) -> _ResourceClient: ...


class ListWatch:
    """``cache.ListWatch``: a :class:`ListerWatcher` made of two functions.

    ``list`` passes the options through unchanged: the reflector's pager
    already handles pagination, and a second layer would request every page
    twice (client-go has the same comment).  ``watch`` marks the options as
    a watch request (``watch=True``), as the generated clients do.
    """

    def __init__(self, list_func: ListFunc, watch_func: WatchFunc) -> None:
        self.list_func = list_func
        self.watch_func = watch_func

    def list(self, opts: ListOptions) -> dict[str, Any]:
        """LIST with ``opts``."""
        return self.list_func(opts)

    def watch(self, opts: ListOptions) -> watch.Interface:
        """WATCH with ``opts``."""
        return self.watch_func(opts)


def new_filtered_list_watch_from_client(
    client: ResourceGetter,
    resource: ResourceInfo,
    namespace: str = NAMESPACE_ALL,
    tweak_list_options: TweakListOptionsFunc | None = None,
) -> ListWatch:
    """``cache.NewFilteredListWatchFromClient``: list and watch one resource through a clientset.

    ``resource`` is a :class:`~bitcoin_controller.apimachinery.schema.ResourceInfo`
    (Go passes the resource's name and a REST client that knows its group;
    the info carries both).  ``tweak_list_options`` is applied to a *copy*
    of the options before every LIST and WATCH, so it can set selectors
    without changing the reflector's own bookkeeping.  The namespace is
    ignored for cluster-scoped resources.
    """
    resource_client = client.resource(resource, namespace)

    def prepared(opts: ListOptions, is_watch: bool) -> ListOptions:
        opts = opts.copy()
        if tweak_list_options is not None:
            tweak_list_options(opts)
        if is_watch:
            opts.watch = True
        return opts

    def list_func(opts: ListOptions) -> dict[str, Any]:
        return resource_client.list(prepared(opts, False))

    def watch_func(opts: ListOptions) -> watch.Interface:
        return resource_client.watch(prepared(opts, True))

    return ListWatch(list_func, watch_func)


def new_list_watch_from_client(
    client: ResourceGetter,
    resource: ResourceInfo,
    namespace: str = NAMESPACE_ALL,
    field_selector: str | None = None,
) -> ListWatch:
    """``cache.NewListWatchFromClient``: like the filtered form, with an optional field selector."""

    def set_field_selector(opts: ListOptions) -> None:
        opts.field_selector = field_selector

    tweak = set_field_selector if field_selector else None
    return new_filtered_list_watch_from_client(client, resource, namespace, tweak)

"""The shared informer factory, mirroring ``k8s.io/client-go/informers/factory.go``.

A process should hold one informer per resource, however many controllers
read it: each informer is a LIST plus a long-lived WATCH against the API
server and a full copy of the objects in memory.  The factory enforces that:
:meth:`SharedInformerFactory.informer_for` creates an informer the first time
a resource is asked for and returns the same one afterwards, and
:meth:`~SharedInformerFactory.start` starts whatever has been requested so
far.  The usual sequence::

    factory = SharedInformerFactory(clientset, resync_period=30.0)
    pods = factory.core().v1().pods()           # request informers (lazy)
    controller = MyController(pods.informer(), pods.lister())
    factory.start(stop)                         # non-blocking
    factory.wait_for_cache_sync(stop)           # {resource: synced}
    ...
    stop.set(); factory.shutdown()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ...apimachinery.schema import ResourceInfo
from ...utils.clock import REAL_CLOCK, Clock
from ..kubernetes import scheme
from ..kubernetes.clientset import NAMESPACE_ALL, Interface
from ..kubernetes.scheme import resource_named
from ..listers import lister_for
from ..tools.cache.index import NAMESPACE_INDEX, Indexers, meta_namespace_index_func
from ..tools.cache.listwatch import TweakListOptionsFunc, new_filtered_list_watch_from_client
from ..tools.cache.shared_informer import SharedIndexInformer, wait_for_cache_sync

__all__ = [
    "NewInformerFunc",
    "SharedInformerFactory",
    "SharedInformerOption",
    "new_shared_informer_factory",
    "new_shared_informer_factory_with_options",
    "new_filtered_shared_informer_factory",
    "with_namespace",
    "with_tweak_list_options",
    "with_custom_resync_config",
    "with_transform",
    "new_filtered_informer",
    "default_indexers",
]

#: ``internalinterfaces.NewInformerFunc``: builds the informer of one resource.
NewInformerFunc = Callable[[Interface, float], SharedIndexInformer]
#: ``SharedInformerOption``: mutates a factory while it is being built.
SharedInformerOption = Callable[["SharedInformerFactory"], None]


def default_indexers() -> Indexers:
    """The indexers every generated informer gets: ``{"namespace": meta_namespace_index_func}``."""
    return {NAMESPACE_INDEX: meta_namespace_index_func}


def new_filtered_informer(
    client: Interface,
    resource: ResourceInfo,
    namespace: str,
    resync_period: float,
    indexers: Indexers,
    tweak_list_options: TweakListOptionsFunc | None = None,
    *,
    clock: Clock = REAL_CLOCK,
) -> SharedIndexInformer:
    """``NewFilteredXxxInformer``: a standalone informer for one resource (no factory).

    Prefer the factory, which shares informers; this is what its typed
    accessors call.
    """
    lister_watcher = new_filtered_list_watch_from_client(
        client, resource, namespace, tweak_list_options
    )
    return SharedIndexInformer(
        lister_watcher, resource, resync_period, indexers, name=resource.group_resource, clock=clock
    )


def _as_resource(resource: ResourceInfo | str) -> ResourceInfo:
    return resource if isinstance(resource, ResourceInfo) else resource_named(resource)


class SharedInformerFactory:
    """``informers.SharedInformerFactory``: one lazily created informer per resource.

    Options (Go's ``WithNamespace``, ``WithTweakListOptions``,
    ``WithCustomResyncConfig``, ``WithTransform``): ``namespace`` limits every
    informer to one namespace (``None``/``""`` = all); ``tweak_list_options``
    mutates every LIST/WATCH request (e.g. a label selector); ``custom_resync``
    maps a resource to its own resync period; ``transform`` is set on every
    informer created.  Informers are keyed by
    :class:`~bitcoin_controller.clientgo.kubernetes.scheme.ResourceInfo`
    (Go keys them by Go type).
    """

    def __init__(
        self,
        client: Interface,
        resync_period: float = 0.0,
        namespace: str | None = None,
        tweak_list_options: TweakListOptionsFunc | None = None,
        transform: Callable[[Any], Any] | None = None,
        custom_resync: Mapping[ResourceInfo | str, float] | None = None,
        *,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.client = client
        self.default_resync = resync_period
        self.namespace = namespace or NAMESPACE_ALL
        self.tweak_list_options = tweak_list_options
        self.transform = transform
        self.custom_resync: dict[ResourceInfo, float] = {
            _as_resource(r): p for r, p in (custom_resync or {}).items()
        }
        self.clock = clock
        self._lock = threading.Lock()
        self._informers: dict[ResourceInfo, SharedIndexInformer] = {}
        self._started: dict[ResourceInfo, threading.Thread] = {}
        self._shutting_down = False

    # -- informer registry -------------------------------------------------------------

    def informer_for(
        self, resource: ResourceInfo, new_func: NewInformerFunc
    ) -> SharedIndexInformer:
        """``InformerFor``: the informer of ``resource``, built with ``new_func`` on first use."""
        with self._lock:
            informer = self._informers.get(resource)
            if informer is not None:
                return informer
            resync = self.custom_resync.get(resource, self.default_resync)
            informer = new_func(self.client, resync)
            informer.set_transform(self.transform)
            self._informers[resource] = informer
            return informer

    def for_resource(self, resource: ResourceInfo | str) -> GenericInformer:
        """``ForResource``: the generic informer of any known resource."""
        return GenericInformer(self, _as_resource(resource))

    def start(self, stop_event: threading.Event) -> None:
        """``Start``: run every requested informer not yet started, each in a daemon thread.

        Non-blocking and safe to call again after requesting more informers.
        Does nothing once :meth:`shutdown` has been called.
        """
        with self._lock:
            if self._shutting_down:
                return
            for resource, informer in self._informers.items():
                if resource in self._started:
                    continue
                thread = threading.Thread(
                    target=informer.run,
                    args=(stop_event,),
                    name=f"informer-{resource.group_resource}",
                    daemon=True,
                )
                thread.start()
                self._started[resource] = thread

    def wait_for_cache_sync(self, stop_event: threading.Event) -> dict[ResourceInfo, bool]:
        """``WaitForCacheSync``: wait for every *started* informer; ``{resource: synced}``."""
        with self._lock:
            started = {r: self._informers[r] for r in self._started}
        return {
            resource: wait_for_cache_sync(stop_event, informer.has_synced, clock=self.clock)
            for resource, informer in started.items()
        }

    def shutdown(self) -> None:
        """``Shutdown``: refuse further starts and wait for the informer threads to end.

        The informers stop when the stop event given to :meth:`start` is set;
        call this after setting it.
        """
        with self._lock:
            self._shutting_down = True
            threads = list(self._started.values())
        for thread in threads:
            thread.join()

    # -- typed accessors (``factory.Core().V1().Pods()``) ----------------------------------

    def core(self) -> _CoreGroup:
        return _CoreGroup(self)

    def apps(self) -> _AppsGroup:
        return _AppsGroup(self)

    def coordination(self) -> _CoordinationGroup:
        return _CoordinationGroup(self)

    def bitcoincontroller(self) -> _BitcoincontrollerGroup:
        return _BitcoincontrollerGroup(self)


class GenericInformer:
    """``informers.GenericInformer`` and every typed ``XxxInformer``: ``informer()``, ``lister()``.

    ``informer()`` registers the resource with the factory (so the next
    ``factory.start`` runs it) and returns the shared instance.
    """

    def __init__(self, factory: SharedInformerFactory, resource: ResourceInfo) -> None:
        self._factory = factory
        self.resource = resource

    def _default_informer(self, client: Interface, resync_period: float) -> SharedIndexInformer:
        f = self._factory
        return new_filtered_informer(
            client,
            self.resource,
            f.namespace,
            resync_period,
            default_indexers(),
            f.tweak_list_options,
            clock=f.clock,
        )

    def informer(self) -> SharedIndexInformer:
        return self._factory.informer_for(self.resource, self._default_informer)

    def lister(self) -> Any:
        """The typed lister over this informer's indexer (e.g. a ``PodLister``)."""
        return lister_for(self.resource, self.informer().get_indexer())


class _Version:
    def __init__(self, factory: SharedInformerFactory) -> None:
        self._factory = factory

    def _informer(self, resource: ResourceInfo) -> GenericInformer:
        return GenericInformer(self._factory, resource)


class CoreV1Informers(_Version):
    """``informers/core/v1.Interface``."""

    def pods(self) -> GenericInformer:
        return self._informer(scheme.PODS)

    def services(self) -> GenericInformer:
        return self._informer(scheme.SERVICES)

    def secrets(self) -> GenericInformer:
        return self._informer(scheme.SECRETS)

    def config_maps(self) -> GenericInformer:
        return self._informer(scheme.CONFIG_MAPS)

    def events(self) -> GenericInformer:
        return self._informer(scheme.EVENTS)

    def service_accounts(self) -> GenericInformer:
        return self._informer(scheme.SERVICE_ACCOUNTS)

    def namespaces(self) -> GenericInformer:
        return self._informer(scheme.NAMESPACES)

    def nodes(self) -> GenericInformer:
        return self._informer(scheme.NODES)


class AppsV1Informers(_Version):
    """``informers/apps/v1.Interface``."""

    def stateful_sets(self) -> GenericInformer:
        return self._informer(scheme.STATEFUL_SETS)


class CoordinationV1Informers(_Version):
    """``informers/coordination/v1.Interface``."""

    def leases(self) -> GenericInformer:
        return self._informer(scheme.LEASES)


class BitcoincontrollerV1Informers(_Version):
    """The generated-style informers of ``bitcoincontroller.dev/v1``."""

    def bitcoin_networks(self) -> GenericInformer:
        return self._informer(scheme.BITCOIN_NETWORKS)


class _CoreGroup(_Version):
    def v1(self) -> CoreV1Informers:
        return CoreV1Informers(self._factory)


class _AppsGroup(_Version):
    def v1(self) -> AppsV1Informers:
        return AppsV1Informers(self._factory)


class _CoordinationGroup(_Version):
    def v1(self) -> CoordinationV1Informers:
        return CoordinationV1Informers(self._factory)


class _BitcoincontrollerGroup(_Version):
    def v1(self) -> BitcoincontrollerV1Informers:
        return BitcoincontrollerV1Informers(self._factory)


# -- Go-style constructors and options ------------------------------------------------------


def with_namespace(namespace: str) -> SharedInformerOption:
    """``WithNamespace``: limit every informer to ``namespace``."""

    def apply(f: SharedInformerFactory) -> None:
        f.namespace = namespace

    return apply


def with_tweak_list_options(tweak: TweakListOptionsFunc) -> SharedInformerOption:
    """``WithTweakListOptions``: mutate every LIST/WATCH request's options."""

    def apply(f: SharedInformerFactory) -> None:
        f.tweak_list_options = tweak

    return apply


def with_custom_resync_config(config: Mapping[ResourceInfo | str, float]) -> SharedInformerOption:
    """``WithCustomResyncConfig``: per-resource resync periods."""

    def apply(f: SharedInformerFactory) -> None:
        f.custom_resync.update({_as_resource(r): p for r, p in config.items()})

    return apply


def with_transform(transform: Callable[[Any], Any]) -> SharedInformerOption:
    """``WithTransform``: set this transform on every informer the factory creates."""

    def apply(f: SharedInformerFactory) -> None:
        f.transform = transform

    return apply


def new_shared_informer_factory(client: Interface, default_resync: float) -> SharedInformerFactory:
    """``NewSharedInformerFactory``: all namespaces, no options."""
    return SharedInformerFactory(client, default_resync)


def new_shared_informer_factory_with_options(
    client: Interface, default_resync: float, *options: SharedInformerOption
) -> SharedInformerFactory:
    """``NewSharedInformerFactoryWithOptions``."""
    factory = SharedInformerFactory(client, default_resync)
    for option in options:
        option(factory)
    return factory


def new_filtered_shared_informer_factory(
    client: Interface,
    default_resync: float,
    namespace: str,
    tweak_list_options: TweakListOptionsFunc | None,
) -> SharedInformerFactory:
    """``NewFilteredSharedInformerFactory`` (deprecated in Go in favour of options)."""
    return SharedInformerFactory(client, default_resync, namespace, tweak_list_options)

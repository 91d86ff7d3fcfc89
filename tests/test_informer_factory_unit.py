"""Unit tests for SharedInformerFactory (client-go informers/factory.go), including
informers driven end to end by the fake clientset."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from waiting import wait_until

from bitcoin_controller.apimachinery import errors, labels
from bitcoin_controller.clientgo.informers import (
    SharedInformerFactory,
    new_shared_informer_factory_with_options,
    with_custom_resync_config,
    with_namespace,
    with_transform,
    with_tweak_list_options,
)
from bitcoin_controller.clientgo.kubernetes import scheme
from bitcoin_controller.clientgo.kubernetes.fake import Clientset
from bitcoin_controller.clientgo.listers import PodLister
from bitcoin_controller.clientgo.tools.cache.controller import ResourceEventHandlerDetailedFuncs
from bitcoin_controller.clientgo.tools.cache.index import NAMESPACE_INDEX
from bitcoin_controller.clientgo.tools.cache.shared_informer import SharedIndexInformer

DEADLINE = 5.0



def pod(name: str, ns: str = "default", **lbls: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if lbls:
        meta["labels"] = lbls
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {}}


def informer_actions(cs: Clientset, verb: str) -> list:
    return [a for a in cs.actions() if a.verb == verb]


@pytest.fixture
def running():
    """Start factories with a shared stop event; stop and shut them down afterwards."""
    stop = threading.Event()
    factories: list[SharedInformerFactory] = []

    def start(factory: SharedInformerFactory) -> threading.Event:
        factories.append(factory)
        factory.start(stop)
        return stop

    yield start
    stop.set()
    for f in factories:
        f.shutdown()


def test_same_informer_per_resource_and_lazy_creation_unit():
    factory = SharedInformerFactory(Clientset(), 0.0)
    built: list[float] = []

    def new_func(client, resync):
        built.append(resync)
        return SharedIndexInformer(None, scheme.PODS, resync)

    first = factory.informer_for(scheme.PODS, new_func)
    assert factory.informer_for(scheme.PODS, new_func) is first
    assert built == [0.0]
    pods = factory.core().v1().pods()
    assert pods.informer() is first  # typed accessors go through informer_for
    assert factory.core().v1().pods().informer() is first
    assert factory.apps().v1().stateful_sets().informer() is not first
    # Default indexers include the namespace index.
    sts = factory.apps().v1().stateful_sets().informer()
    assert NAMESPACE_INDEX in sts.get_indexer().get_indexers()


@pytest.mark.timeout(10)
def test_start_is_idempotent_and_starts_late_informers_unit(running):
    cs = Clientset(pod("a"))
    factory = SharedInformerFactory(cs, 0.0)
    pods = factory.core().v1().pods().informer()
    stop = running(factory)
    factory.start(stop)
    assert factory.wait_for_cache_sync(stop) == {scheme.PODS: True}
    assert pods.has_synced()
    svcs = factory.core().v1().services().informer()
    assert not svcs.has_started()
    factory.start(stop)
    assert factory.wait_for_cache_sync(stop) == {scheme.PODS: True, scheme.SERVICES: True}
    assert wait_until(lambda: len(informer_actions(cs, "watch")) == 2)
    lists = informer_actions(cs, "list")
    assert sorted(a.resource.resource for a in lists) == ["pods", "services"]  # one LIST each


def test_wait_for_cache_sync_only_started_unit():
    factory = SharedInformerFactory(Clientset(), 0.0)
    factory.core().v1().pods().informer()
    assert factory.wait_for_cache_sync(threading.Event()) == {}


@pytest.mark.timeout(10)
def test_namespace_and_tweak_list_options_applied_unit(running):
    cs = Clientset(pod("a", "x", app="btc"), pod("b", "x"), pod("c", "y", app="btc"))

    def only_btc(opts):
        opts.label_selector = "app=btc"

    factory = SharedInformerFactory(cs, 0.0, namespace="x", tweak_list_options=only_btc)
    lister = factory.core().v1().pods().lister()
    stop = running(factory)
    assert factory.wait_for_cache_sync(stop) == {scheme.PODS: True}
    assert [p["metadata"]["name"] for p in lister.list()] == ["a"]
    (list_action,) = informer_actions(cs, "list")
    assert list_action.namespace == "x"
    assert list_action.list_restrictions.labels == "app=btc"
    assert wait_until(lambda: informer_actions(cs, "watch"))
    watch_action = informer_actions(cs, "watch")[0]
    assert watch_action.namespace == "x"
    assert watch_action.list_options.label_selector == "app=btc"


def test_options_constructor_custom_resync_and_transform_unit():
    def strip(o):
        return o

    factory = new_shared_informer_factory_with_options(
        Clientset(),
        30.0,
        with_namespace("ns"),
        with_tweak_list_options(lambda o: None),
        with_custom_resync_config({"pods": 5.0}),
        with_transform(strip),
    )
    assert factory.namespace == "ns"
    pods = factory.core().v1().pods().informer()
    svcs = factory.core().v1().services().informer()
    assert pods._resync_check_period == 5.0
    assert svcs._resync_check_period == 30.0
    assert pods._transform is strip


@pytest.mark.timeout(10)
def test_shutdown_waits_and_blocks_new_starts_unit():
    cs = Clientset()
    factory = SharedInformerFactory(cs, 0.0)
    informer = factory.core().v1().pods().informer()
    stop = threading.Event()
    factory.start(stop)
    assert factory.wait_for_cache_sync(stop)[scheme.PODS]
    stop.set()
    factory.shutdown()
    assert informer.is_stopped()
    factory.core().v1().services().informer()
    factory.start(threading.Event())  # no-op after shutdown
    assert not factory.core().v1().services().informer().has_started()


@pytest.mark.timeout(15)
def test_fake_clientset_drives_informer_end_to_end_unit(running):
    cs = Clientset(pod("seed"))
    factory = SharedInformerFactory(cs, 0.0)
    pods = factory.core().v1().pods()
    events: list[tuple] = []
    pods.informer().add_event_handler(ResourceEventHandlerDetailedFuncs(
        on_add=lambda o, initial: events.append(("add", o["metadata"]["name"], initial)),
        on_update=lambda old, new: events.append(("update", new["metadata"]["name"])),
        on_delete=lambda o: events.append(("delete", o["metadata"]["name"])),
    ))
    lister = pods.lister()
    assert isinstance(lister, PodLister)
    stop = running(factory)
    assert factory.wait_for_cache_sync(stop) == {scheme.PODS: True}
    assert events == [("add", "seed", True)]
    assert wait_until(lambda: informer_actions(cs, "watch"))

    client = cs.core_v1().pods("default")
    created = client.create(pod("web", app="btc"))
    assert wait_until(lambda: ("add", "web", False) in events)
    assert lister.pods("default").get("web")["metadata"]["uid"] == created["metadata"]["uid"]
    assert [p["metadata"]["name"] for p in lister.list(labels.parse("app=btc"))] == ["web"]

    changed = dict(created, spec={"nodeName": "n1"})
    client.update(changed)
    assert wait_until(lambda: ("update", "web") in events)
    assert wait_until(
        lambda: lister.pods("default").get("web")["spec"].get("nodeName") == "n1"
    )

    client.delete("web")
    assert wait_until(lambda: ("delete", "web") in events)
    with pytest.raises(errors.NotFoundError, match='pod "web" not found'):
        lister.pods("default").get("web")
    assert pods.informer().last_sync_resource_version() != ""

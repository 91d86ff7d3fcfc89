"""Unit tests for listers (client-go listers/ and tools/cache/listers.go)."""

from __future__ import annotations

import pytest

from bitcoin_controller.apimachinery import errors, labels
from bitcoin_controller.clientgo import listers
from bitcoin_controller.clientgo.kubernetes import scheme
from bitcoin_controller.clientgo.tools.cache.index import NAMESPACE_INDEX, meta_namespace_index_func
from bitcoin_controller.clientgo.tools.cache.keys import deletion_handling_meta_namespace_key_func
from bitcoin_controller.clientgo.tools.cache.listers import GenericLister
from bitcoin_controller.clientgo.tools.cache.store import new_indexer


def obj(name: str, ns: str = "", **lbls: str) -> dict:
    meta: dict = {"name": name}
    if ns:
        meta["namespace"] = ns
    if lbls:
        meta["labels"] = lbls
    return {"metadata": meta}


def indexer(*objs: dict, with_ns_index: bool = True):
    idx = new_indexer(
        deletion_handling_meta_namespace_key_func,
        {NAMESPACE_INDEX: meta_namespace_index_func} if with_ns_index else {},
    )
    for o in objs:
        idx.add(o)
    return idx


def names(objs) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


SEED = (
    obj("a", "x", app="btc"),
    obj("b", "x", app="web"),
    obj("c", "y", app="btc"),
)


def test_pod_lister_list_all_and_by_namespace_unit():
    lister = listers.PodLister(indexer(*SEED))
    assert names(lister.list()) == ["a", "b", "c"]
    assert names(lister.list(labels.parse("app=btc"))) == ["a", "c"]
    assert names(lister.pods("x").list()) == ["a", "b"]
    assert names(lister.pods("x").list(labels.selector_from_set({"app": "btc"}))) == ["a"]
    assert lister.pods("x").list(labels.nothing()) == []
    assert names(lister.pods("").list()) == ["a", "b", "c"]  # "" = all namespaces


def test_namespace_list_falls_back_to_scan_without_index_unit():
    lister = listers.PodLister(indexer(*SEED, with_ns_index=False))
    assert names(lister.pods("x").list()) == ["a", "b"]
    assert names(lister.pods("y").list(labels.parse("app=btc"))) == ["c"]


def test_get_and_not_found_message_unit():
    lister = listers.PodLister(indexer(*SEED))
    assert lister.pods("x").get("a")["metadata"]["name"] == "a"
    with pytest.raises(errors.NotFoundError) as info:
        lister.pods("x").get("c")  # exists, but in another namespace
    assert str(info.value) == 'pod "c" not found'
    assert info.value.code == 404
    assert errors.is_not_found(info.value)


def test_lister_gen_resource_names_unit():
    assert listers.lister_group_resource(scheme.PODS) == "pod"
    assert listers.lister_group_resource(scheme.STATEFUL_SETS) == "statefulset.apps"
    sts = listers.StatefulSetLister(indexer())
    with pytest.raises(errors.NotFoundError, match='statefulset.apps "s" not found'):
        sts.stateful_sets("x").get("s")
    nets = listers.BitcoinNetworkLister(indexer(obj("n", "x")))
    assert nets.bitcoin_networks("x").get("n")["metadata"]["name"] == "n"
    with pytest.raises(errors.NotFoundError, match='bitcoinnetwork.bitcoincontroller.dev "m"'):
        nets.bitcoin_networks("x").get("m")


def test_cluster_scoped_lister_unit():
    nodes = listers.NodeLister(indexer(obj("n1", role="a"), obj("n2")))
    assert nodes.get("n1")["metadata"]["name"] == "n1"
    assert names(nodes.list(labels.parse("role"))) == ["n1"]
    with pytest.raises(errors.NotFoundError, match='node "n3" not found'):
        nodes.get("n3")


def test_lister_for_and_generic_lister_unit():
    idx = indexer(*SEED)
    assert isinstance(listers.lister_for(scheme.SERVICES, idx), listers.ServiceLister)
    generic = GenericLister(idx, "pods")
    assert names(generic.by_namespace("y").list()) == ["c"]
    assert generic.get("x/a")["metadata"]["name"] == "a"
    with pytest.raises(errors.NotFoundError, match='pods "zz" not found'):
        generic.by_namespace("x").get("zz")
    namespaced = listers.new_namespaced(listers.new(idx, scheme.PODS), "x")
    assert names(namespaced.list()) == ["a", "b"]


def test_typed_accessors_exist_unit():
    idx = indexer()
    assert listers.ServiceLister(idx).services("x").list() == []
    assert listers.SecretLister(idx).secrets("x").list() == []
    assert listers.ConfigMapLister(idx).config_maps("x").list() == []
    assert listers.EventLister(idx).events("x").list() == []
    assert listers.ServiceAccountLister(idx).service_accounts("x").list() == []
    assert listers.LeaseLister(idx).leases("x").list() == []
    assert listers.NamespaceLister(idx).list() == []

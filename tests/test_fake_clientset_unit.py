"""The fake clientset: recorded actions, reactor chains, tracker-backed behaviour."""

from __future__ import annotations

import threading

import pytest

from bitcoin_controller.apimachinery import errors, watch
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.apimachinery.types import JSON_PATCH, MERGE_PATCH
from bitcoin_controller.clientgo.kubernetes import Interface
from bitcoin_controller.clientgo.kubernetes.fake import Clientset
from bitcoin_controller.clientgo.testing import (
    CreateAction,
    DeleteAction,
    Fake,
    GetAction,
    ListAction,
    PatchAction,
    UnhandledWatchError,
    UpdateAction,
    WatchAction,
    default_watch_reactor,
    new_create_action,
    new_get_action,
    new_update_action,
    new_update_subresource_action,
    new_watch_action,
)


def pod(name: str, ns: str = "ns1", labels: dict | None = None) -> dict:
    meta = {"name": name, "namespace": ns, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {}}


def network(name: str = "regtest", nodes: int = 3) -> dict:
    return {"apiVersion": "bitcoincontroller.dev/v1", "kind": "BitcoinNetwork",
            "metadata": {"name": name, "namespace": "ns1"}, "spec": {"nodes": nodes}}


def test_is_a_clientset_seeded_through_the_tracker_unit():
    cs = Clientset(pod("a"), network(), {"apiVersion": "v1", "kind": "Node",
                                         "metadata": {"name": "n1"}})
    assert isinstance(cs, Interface)
    assert cs.core_v1().pods("ns1").get("a")["metadata"]["name"] == "a"
    assert cs.bitcoincontroller_v1().bitcoin_networks("ns1").get("regtest")["spec"] == {"nodes": 3}
    assert [n["metadata"]["name"] for n in cs.core_v1().nodes().list()["items"]] == ["n1"]
    assert cs.tracker.get("pods", "ns1", "a")["kind"] == "Pod"


def test_calls_become_the_actions_generated_fakes_build_unit():
    cs = Clientset(pod("a"), network())
    pods = cs.core_v1().pods("ns1")
    nets = cs.bitcoincontroller_v1().bitcoin_networks("ns1")
    pods.get("a")
    pods.list(ListOptions(label_selector="app=btc"))
    pods.watch(ListOptions(resource_version="5")).stop()
    created = pods.create(pod("b"))
    pods.update(created)
    net = nets.get("regtest")
    nets.update_status(net | {"status": {"readyNodes": 1}})
    nets.patch("regtest", {"spec": {"nodes": 4}})
    nets.patch("regtest", [{"op": "add", "path": "/status", "value": {}}], JSON_PATCH, "status")
    pods.delete("b", preconditions={"uid": created["metadata"]["uid"]})
    cs.core_v1().nodes().list()

    got = [(type(a).__name__, a.verb, a.namespace, a.resource.resource, a.subresource)
           for a in cs.actions()]
    assert got == [
        ("GetAction", "get", "ns1", "pods", ""),
        ("ListAction", "list", "ns1", "pods", ""),
        ("WatchAction", "watch", "ns1", "pods", ""),
        ("CreateAction", "create", "ns1", "pods", ""),
        ("UpdateAction", "update", "ns1", "pods", ""),
        ("GetAction", "get", "ns1", "bitcoinnetworks", ""),
        ("UpdateAction", "update", "ns1", "bitcoinnetworks", "status"),
        ("PatchAction", "patch", "ns1", "bitcoinnetworks", ""),
        ("PatchAction", "patch", "ns1", "bitcoinnetworks", "status"),
        ("DeleteAction", "delete", "ns1", "pods", ""),
        ("ListAction", "list", "", "nodes", ""),
    ]
    actions = cs.actions()
    assert isinstance(actions[1], ListAction)
    assert actions[1].list_restrictions.labels == "app=btc" and actions[1].kind == "Pod"
    assert isinstance(actions[2], WatchAction)
    assert actions[2].list_options.watch is True
    assert actions[2].watch_restrictions.resource_version == "5"
    assert isinstance(actions[7], PatchAction)
    assert (actions[7].name, actions[7].patch_type, actions[7].patch) == (
        "regtest", MERGE_PATCH, b'{"spec":{"nodes":4}}')
    assert isinstance(actions[9], DeleteAction)
    assert actions[9].delete_options["preconditions"] == {"uid": created["metadata"]["uid"]}
    cs.clear_actions()
    assert cs.actions() == []


def test_every_call_is_logged_as_a_deep_copy_unit():
    cs = Clientset()
    obj = pod("a", labels={"v": "1"})
    created = cs.core_v1().pods("ns1").create(obj)
    obj["metadata"]["labels"]["v"] = "changed-by-caller"
    created["metadata"]["labels"]["v"] = "changed-result"
    (action,) = cs.actions()
    assert isinstance(action, CreateAction)
    assert action.object["metadata"]["labels"] == {"v": "1"}
    assert action.object["metadata"].get("resourceVersion") is None  # as sent, not as stored
    action.object["metadata"]["labels"]["v"] = "changed-log"
    assert cs.actions()[0].object["metadata"]["labels"] == {"v": "1"}
    assert cs.core_v1().pods("ns1").get("a")["metadata"]["labels"] == {"v": "1"}


def test_prepend_reactor_wins_and_added_reactor_is_never_reached_unit():
    cs = Clientset()
    calls: list[str] = []

    def added(action):
        calls.append("added")
        return True, None, errors.new_internal_error("never")

    def prepended(action):
        calls.append("prepended")
        return True, None, errors.new_conflict("pods", "a", "injected")

    cs.add_reactor("create", "pods", added)
    assert cs.core_v1().pods("ns1").create(pod("a"))["metadata"]["name"] == "a"
    assert calls == []  # the tracker's reactor, first in the chain, handled it

    cs.prepend_reactor("create", "pods", prepended)
    with pytest.raises(errors.ConflictError, match="injected"):
        cs.core_v1().pods("ns1").create(pod("b"))
    assert calls == ["prepended"]
    with pytest.raises(errors.NotFoundError):  # the failed create stored nothing
        cs.core_v1().pods("ns1").get("b")


def test_unhandled_reactor_passes_the_action_down_the_chain_unit():
    cs = Clientset(pod("a"))
    seen: list[str] = []

    def observe(action):
        seen.append(action.name)
        return False, None, None

    cs.prepend_reactor("get", "*", observe)
    assert cs.core_v1().pods("ns1").get("a")["metadata"]["name"] == "a"
    assert seen == ["a"]


def test_subresource_reactor_matches_only_that_subresource_unit():
    cs = Clientset(network())
    refused: list[str] = []

    def refuse(action):
        refused.append(action.subresource)
        return True, None, errors.new_conflict("bitcoinnetworks.bitcoincontroller.dev",
                                               "regtest", "busy")

    cs.prepend_reactor("update", "bitcoinnetworks/status", refuse)
    nets = cs.bitcoincontroller_v1().bitcoin_networks("ns1")
    net = nets.get("regtest")
    nets.update(net | {"spec": {"nodes": 4}})
    with pytest.raises(errors.ConflictError):
        nets.update_status(net | {"status": {"readyNodes": 1}})
    assert refused == ["status"]


def test_unhandled_watch_is_an_error_unit():
    cs = Clientset()
    cs.watch_reaction_chain.clear()
    with pytest.raises(UnhandledWatchError, match="unhandled watch"):
        cs.core_v1().pods("ns1").watch()
    watcher, err = Fake().invokes_watch(new_watch_action("pods", "ns1"))
    assert watcher is None
    assert isinstance(err, UnhandledWatchError)


def test_default_watch_reactor_hands_out_a_hand_fed_watcher_unit():
    cs = Clientset()
    w = watch.FakeWatcher()
    cs.prepend_watch_reactor("pods", default_watch_reactor(w))
    got = cs.core_v1().pods("ns1").watch()
    assert got is w
    w.add(pod("manual"))
    w.stop()
    assert [e["object"]["metadata"]["name"] for e in got] == ["manual"]


def test_bare_fake_returns_the_default_when_nothing_handles_unit():
    fake = Fake()
    assert fake.invokes(new_get_action("pods", "ns1", "a"), "default") == ("default", None)
    assert len(fake.actions()) == 1


def test_list_applies_the_label_selector_client_side_even_to_reactor_answers_unit():
    cs = Clientset(pod("a", labels={"app": "btc"}), pod("b", labels={"app": "web"}), pod("c"))
    names = [p["metadata"]["name"]
             for p in cs.core_v1().pods("ns1").list(ListOptions(label_selector="app=btc"))["items"]]
    assert names == ["a"]
    canned = {"kind": "PodList", "metadata": {"resourceVersion": "9"},
              "items": [pod("x", labels={"app": "btc"}), pod("y")]}
    cs.prepend_reactor("list", "pods", lambda action: (True, canned, None))
    answer = cs.core_v1().pods("ns1").list(ListOptions(label_selector="app"))
    assert [p["metadata"]["name"] for p in answer["items"]] == ["x"]
    assert answer["metadata"]["resourceVersion"] == "9"


def test_matches_is_case_insensitive_and_understands_subresources_unit():
    status_update = new_update_subresource_action("bitcoinnetworks", "status", "ns1", {})
    assert status_update.matches("update", "bitcoinnetworks")  # bare resource: as in Go
    assert status_update.matches("UPDATE", "BitcoinNetworks/Status")
    assert not status_update.matches("update", "bitcoinnetworks/scale")
    assert not new_update_action("bitcoinnetworks", "ns1", {}).matches("update",
                                                                      "bitcoinnetworks/status")
    assert not new_create_action("pods", "ns1", {}).matches("update", "pods")


def test_expected_actions_in_sample_controller_style_unit():
    cs = Clientset(network())
    nets = cs.bitcoincontroller_v1().bitcoin_networks("ns1")
    net = nets.get("regtest")
    cs.clear_actions()
    desired = net | {"status": {"readyNodes": 3}}
    nets.update_status(desired)
    expected = [new_update_subresource_action("bitcoinnetworks", "status", "ns1", desired)]
    actual = cs.actions()
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual, strict=True):
        assert want.matches(got.verb, got.resource.resource)
        assert want.subresource == got.subresource
        assert isinstance(got, UpdateAction) and got.object == want.object


def test_status_subresource_and_generation_through_the_clientset_unit():
    cs = Clientset()
    nets = cs.bitcoincontroller_v1().bitcoin_networks("ns1")
    created = nets.create(network() | {"status": {"readyNodes": 5}})
    assert "status" not in created and created["metadata"]["generation"] == 1
    with_status = nets.update_status(created | {"status": {"readyNodes": 2}})
    resized = nets.update(with_status | {"spec": {"nodes": 4}, "status": {}})
    assert resized["status"] == {"readyNodes": 2}
    assert resized["metadata"]["generation"] == 2
    with pytest.raises(errors.ConflictError):
        nets.update(with_status)  # stale resourceVersion


def test_generate_name_and_increasing_versions_through_the_clientset_unit():
    cs = Clientset()
    pods = cs.core_v1().pods("ns1")
    a = pods.create({"metadata": {"generateName": "btcd-"}})
    b = pods.create({"metadata": {"generateName": "btcd-"}})
    assert a["metadata"]["name"] != b["metadata"]["name"]
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert [x.object["metadata"].get("name") for x in cs.actions()] == [None, None]


@pytest.mark.timeout(30)
def test_informer_style_list_then_watch_sees_later_changes_only_unit():
    cs = Clientset(pod("seeded"))
    pods = cs.core_v1().pods()
    listed = pods.list(ListOptions(resource_version="0"))
    assert [p["metadata"]["name"] for p in listed["items"]] == ["seeded"]
    w = pods.watch(ListOptions(resource_version=listed["metadata"]["resourceVersion"]))
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def consume():
        for event in w:
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                done.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    cs.core_v1().pods("ns2").create(pod("later", ns="ns2"))
    cs.core_v1().pods("ns1").patch("seeded", {"metadata": {"labels": {"x": "1"}}})
    cs.core_v1().pods("ns2").delete("later")
    assert done.wait(10)
    w.stop()
    consumer.join(10)
    assert seen == [("ADDED", "later"), ("MODIFIED", "seeded"), ("DELETED", "later")]


def test_namespace_and_all_namespace_watches_through_the_clientset_unit():
    cs = Clientset()
    ns1 = cs.core_v1().pods("ns1").watch()
    everywhere = cs.core_v1().pods().watch()
    cs.core_v1().pods("ns1").create(pod("a"))
    cs.core_v1().pods("ns2").create(pod("b", ns="ns2"))
    for w in (ns1, everywhere):
        w.stop()
    assert [e["object"]["metadata"]["name"] for e in ns1] == ["a"]
    assert [e["object"]["metadata"]["name"] for e in everywhere] == ["a", "b"]


def test_reactor_may_call_the_clientset_re_entrantly_unit():
    cs = Clientset(pod("a"))

    def get_then_fail(action):
        cs.core_v1().pods("ns1").get("a")  # same thread: the re-entrant lock allows it
        return True, None, errors.new_internal_error("boom")

    cs.prepend_reactor("delete", "pods", get_then_fail)
    with pytest.raises(errors.InternalError):
        cs.core_v1().pods("ns1").delete("a")
    assert [type(a) for a in cs.actions()] == [DeleteAction, GetAction]

"""ObjectTracker: storage, API-server-like metadata, patches and replaying watches."""

from __future__ import annotations

import threading

import pytest

from bitcoin_controller.apimachinery import errors, watch
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.apimachinery.types import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from bitcoin_controller.clientgo.kubernetes.scheme import (
    BITCOIN_NETWORKS,
    NODES,
    PODS,
    SCHEME,
    STATEFUL_SETS,
)
from bitcoin_controller.clientgo.testing import ObjectTracker
from bitcoin_controller.utils.clock import FakeClock


def pod(name: str, ns: str = "ns1", labels: dict | None = None, **extra) -> dict:
    meta = {"name": name, "namespace": ns, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c"}]}, **extra}


def network(name: str = "regtest", nodes: int = 3, **extra) -> dict:
    return {"apiVersion": "bitcoincontroller.dev/v1", "kind": "BitcoinNetwork",
            "metadata": {"name": name, "namespace": "ns1"}, "spec": {"nodes": nodes}, **extra}


def rv(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])


def drain(w: watch.Interface) -> list[tuple[str, str]]:
    """Every event buffered so far, as (type, name); stops the watcher."""
    w.stop()
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in w]


@pytest.fixture
def tracker() -> ObjectTracker:
    return ObjectTracker(SCHEME, clock=FakeClock())


# -- create / get / list -----------------------------------------------------------


def test_create_sets_server_fields_and_increasing_resource_versions_unit(tracker):
    a = tracker.create(PODS, pod("a"), "ns1")
    b = tracker.create(STATEFUL_SETS, {"metadata": {"name": "s"}, "spec": {}}, "ns1")
    c = tracker.create(PODS, pod("c"), "ns1")
    assert rv(a) < rv(b) < rv(c)  # one counter for the whole tracker, like etcd
    assert a["metadata"]["uid"] and a["metadata"]["uid"] != c["metadata"]["uid"]
    assert a["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"  # from the fake clock
    assert (b["apiVersion"], b["kind"]) == ("apps/v1", "StatefulSet")
    assert tracker.get(PODS, "ns1", "a") == a


def test_returned_objects_are_copies_unit(tracker):
    obj = pod("a")
    created = tracker.create(PODS, obj, "ns1")
    obj["spec"]["containers"].append({"name": "sneaky"})
    created["metadata"]["labels"] = {"sneaky": "yes"}
    stored = tracker.get(PODS, "ns1", "a")
    assert stored["spec"]["containers"] == [{"name": "c"}]
    assert "labels" not in stored["metadata"]


def test_already_exists_and_not_found_messages_unit(tracker):
    tracker.create(PODS, pod("a"), "ns1")
    with pytest.raises(errors.AlreadyExistsError, match='pods "a" already exists'):
        tracker.create(PODS, pod("a"), "ns1")
    with pytest.raises(errors.NotFoundError, match='pods "x" not found'):
        tracker.get(PODS, "ns1", "x")
    with pytest.raises(errors.NotFoundError, match='statefulsets.apps "x" not found'):
        tracker.update(STATEFUL_SETS, {"metadata": {"name": "x", "namespace": "ns1"}}, "ns1")
    with pytest.raises(errors.NotFoundError):
        tracker.delete(PODS, "ns1", "x")
    with pytest.raises(errors.NotFoundError):
        tracker.patch(PODS, "ns1", "x", MERGE_PATCH, b"{}")


def test_create_bad_requests_unit(tracker):
    with pytest.raises(errors.BadRequestError, match="namespace"):
        tracker.create(PODS, pod("a", ns="other"), "ns1")
    with pytest.raises(errors.BadRequestError, match="resourceVersion"):
        tracker.create(PODS, {"metadata": {"name": "a", "resourceVersion": "3"}}, "ns1")
    with pytest.raises(errors.InvalidError):
        tracker.create(PODS, {"metadata": {}}, "ns1")


def test_generate_name_is_honoured_unit(tracker):
    first = tracker.create(PODS, {"metadata": {"generateName": "node-"}}, "ns1")
    second = tracker.create(PODS, {"metadata": {"generateName": "node-"}}, "ns1")
    names = {first["metadata"]["name"], second["metadata"]["name"]}
    assert len(names) == 2
    assert all(n.startswith("node-") and len(n) == len("node-") + 5 for n in names)


def test_list_is_sorted_filtered_by_namespace_and_carries_the_resource_version_unit(tracker):
    tracker.create(PODS, pod("b", ns="ns2"), "ns2")
    tracker.create(PODS, pod("b"), "ns1")
    tracker.create(PODS, pod("a"), "ns1")
    everything = tracker.list(PODS)
    assert everything["kind"] == "PodList"
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in everything["items"]] == [
        ("ns1", "a"), ("ns1", "b"), ("ns2", "b")]
    assert everything["metadata"]["resourceVersion"] == tracker.resource_version == "3"
    assert [p["metadata"]["name"] for p in tracker.list("pods", "ns2")["items"]] == ["b"]


def test_cluster_scoped_objects_have_no_namespace_unit(tracker):
    node = tracker.create(NODES, {"metadata": {"name": "n1", "namespace": "ignored"}}, "")
    assert "namespace" not in node["metadata"]
    assert tracker.get(NODES, "whatever", "n1")["metadata"]["name"] == "n1"


# -- add (seeding) --------------------------------------------------------------------


def test_add_keeps_given_resource_version_and_expands_lists_unit(tracker):
    seeded = pod("seeded")
    seeded["metadata"]["resourceVersion"] = "40"
    tracker.add(seeded)
    tracker.add({"apiVersion": "v1", "kind": "PodList",
                 "items": [{"metadata": {"name": "x", "namespace": "ns1"}},
                           {"metadata": {"name": "y", "namespace": "ns1"}}]})
    assert tracker.get(PODS, "ns1", "seeded")["metadata"]["resourceVersion"] == "40"
    assert rv(tracker.get(PODS, "ns1", "x")) == 41  # the counter moved past the seed
    assert tracker.get(PODS, "ns1", "y")["kind"] == "Pod"
    with pytest.raises(errors.AlreadyExistsError):
        tracker.add(pod("x"))
    with pytest.raises(ValueError, match="no resource known"):
        tracker.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}})


# -- update / conflicts / no-ops ----------------------------------------------------


def test_stale_resource_version_conflicts_and_empty_one_is_unconditional_unit(tracker):
    v1 = tracker.create(PODS, pod("a"), "ns1")
    v2 = tracker.update(PODS, v1 | {"spec": {"containers": [{"name": "d"}]}}, "ns1")
    assert rv(v2) > rv(v1)
    with pytest.raises(errors.ConflictError, match="the object has been modified"):
        tracker.update(PODS, v1 | {"spec": {}}, "ns1")
    unconditional = pod("a") | {"spec": {"containers": []}}
    assert tracker.update(PODS, unconditional, "ns1")["spec"] == {"containers": []}
    assert tracker.get(PODS, "ns1", "a")["metadata"]["uid"] == v1["metadata"]["uid"]


def test_update_that_changes_nothing_keeps_version_and_sends_no_event_unit(tracker):
    created = tracker.create(PODS, pod("a"), "ns1")
    w = tracker.watch(PODS, "ns1", ListOptions(resource_version=tracker.resource_version))
    same = tracker.update(PODS, created, "ns1")
    assert rv(same) == rv(created)
    tracker.patch(PODS, "ns1", "a", MERGE_PATCH, {"metadata": {"labels": {"x": "1"}}})
    assert drain(w) == [("MODIFIED", "a")]  # only the real change


# -- status subresource and generation ------------------------------------------------


def test_status_subresource_separates_spec_and_status_unit(tracker):
    created = tracker.create(BITCOIN_NETWORKS, network(status={"readyNodes": 9}), "ns1")
    assert "status" not in created  # create ignores status
    assert created["metadata"]["generation"] == 1

    with_status = tracker.update(BITCOIN_NETWORKS, created | {"status": {"readyNodes": 1}}, "ns1",
                                 subresource="status")
    assert with_status["status"] == {"readyNodes": 1}
    assert with_status["metadata"]["generation"] == 1

    # a status update cannot change the spec...
    sneaky = with_status | {"spec": {"nodes": 99}, "status": {"readyNodes": 2}}
    after_status = tracker.update(BITCOIN_NETWORKS, sneaky, "ns1", subresource="status")
    assert (after_status["spec"], after_status["status"]) == ({"nodes": 3}, {"readyNodes": 2})

    # ...and a main-resource update cannot change the status; spec changes bump generation.
    resized = after_status | {"spec": {"nodes": 5}, "status": {"readyNodes": 77}}
    updated = tracker.update(BITCOIN_NETWORKS, resized, "ns1")
    assert (updated["spec"], updated["status"]) == ({"nodes": 5}, {"readyNodes": 2})
    assert updated["metadata"]["generation"] == 2

    relabelled = tracker.patch(BITCOIN_NETWORKS, "ns1", "regtest", MERGE_PATCH,
                               {"metadata": {"labels": {"a": "b"}}})
    assert relabelled["metadata"]["generation"] == 2  # metadata is not spec
    patched = tracker.patch(BITCOIN_NETWORKS, "ns1", "regtest", MERGE_PATCH,
                            {"status": {"readyNodes": 5}, "spec": {"nodes": 1}},
                            subresource="status")
    assert (patched["spec"], patched["status"]) == ({"nodes": 5}, {"readyNodes": 5})


def test_resources_without_status_subresource_update_whole_object_unit(tracker):
    created = tracker.create(PODS, pod("a", status={"phase": "Pending"}), "ns1")
    changed = created | {"status": {"phase": "Running"}, "spec": {"containers": []}}
    updated = tracker.update(PODS, changed, "ns1", subresource="status")
    assert (updated["status"], updated["spec"]) == ({"phase": "Running"}, {"containers": []})


# -- patches --------------------------------------------------------------------------


def test_merge_patch_merges_maps_and_null_deletes_unit(tracker):
    tracker.create(PODS, pod("a", labels={"keep": "1", "drop": "2"}), "ns1")
    patched = tracker.patch(PODS, "ns1", "a", MERGE_PATCH,
                            b'{"metadata": {"labels": {"drop": null, "new": "3"}}}')
    assert patched["metadata"]["labels"] == {"keep": "1", "new": "3"}
    strategic = tracker.patch(PODS, "ns1", "a", STRATEGIC_MERGE_PATCH,
                              {"metadata": {"annotations": {"a": "b"}}})
    assert strategic["metadata"]["annotations"] == {"a": "b"}
    assert strategic["metadata"]["labels"] == {"keep": "1", "new": "3"}


def test_json_patch_operations_and_failures_unit(tracker):
    tracker.create(PODS, pod("a"), "ns1")
    ops = [
        {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "1"}},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "d"}},
        {"op": "replace", "path": "/spec/containers/0/name", "value": "first"},
        {"op": "copy", "from": "/spec/containers/1", "path": "/spec/containers/0"},
        {"op": "remove", "path": "/spec/containers/2"},
        {"op": "test", "path": "/metadata/labels/a~0b~1c", "value": "1"},
    ]
    patched = tracker.patch(PODS, "ns1", "a", JSON_PATCH, ops)
    assert patched["spec"]["containers"] == [{"name": "d"}, {"name": "first"}]
    assert patched["metadata"]["labels"] == {"a~b/c": "1"}
    with pytest.raises(errors.InvalidError):
        tracker.patch(PODS, "ns1", "a", JSON_PATCH, [{"op": "test", "path": "/spec", "value": 1}])
    with pytest.raises(errors.BadRequestError):
        tracker.patch(PODS, "ns1", "a", JSON_PATCH, [{"op": "remove", "path": "/nope/deeper"}])
    with pytest.raises(errors.BadRequestError):
        tracker.patch(PODS, "ns1", "a", "application/apply-patch+yaml", b"{}")


def test_patch_with_stale_resource_version_conflicts_unit(tracker):
    created = tracker.create(PODS, pod("a"), "ns1")
    tracker.patch(PODS, "ns1", "a", MERGE_PATCH, {"metadata": {"labels": {"x": "1"}}})
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    with pytest.raises(errors.ConflictError):
        tracker.patch(PODS, "ns1", "a", MERGE_PATCH, stale)


# -- delete ----------------------------------------------------------------------------


def test_delete_sends_last_state_with_a_new_version_and_checks_preconditions_unit(tracker):
    created = tracker.create(PODS, pod("a", labels={"app": "btc"}), "ns1")
    w = tracker.watch(PODS, "ns1", ListOptions(resource_version=tracker.resource_version))
    with pytest.raises(errors.ConflictError):
        tracker.delete(PODS, "ns1", "a", preconditions={"uid": "someone-else"})
    tracker.delete(PODS, "ns1", "a", preconditions={"uid": created["metadata"]["uid"]})
    w.stop()
    (event,) = list(w)
    assert event["type"] == "DELETED"
    assert event["object"]["metadata"]["labels"] == {"app": "btc"}
    assert rv(event["object"]) > rv(created)
    with pytest.raises(errors.NotFoundError):
        tracker.get(PODS, "ns1", "a")


# -- watch -----------------------------------------------------------------------------


def test_list_then_watch_from_its_version_sees_every_later_change_once_unit(tracker):
    tracker.create(PODS, pod("before"), "ns1")
    listed = tracker.list(PODS, "ns1")
    # changes between the LIST and the WATCH must not be lost
    tracker.create(PODS, pod("gap"), "ns1")
    tracker.patch(PODS, "ns1", "before", MERGE_PATCH, {"metadata": {"labels": {"x": "1"}}})
    listed_rv = listed["metadata"]["resourceVersion"]
    w = tracker.watch(PODS, "ns1", ListOptions(resource_version=listed_rv))
    tracker.create(PODS, pod("after"), "ns1")
    tracker.delete(PODS, "ns1", "gap")
    assert drain(w) == [("ADDED", "gap"), ("MODIFIED", "before"), ("ADDED", "after"),
                        ("DELETED", "gap")]


@pytest.mark.parametrize("start", [None, "", "0"])
def test_watch_without_version_starts_with_synthetic_adds_unit(tracker, start):
    tracker.create(PODS, pod("b"), "ns1")
    tracker.create(PODS, pod("a"), "ns1")
    tracker.update(PODS, pod("a", labels={"v": "2"}), "ns1")
    w = tracker.watch(PODS, "ns1", ListOptions(resource_version=start))
    tracker.create(PODS, pod("c"), "ns1")
    assert drain(w) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]


def test_namespace_and_all_namespace_watchers_both_get_events_unit(tracker):
    ns1, ns2 = tracker.watch(PODS, "ns1"), tracker.watch(PODS, "ns2")
    everywhere = tracker.watch(PODS)
    tracker.create(PODS, pod("a"), "ns1")
    tracker.create(PODS, pod("b", ns="ns2"), "ns2")
    assert drain(ns1) == [("ADDED", "a")]
    assert drain(ns2) == [("ADDED", "b")]
    assert drain(everywhere) == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_with_label_selector_turns_relabels_into_adds_and_deletes_unit(tracker):
    tracker.create(PODS, pod("a", labels={"app": "btc"}), "ns1")
    w = tracker.watch(PODS, "ns1", ListOptions(label_selector="app=btc"))
    tracker.create(PODS, pod("other", labels={"app": "web"}), "ns1")
    tracker.patch(PODS, "ns1", "a", MERGE_PATCH, {"metadata": {"labels": {"app": "web"}}})
    tracker.patch(PODS, "ns1", "other", MERGE_PATCH, {"metadata": {"labels": {"app": "btc"}}})
    tracker.patch(PODS, "ns1", "other", MERGE_PATCH, {"metadata": {"annotations": {"z": "1"}}})
    assert drain(w) == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "other"),
                        ("MODIFIED", "other")]


def test_watch_from_a_compacted_version_gets_410_expired_unit():
    tracker = ObjectTracker(SCHEME, history_limit=2)
    for name in "abcd":
        tracker.create(PODS, pod(name), "ns1")
    w = tracker.watch(PODS, "ns1", ListOptions(resource_version="1"))
    (event,) = list(w)  # the watcher is closed after the error
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert errors.is_resource_expired(errors.from_status(event["object"]))
    fresh = tracker.watch(PODS, "ns1", ListOptions(resource_version="2"))
    assert drain(fresh) == [("ADDED", "c"), ("ADDED", "d")]


def test_malformed_watch_options_are_bad_requests_unit(tracker):
    with pytest.raises(errors.BadRequestError):
        tracker.watch(PODS, "ns1", ListOptions(resource_version="abc"))
    with pytest.raises(errors.BadRequestError):
        tracker.watch(PODS, "ns1", ListOptions(label_selector="in in in"))


def test_bounded_watch_buffer_raises_when_full_unit():
    tracker = ObjectTracker(SCHEME, watch_buffer_size=100)
    w = tracker.watch(PODS, "ns1")
    for i in range(100):
        tracker.create(PODS, pod(f"p{i}"), "ns1")
    with pytest.raises(watch.WatcherFullError):
        tracker.create(PODS, pod("overflow"), "ns1")
    w.stop()
    tracker.create(PODS, pod("after-stop"), "ns1")  # stopped watchers are dropped quietly


@pytest.mark.timeout(30)
def test_concurrent_writers_get_unique_versions_unit(tracker):
    w = tracker.watch(PODS)
    created: list[dict] = []
    lock = threading.Lock()

    def writer(prefix: str) -> None:
        for i in range(50):
            obj = tracker.create(PODS, pod(f"{prefix}-{i}"), "ns1")
            with lock:
                created.append(obj)

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = [rv(o) for o in created]
    assert len(set(versions)) == 200
    w.stop()
    event_versions = [rv(e["object"]) for e in w]
    assert event_versions == sorted(event_versions)  # events in version order
    assert len(event_versions) == 200


def test_send_initial_events_ends_the_initial_state_with_a_bookmark_unit(tracker):
    tracker.create(PODS, pod("a"), "ns1")
    w = tracker.watch(PODS, "ns1", ListOptions(send_initial_events=True, resource_version="",
                                               resource_version_match="NotOlderThan",
                                               allow_watch_bookmarks=True))
    tracker.create(PODS, pod("b"), "ns1")
    w.stop()
    events = list(w)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "ADDED"]
    bookmark = events[1]["object"]["metadata"]
    assert bookmark["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["resourceVersion"] == "1"

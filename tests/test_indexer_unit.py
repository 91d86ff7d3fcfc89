"""Unit tests for the Indexer (client-go index.go / thread_safe_store.go)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bitcoin_controller.apimachinery.metav1 import ObjectMetaError
from bitcoin_controller.clientgo.tools.cache import (
    NAMESPACE_INDEX,
    IndexerConflictError,
    IndexFuncError,
    UnknownIndexError,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_index_func,
    meta_namespace_key_func,
    new_indexer,
)


def pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": dict(labels)}}


def by_app(o: dict[str, Any]) -> list[str]:
    app = o["metadata"].get("labels", {}).get("app")
    return [app] if app else []


def by_tags(o: dict[str, Any]) -> list[str]:
    """A multi-valued index: comma-separated tags in a label."""
    tags = o["metadata"].get("labels", {}).get("tags", "")
    return [t for t in tags.split(",") if t]


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def new_ns_indexer(**extra):
    return new_indexer(
        deletion_handling_meta_namespace_key_func,
        {NAMESPACE_INDEX: meta_namespace_index_func, **extra},
    )


def test_namespace_index_func_unit() -> None:
    assert NAMESPACE_INDEX == "namespace"
    assert meta_namespace_index_func(pod("a", "ns1")) == ["ns1"]
    assert meta_namespace_index_func({"metadata": {"name": "node"}}) == [""]
    with pytest.raises(ObjectMetaError):
        meta_namespace_index_func({"spec": {}})


def test_by_index_and_index_keys_unit() -> None:
    idx = new_ns_indexer()
    for o in (pod("a", "ns1"), pod("b", "ns1"), pod("c", "ns2"), {"metadata": {"name": "node"}}):
        idx.add(o)
    assert names(idx.by_index(NAMESPACE_INDEX, "ns1")) == ["a", "b"]
    assert idx.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/a", "ns1/b"]  # sorted
    assert idx.index_keys(NAMESPACE_INDEX, "") == ["node"]
    assert idx.by_index(NAMESPACE_INDEX, "nope") == []
    assert idx.index_keys(NAMESPACE_INDEX, "nope") == []
    assert sorted(idx.list_index_func_values(NAMESPACE_INDEX)) == ["", "ns1", "ns2"]


def test_index_with_unstored_object_unit() -> None:
    idx = new_ns_indexer()
    idx.add(pod("a", "ns1"))
    idx.add(pod("b", "ns2"))
    # The probe object need not be in the store; only its values matter.
    assert names(idx.index(NAMESPACE_INDEX, pod("probe", "ns1"))) == ["a"]


def test_update_moves_object_between_index_values_unit() -> None:
    idx = new_ns_indexer(app=by_app)
    idx.add(pod("a", app="web"))
    idx.add(pod("b", app="web"))
    idx.update(pod("a", app="db"))
    assert names(idx.by_index("app", "web")) == ["b"]
    assert names(idx.by_index("app", "db")) == ["a"]
    # The unchanged namespace index still holds both exactly once.
    assert idx.index_keys(NAMESPACE_INDEX, "default") == ["default/a", "default/b"]


def test_empty_value_sets_are_removed_unit() -> None:
    idx = new_ns_indexer(app=by_app)
    idx.add(pod("a", app="web"))
    idx.update(pod("a", app="db"))
    assert idx.list_index_func_values("app") == ["db"]
    idx.delete(pod("a"))
    assert idx.list_index_func_values("app") == []
    assert idx.list_index_func_values(NAMESPACE_INDEX) == []


def test_update_to_no_values_unindexes_unit() -> None:
    idx = new_ns_indexer(app=by_app)
    idx.add(pod("a", app="web"))
    idx.update(pod("a"))  # label removed: index function returns []
    assert idx.by_index("app", "web") == []
    assert idx.list_index_func_values("app") == []
    assert idx.get_by_key("default/a")[1]


def test_multi_valued_index_unit() -> None:
    idx = new_ns_indexer(tags=by_tags)
    idx.add(pod("a", tags="x,y"))
    idx.add(pod("b", tags="y,z"))
    idx.add(pod("c", tags="z"))
    assert names(idx.by_index("tags", "y")) == ["a", "b"]
    # index() takes the union over all of the probe's values, each object once.
    assert names(idx.index("tags", pod("probe", tags="x,y,z"))) == ["a", "b", "c"]
    idx.update(pod("a", tags="x"))
    assert names(idx.by_index("tags", "y")) == ["b"]
    assert sorted(idx.list_index_func_values("tags")) == ["x", "y", "z"]


def test_delete_removes_index_entries_unit() -> None:
    idx = new_ns_indexer()
    idx.add(pod("a", "ns1"))
    idx.add(pod("b", "ns1"))
    idx.delete(pod("a", "ns1"))
    assert idx.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/b"]


def test_replace_rebuilds_indices_unit() -> None:
    idx = new_ns_indexer(app=by_app)
    idx.add(pod("a", "old", app="web"))
    idx.add(pod("b", "old", app="web"))
    idx.replace([pod("c", "new", app="db"), pod("b", "new", app="db")], "7")
    assert sorted(idx.list_keys()) == ["new/b", "new/c"]
    assert idx.list_index_func_values(NAMESPACE_INDEX) == ["new"]
    assert idx.list_index_func_values("app") == ["db"]
    assert idx.by_index("app", "web") == []
    assert idx.index_keys("app", "db") == ["new/b", "new/c"]


def test_add_indexers_back_fills_existing_items_unit() -> None:
    idx = new_ns_indexer()
    idx.add(pod("a", app="web"))
    idx.add(pod("b", app="db"))
    idx.add_indexers({"app": by_app})
    assert names(idx.by_index("app", "web")) == ["a"]
    assert sorted(idx.get_indexers()) == ["app", NAMESPACE_INDEX]
    # And later writes maintain it.
    idx.add(pod("c", app="web"))
    assert names(idx.by_index("app", "web")) == ["a", "c"]


def test_add_indexers_name_clash_raises_unit() -> None:
    idx = new_ns_indexer(app=by_app)
    with pytest.raises(ValueError, match="^indexer conflict: ") as info:
        idx.add_indexers({"app": by_tags, "tags": by_tags})
    assert isinstance(info.value, IndexerConflictError)
    assert "app" in str(info.value)
    # Nothing from the rejected batch was registered.
    assert sorted(idx.get_indexers()) == ["app", NAMESPACE_INDEX]


def test_get_indexers_returns_copy_unit() -> None:
    idx = new_ns_indexer()
    idx.get_indexers()["sneaky"] = by_app
    assert list(idx.get_indexers()) == [NAMESPACE_INDEX]


@pytest.mark.parametrize(
    "query",
    [
        lambda idx: idx.by_index("missing", "v"),
        lambda idx: idx.index_keys("missing", "v"),
        lambda idx: idx.index("missing", pod("a")),
    ],
)
def test_unknown_index_raises_unit(query) -> None:
    idx = new_ns_indexer()
    idx.add(pod("a"))
    with pytest.raises(UnknownIndexError) as info:
        query(idx)
    assert str(info.value) == "Index with name missing does not exist"
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, KeyError)


def test_list_index_func_values_unknown_index_is_empty_unit() -> None:
    # client-go returns an empty list here rather than an error.
    assert new_ns_indexer().list_index_func_values("missing") == []


def failing_index(o: dict[str, Any]) -> list[str]:
    if o["metadata"].get("labels", {}).get("bad"):
        raise RuntimeError("cannot index")
    return ["ok"]


def test_index_func_failure_on_add_raises_and_leaves_store_unchanged_unit() -> None:
    idx = new_ns_indexer(f=failing_index)
    good = pod("a")
    idx.add(good)
    with pytest.raises(IndexFuncError, match="unable to calculate an index entry for key"):
        idx.update(pod("a", bad="yes"))
    assert idx.get_by_key("default/a") == (good, True)
    with pytest.raises(IndexFuncError):
        idx.add(pod("b", bad="yes"))
    assert idx.list_keys() == ["default/a"]
    assert idx.index_keys("f", "ok") == ["default/a"]


def test_index_func_failure_on_replace_keeps_old_contents_unit() -> None:
    idx = new_ns_indexer(f=failing_index)
    idx.add(pod("a"))
    with pytest.raises(IndexFuncError):
        idx.replace([pod("b"), pod("c", bad="yes")], "2")
    assert idx.list_keys() == ["default/a"]
    assert idx.index_keys("f", "ok") == ["default/a"]


def test_index_func_failure_on_add_indexers_registers_nothing_unit() -> None:
    idx = new_ns_indexer()
    idx.add(pod("a", bad="yes"))
    with pytest.raises(IndexFuncError):
        idx.add_indexers({"f": failing_index})
    assert list(idx.get_indexers()) == [NAMESPACE_INDEX]


def test_index_query_error_propagates_unchanged_unit() -> None:
    idx = new_ns_indexer(f=failing_index)
    with pytest.raises(RuntimeError, match="cannot index") as info:
        idx.index("f", pod("probe", bad="yes"))
    assert not isinstance(info.value, IndexFuncError)


def test_indexer_hands_out_stored_objects_unit() -> None:
    idx = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
    a = pod("a")
    idx.add(a)
    assert idx.by_index(NAMESPACE_INDEX, "default")[0] is a
    assert idx.list()[0] is a


@pytest.mark.timeout(30)
def test_indexer_concurrent_updates_keep_indices_consistent_unit() -> None:
    idx = new_ns_indexer(app=by_app)
    apps = ["web", "db", "cache"]
    start = threading.Barrier(3)

    def churn(worker: int) -> None:
        start.wait()
        for i in range(300):
            idx.update(pod(f"p{i % 20}", app=apps[(i + worker) % 3]))

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every stored pod is indexed exactly under its current app, and nowhere else.
    total = 0
    for app in idx.list_index_func_values("app"):
        keys = idx.index_keys("app", app)
        total += len(keys)
        for key in keys:
            stored, _ = idx.get_by_key(key)
            assert stored["metadata"]["labels"]["app"] == app
    assert total == len(idx.list_keys()) == 20

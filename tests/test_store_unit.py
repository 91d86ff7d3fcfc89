"""Unit tests for tools/cache key functions and the plain Store (client-go store.go)."""

from __future__ import annotations

import threading

import pytest

from bitcoin_controller.apimachinery.metav1 import ObjectMetaError
from bitcoin_controller.clientgo.tools.cache import (
    DeletedFinalStateUnknown,
    ExplicitKey,
    KeyFuncError,
    ObjectName,
    ThreadSafeStore,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_key_func,
    new_store,
    object_to_name,
    parse_object_name,
    split_meta_namespace_key,
)


def obj(name: str, namespace: str = "", rv: str = "1") -> dict:
    metadata = {"name": name, "resourceVersion": rv}
    if namespace:
        metadata["namespace"] = namespace
    return {"kind": "Pod", "metadata": metadata}


# -- key functions -------------------------------------------------------------


def test_meta_namespace_key_func_namespaced_unit() -> None:
    assert meta_namespace_key_func(obj("a", "ns1")) == "ns1/a"


def test_meta_namespace_key_func_cluster_scoped_is_bare_name_unit() -> None:
    assert meta_namespace_key_func(obj("node-1")) == "node-1"
    assert meta_namespace_key_func({"metadata": {"name": "n", "namespace": ""}}) == "n"


def test_meta_namespace_key_func_missing_name_unit() -> None:
    # Like an unstructured object with an empty name in Go: no error, empty name.
    assert meta_namespace_key_func({"metadata": {"namespace": "ns"}}) == "ns/"
    assert meta_namespace_key_func({"metadata": {}}) == ""


def test_meta_namespace_key_func_explicit_key_passes_through_unit() -> None:
    key = meta_namespace_key_func(ExplicitKey("ns/whatever"))
    assert key == "ns/whatever"
    assert isinstance(key, str)


@pytest.mark.parametrize("bad", [{}, {"metadata": None}, {"metadata": "x"}, "plain", None, 3])
def test_meta_namespace_key_func_no_meta_raises_unit(bad: object) -> None:
    with pytest.raises(ObjectMetaError, match="object has no meta"):
        meta_namespace_key_func(bad)


def test_deletion_handling_key_func_unwraps_tombstone_unit() -> None:
    tombstone = DeletedFinalStateUnknown("ns/gone", None)
    assert deletion_handling_meta_namespace_key_func(tombstone) == "ns/gone"
    assert deletion_handling_meta_namespace_key_func(obj("a", "ns")) == "ns/a"
    assert deletion_handling_meta_namespace_key_func(ExplicitKey("k")) == "k"


def test_plain_key_func_rejects_tombstone_unit() -> None:
    with pytest.raises(ObjectMetaError):
        meta_namespace_key_func(DeletedFinalStateUnknown("ns/gone", None))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("name", ("", "name")),
        ("ns/name", ("ns", "name")),
        ("", ("", "")),
        ("/name", ("", "name")),
        ("ns/", ("ns", "")),
    ],
)
def test_split_meta_namespace_key_unit(key: str, expected: tuple[str, str]) -> None:
    assert split_meta_namespace_key(key) == expected


@pytest.mark.parametrize("key", ["a/b/c", "//", "a/b/"])
def test_split_meta_namespace_key_rejects_extra_slashes_unit(key: str) -> None:
    with pytest.raises(ValueError) as info:
        split_meta_namespace_key(key)
    assert str(info.value) == f'unexpected key format: "{key}"'


def test_split_inverts_key_func_unit() -> None:
    for o in (obj("a", "ns"), obj("node")):
        ns, name = split_meta_namespace_key(meta_namespace_key_func(o))
        assert (ns, name) == (o["metadata"].get("namespace", ""), o["metadata"]["name"])


def test_object_name_round_trip_unit() -> None:
    assert str(ObjectName("ns", "a")) == "ns/a"
    assert str(ObjectName("", "a")) == "a"
    assert parse_object_name("ns/a") == ObjectName("ns", "a")
    assert parse_object_name("a").parts() == ("", "a")
    assert object_to_name(obj("a", "ns")) == ObjectName("ns", "a")


def test_tombstone_is_frozen_value_unit() -> None:
    t = DeletedFinalStateUnknown("ns/a", obj("a", "ns"))
    assert t == DeletedFinalStateUnknown("ns/a", obj("a", "ns"))
    assert t != DeletedFinalStateUnknown("ns/b", obj("a", "ns"))
    with pytest.raises(AttributeError):
        t.key = "other"  # type: ignore[misc]


def test_key_func_error_wraps_without_leaking_object_unit() -> None:
    secret = {"kind": "Secret", "data": {"password": "hunter2"}}  # no metadata
    store = new_store(meta_namespace_key_func)
    with pytest.raises(KeyFuncError) as info:
        store.add(secret)
    err = info.value
    assert err.obj is secret
    assert isinstance(err.err, ObjectMetaError)
    assert err.__cause__ is err.err
    assert "hunter2" not in str(err)
    assert "object has no meta" in str(err)
    # It must not be confused with a missing-mapping-key KeyError.
    assert not isinstance(err, KeyError)


# -- Store ---------------------------------------------------------------------


def test_store_add_get_update_delete_unit() -> None:
    store = new_store(meta_namespace_key_func)
    a1 = obj("a", "ns", rv="1")
    store.add(a1)
    got, exists = store.get_by_key("ns/a")
    assert exists and got is a1  # stored objects are handed out, not copied

    a2 = obj("a", "ns", rv="2")
    store.update(a2)
    got, exists = store.get(obj("a", "ns"))
    assert exists and got is a2

    store.delete(obj("a", "ns"))
    assert store.get_by_key("ns/a") == (None, False)
    store.delete(obj("a", "ns"))  # deleting an absent key is not an error
    assert store.list() == []


def test_store_delete_by_explicit_key_unit() -> None:
    store = new_store(meta_namespace_key_func)
    store.add(obj("a", "ns"))
    store.delete(ExplicitKey("ns/a"))
    assert store.list_keys() == []


def test_store_list_and_list_keys_unit() -> None:
    store = new_store(meta_namespace_key_func)
    objs = [obj("a", "ns"), obj("b", "ns"), obj("n")]
    for o in objs:
        store.add(o)
    assert sorted(store.list_keys()) == ["n", "ns/a", "ns/b"]
    assert sorted(o["metadata"]["name"] for o in store.list()) == ["a", "b", "n"]


def test_store_replace_swaps_contents_unit() -> None:
    store = new_store(meta_namespace_key_func)
    store.add(obj("old", "ns"))
    store.replace([obj("a", "ns"), obj("b", "ns")], "42")
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]
    assert store.get_by_key("ns/old") == (None, False)


def test_store_replace_with_bad_object_keeps_old_contents_unit() -> None:
    store = new_store(meta_namespace_key_func)
    store.add(obj("old", "ns"))
    with pytest.raises(KeyFuncError):
        store.replace([obj("a", "ns"), {"no": "meta"}], "2")
    assert store.list_keys() == ["ns/old"]


def test_store_resync_is_noop_unit() -> None:
    store = new_store(meta_namespace_key_func)
    a = obj("a", "ns")
    store.add(a)
    store.resync()
    assert store.list() == [a]


def test_store_get_with_bad_object_raises_key_func_error_unit() -> None:
    store = new_store(meta_namespace_key_func)
    with pytest.raises(KeyFuncError):
        store.get("not an object")


def test_thread_safe_store_by_key_unit() -> None:
    tss = ThreadSafeStore()
    tss.add("k", {"v": 1})
    tss.update("k", {"v": 2})
    assert tss.get("k") == ({"v": 2}, True)
    tss.delete("k")
    assert tss.get("k") == (None, False)
    items = {"x": 1, "y": 2}
    tss.replace(items, "")
    assert sorted(tss.list_keys()) == ["x", "y"]


@pytest.mark.timeout(30)
def test_store_concurrent_writers_unit() -> None:
    store = new_store(meta_namespace_key_func)
    per_thread = 500
    start = threading.Barrier(4)

    def writer(ns: str) -> None:
        start.wait()
        for i in range(per_thread):
            store.add(obj(f"o{i}", ns))
            if i % 2:
                store.delete(obj(f"o{i}", ns))

    threads = [threading.Thread(target=writer, args=(f"ns{t}",)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = store.list_keys()
    assert len(keys) == 4 * per_thread // 2
    assert all(int(k.split("/o")[1]) % 2 == 0 for k in keys)

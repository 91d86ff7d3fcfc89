"""Unit tests for the classic DeltaFIFO (client-go delta_fifo.go, v0.31/v0.32)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bitcoin_controller.clientgo.tools.cache import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    Delta,
    DeltaFIFO,
    Deltas,
    DeltaType,
    FIFOClosedError,
    KeyFuncError,
    RequeueError,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_index_func,
    new_indexer,
)

ADDED, UPDATED, DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
REPLACED, SYNC = DeltaType.REPLACED, DeltaType.SYNC


def pod(name: str, rv: str = "1", ns: str = "ns") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv}}


def new_known() -> Any:
    return new_indexer(
        deletion_handling_meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func}
    )


def informer_fifo(known: Any = None, **kwargs: Any) -> DeltaFIFO:
    """A FIFO set up the way an informer sets it up."""
    return DeltaFIFO(known_objects=known, emit_delta_type_replaced=True, **kwargs)


def apply_to(store: Any):
    """A process function like an informer's: apply the newest delta to ``store``."""

    def process(deltas: Deltas, is_in_initial_list: bool) -> None:
        for d in deltas:
            if d.type is DELETED:
                store.delete(d.object)
            elif store.get(d.object)[1]:
                store.update(d.object)
            else:
                store.add(d.object)

    return process


def pop_all(fifo: DeltaFIFO, process=None) -> list[Deltas]:
    out = []
    while fifo.list_keys():
        out.append(fifo.pop(process or (lambda d, i: None)))
    return out


def entries(fifo: DeltaFIFO, key: str) -> list[tuple[DeltaType, Any]]:
    deltas, exists = fifo.get_by_key(key)
    assert exists
    return [(d.type, d.object) for d in deltas]


# -- types ----------------------------------------------------------------------


def test_delta_type_values_are_client_go_strings_unit() -> None:
    assert [t.value for t in DeltaType] == ["Added", "Updated", "Deleted", "Replaced", "Sync"]
    assert DeltaType.ADDED == "Added"
    assert f"{DeltaType.SYNC}" == "Sync"


def test_deltas_oldest_newest_unit() -> None:
    assert Deltas().oldest() is None
    assert Deltas().newest() is None
    d = Deltas([Delta(ADDED, 1), Delta(UPDATED, 2)])
    assert d.oldest() == Delta(ADDED, 1)
    assert d.newest().object == 2
    assert d.newest().type is UPDATED


def test_key_of_unit() -> None:
    fifo = DeltaFIFO()
    assert fifo.key_of(pod("a")) == "ns/a"
    assert fifo.key_of(DeletedFinalStateUnknown("ns/t", None)) == "ns/t"
    assert fifo.key_of(Deltas([Delta(ADDED, pod("old")), Delta(DELETED, pod("b"))])) == "ns/b"
    with pytest.raises(KeyFuncError, match="0 length Deltas"):
        fifo.key_of(Deltas())
    with pytest.raises(KeyFuncError):
        fifo.key_of({"no": "meta"})


def test_add_with_bad_object_raises_key_func_error_unit() -> None:
    fifo = DeltaFIFO()
    with pytest.raises(KeyFuncError):
        fifo.add("not an object")
    assert fifo.list_keys() == []


# -- worked examples (spec section 2.12) ------------------------------------------
#
# A table, as client-go's delta_fifo_test.go writes its cases: the objects the
# informer's store already knows (None: a FIFO without known objects), the calls
# made, and the deltas then queued for key "ns/a" (None: nothing queued at all).

A1, A2 = pod("a", "1"), pod("a", "2")

WORKED_EXAMPLES = [
    pytest.param([], [("add", A1), ("update", A2)], [(ADDED, A1), (UPDATED, A2)],
                 id="add-then-update-keeps-both"),
    pytest.param([], [("add", A1), ("delete", A1)], [(ADDED, A1), (DELETED, A1)],
                 id="add-then-delete-keeps-both"),
    pytest.param([A1], [("delete", A1), ("delete", A2)], [(DELETED, A1)],
                 id="two-real-deletes-keep-the-older"),
    # The tombstone Replace queued was deduplicated away: the real final state wins.
    pytest.param([A1], [("delete", A1), ("replace", [], "10")], [(DELETED, A1)],
                 id="watch-delete-then-replace-keeps-real-state"),
    pytest.param([A1], [("replace", [], "10")], [(DELETED, DeletedFinalStateUnknown("ns/a", A1))],
                 id="replace-tombstones-a-known-object"),
    pytest.param([A1], [("replace", [], "10"), ("delete", A2)], [(DELETED, A2)],
                 id="replace-then-watch-delete-replaces-tombstone"),
    pytest.param([A1], [("update", A2), ("resync",)], [(UPDATED, A2)],
                 id="resync-while-queued-adds-nothing"),
    pytest.param([], [("delete", pod("a"))], None, id="delete-of-unknown-unqueued-key-is-ignored"),
    # Without known objects only queued keys count.
    pytest.param(None, [("delete", pod("a"))], None,
                 id="delete-of-unqueued-key-without-known-objects-is-ignored"),
]


@pytest.mark.parametrize(("known_objects", "calls", "queued"), WORKED_EXAMPLES)
def test_worked_examples_unit(known_objects, calls, queued) -> None:
    if known_objects is None:
        fifo = DeltaFIFO()
    else:
        known = new_known()
        for obj in known_objects:
            known.add(obj)
        fifo = informer_fifo(known)
    for method, *args in calls:
        getattr(fifo, method)(*args)
    if queued is None:
        assert fifo.list_keys() == []
    else:
        assert entries(fifo, "ns/a") == queued


# -- delete -------------------------------------------------------------------------


def test_delete_of_known_unqueued_key_is_queued_unit() -> None:
    known = new_known()
    known.add(pod("a"))
    fifo = informer_fifo(known)
    fifo.delete(pod("a", "2"))
    assert entries(fifo, "ns/a") == [(DELETED, pod("a", "2"))]


def test_delete_without_known_objects_needs_queued_key_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.delete(pod("a"))
    assert [t for t, _ in entries(fifo, "ns/a")] == [ADDED, DELETED]


def test_delete_with_failing_known_lookup_is_delivered_unit() -> None:
    class Broken:
        def list_keys(self) -> list[str]:
            return []

        def get_by_key(self, key: str) -> tuple[Any, bool]:
            raise RuntimeError("boom")

    fifo = DeltaFIFO(known_objects=Broken())
    fifo.delete(pod("a"))
    assert fifo.list_keys() == ["ns/a"]


def test_ignored_delete_still_marks_populated_unit() -> None:
    fifo = DeltaFIFO()
    fifo.delete(pod("x"))
    assert fifo.has_synced()


# -- replace -------------------------------------------------------------------------


def test_replace_emits_replaced_or_sync_unit() -> None:
    emit = DeltaFIFO(emit_delta_type_replaced=True)
    emit.replace([pod("a")], "1")
    assert [t for t, _ in entries(emit, "ns/a")] == [REPLACED]
    compat = DeltaFIFO()
    compat.replace([pod("a")], "1")
    assert [t for t, _ in entries(compat, "ns/a")] == [SYNC]


def test_replace_tombstones_queued_but_missing_with_newest_object_unit() -> None:
    fifo = informer_fifo()
    b1, b2 = pod("b", "1"), pod("b", "2")
    fifo.add(b1)
    fifo.update(b2)
    fifo.replace([pod("a")], "5")
    assert entries(fifo, "ns/b") == [
        (ADDED, b1),
        (UPDATED, b2),
        (DELETED, DeletedFinalStateUnknown("ns/b", b2)),
    ]
    assert entries(fifo, "ns/a") == [(REPLACED, pod("a"))]


def test_replace_unwraps_tombstone_newest_unit() -> None:
    known = new_known()
    b = pod("b")
    known.add(b)
    fifo = informer_fifo(known)
    fifo.replace([], "1")  # queues Deleted(tombstone(b))
    fifo.replace([], "2")  # the new tombstone must hold b, not a tombstone of a tombstone
    # Two tombstones in a row: the newer one is kept (older is a tombstone).
    assert entries(fifo, "ns/b") == [(DELETED, DeletedFinalStateUnknown("ns/b", b))]


def test_replace_tombstones_known_but_missing_with_known_object_unit() -> None:
    known = new_known()
    a, b, c = pod("a"), pod("b"), pod("c")
    for o in (a, b, c):
        known.add(o)
    fifo = informer_fifo(known)
    fifo.update(pod("c", "2"))  # c is queued, so its tombstone comes from the queue
    fifo.replace([a], "9")
    assert entries(fifo, "ns/b") == [(DELETED, DeletedFinalStateUnknown("ns/b", b))]
    assert entries(fifo, "ns/c")[-1] == (DELETED, DeletedFinalStateUnknown("ns/c", pod("c", "2")))
    assert entries(fifo, "ns/a") == [(REPLACED, a)]
    assert fifo.list_keys() == ["ns/c", "ns/a", "ns/b"]


def test_replace_known_lookup_missing_or_failing_gives_none_object_unit() -> None:
    class Flaky:
        def list_keys(self) -> list[str]:
            return ["ns/vanished", "ns/broken"]

        def get_by_key(self, key: str) -> tuple[Any, bool]:
            if key == "ns/broken":
                raise RuntimeError("lookup failed")
            return None, False

    fifo = DeltaFIFO(known_objects=Flaky())
    fifo.replace([], "1")
    for key in ("ns/vanished", "ns/broken"):
        assert entries(fifo, key) == [(DELETED, DeletedFinalStateUnknown(key, None))]


def test_initial_population_count_counts_items_and_tombstones_unit() -> None:
    known = new_known()
    known.add(pod("gone1"))
    known.add(pod("gone2"))
    fifo = informer_fifo(known)
    fifo.replace([pod("a"), pod("b"), pod("c")], "1")
    assert fifo.initial_population_count == 5
    assert not fifo.has_synced()


def test_only_first_replace_sets_initial_population_unit() -> None:
    fifo = informer_fifo()
    fifo.replace([pod("a")], "1")
    fifo.replace([pod("a"), pod("b")], "2")
    assert fifo.initial_population_count == 1


def test_replace_with_duplicate_keys_counts_key_once_unit() -> None:
    fifo = informer_fifo()
    fifo.replace([pod("a", "1"), pod("a", "2")], "1")
    assert fifo.initial_population_count == 1
    assert [o["metadata"]["resourceVersion"] for _, o in entries(fifo, "ns/a")] == ["1", "2"]


# -- resync ----------------------------------------------------------------------


def test_resync_without_known_objects_is_noop_unit() -> None:
    fifo = DeltaFIFO()
    fifo.resync()
    assert fifo.list_keys() == []
    assert not fifo.has_synced()  # not even a write


def test_resync_queues_sync_for_known_unqueued_unit() -> None:
    known = new_known()
    a, b = pod("a"), pod("b")
    known.add(a)
    known.add(b)
    fifo = informer_fifo(known)
    fifo.update(pod("b", "2"))
    fifo.resync()
    assert entries(fifo, "ns/a") == [(SYNC, a)]
    assert entries(fifo, "ns/a")[0][1] is a  # the cached object itself
    assert entries(fifo, "ns/b") == [(UPDATED, pod("b", "2"))]


# -- transformer -----------------------------------------------------------------


def test_transformer_applied_except_tombstones_and_sync_unit() -> None:
    seen: list[Any] = []

    def strip(o: Any) -> Any:
        seen.append(o)
        return {**o, "transformed": True}

    known = new_known()
    cached = {**pod("k"), "transformed": True}
    known.add(cached)
    gone = {**pod("gone"), "transformed": True}
    known.add(gone)
    fifo = informer_fifo(known, transformer=strip)

    fifo.add(pod("a"))
    fifo.update(pod("b"))
    fifo.delete(pod("k", "2"))
    assert entries(fifo, "ns/a")[0][1]["transformed"]
    assert entries(fifo, "ns/b")[0][1]["transformed"]
    assert entries(fifo, "ns/k")[0][1]["transformed"]
    pop_all(fifo)

    fifo.replace([pod("r"), pod("k")], "5")  # Replaced: transformed; gone: tombstone
    assert entries(fifo, "ns/r")[0][1]["transformed"]
    tomb = entries(fifo, "ns/gone")[0][1]
    assert tomb == DeletedFinalStateUnknown("ns/gone", gone)
    pop_all(fifo)

    count = len(seen)
    fifo.resync()  # Sync deltas come from the cache: no transform
    assert entries(fifo, "ns/k") == [(SYNC, cached)]
    assert len(seen) == count
    assert not any(isinstance(o, DeletedFinalStateUnknown) for o in seen)


def test_transformer_also_applies_to_replace_in_sync_mode_unit() -> None:
    fifo = DeltaFIFO(transformer=lambda o: {**o, "t": 1})
    fifo.replace([pod("a")], "1")
    assert entries(fifo, "ns/a") == [(SYNC, {**pod("a"), "t": 1})]


# -- pop -------------------------------------------------------------------------


def test_pop_is_fifo_by_key_and_key_keeps_its_place_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    fifo.update(pod("a", "2"))  # a already queued: stays first
    popped = pop_all(fifo)
    assert [fifo.key_of(d) for d in popped] == ["ns/a", "ns/b"]
    assert [d.type for d in popped[0]] == [ADDED, UPDATED]


def test_pop_passes_deltas_and_initial_list_flag_unit() -> None:
    fifo = informer_fifo()
    fifo.replace([pod("a"), pod("b")], "1")
    fifo.add(pod("c"))  # after the replace: not part of the initial list
    calls: list[tuple[str, bool]] = []
    pop_all(fifo, lambda d, initial: calls.append((d.newest().object["metadata"]["name"], initial)))
    assert calls == [("a", True), ("b", True), ("c", False)]


def test_has_synced_only_after_last_initial_item_processed_unit() -> None:
    fifo = informer_fifo()
    fifo.replace([pod("a"), pod("b")], "1")
    observed: list[bool] = []
    fifo.pop(lambda d, i: observed.append(fifo.has_synced()))
    assert not fifo.has_synced()
    fifo.pop(lambda d, i: None)
    assert fifo.has_synced()
    assert observed == [False]


@pytest.mark.timeout(30)
def test_has_synced_waits_for_processing_in_other_threads_unit() -> None:
    fifo = informer_fifo()
    fifo.replace([pod("a")], "1")
    processing_done = threading.Event()
    results: list[tuple[bool, bool]] = []

    def observer() -> None:
        synced = fifo.has_synced()
        results.append((synced, processing_done.is_set()))

    def process(deltas: Deltas, initial: bool) -> None:
        t = threading.Thread(target=observer)
        t.start()
        # The observer blocks on the FIFO lock that pop holds; give it a bounded
        # chance to (wrongly) finish before processing is over.
        t.join(timeout=0.2)
        processing_done.set()
        threads.append(t)

    threads: list[threading.Thread] = []
    fifo.pop(process)
    threads[0].join()
    assert results == [(True, True)]


def test_add_before_replace_is_synced_immediately_unit() -> None:
    fifo = informer_fifo()
    assert not fifo.has_synced()
    fifo.add(pod("a"))
    assert fifo.has_synced()
    fifo.replace([pod("a"), pod("b")], "1")
    assert fifo.initial_population_count == 0
    assert fifo.has_synced()


def test_empty_replace_is_synced_immediately_unit() -> None:
    fifo = informer_fifo(new_known())
    fifo.replace([], "1")
    assert fifo.has_synced()


def test_pop_on_closed_empty_fifo_raises_unit() -> None:
    fifo = DeltaFIFO()
    fifo.close()
    assert fifo.is_closed()
    with pytest.raises(FIFOClosedError, match="DeltaFIFO: manipulating with closed queue"):
        fifo.pop(lambda d, i: None)


def test_closed_fifo_still_drains_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.close()
    assert fifo.pop(lambda d, i: None).newest().object == pod("a")
    with pytest.raises(FIFOClosedError):
        fifo.pop(lambda d, i: None)


@pytest.mark.timeout(30)
def test_close_wakes_blocked_pop_unit() -> None:
    fifo = DeltaFIFO()
    outcome: list[BaseException] = []
    started = threading.Event()

    def consumer() -> None:
        started.set()
        try:
            fifo.pop(lambda d, i: None)
        except FIFOClosedError as err:
            outcome.append(err)

    t = threading.Thread(target=consumer)
    t.start()
    assert started.wait(10)
    fifo.close()
    t.join(10)
    assert not t.is_alive()
    assert len(outcome) == 1


@pytest.mark.timeout(30)
def test_pop_blocks_until_add_unit() -> None:
    fifo = DeltaFIFO()
    got: list[Deltas] = []
    t = threading.Thread(target=lambda: got.append(fifo.pop(lambda d, i: None)))
    t.start()
    fifo.add(pod("a"))
    t.join(10)
    assert not t.is_alive()
    assert got[0] == [Delta(ADDED, pod("a"))]


@pytest.mark.timeout(60)
def test_concurrent_pop_with_producer_thread_unit() -> None:
    known = new_known()
    fifo = informer_fifo(known)
    n = 2000

    def producer() -> None:
        # Adds only: an update racing with the pop of its own key would
        # legitimately queue that key a second time.
        for i in range(n):
            fifo.add(pod(f"p{i}"))

    t = threading.Thread(target=producer)
    t.start()
    seen: list[str] = []
    process = apply_to(known)

    def record(deltas: Deltas, initial: bool) -> None:
        seen.append(deltas.newest().object["metadata"]["name"])
        process(deltas, initial)

    while len(seen) < n:
        fifo.pop(record)
    t.join(10)
    assert seen == [f"p{i}" for i in range(n)]  # one pop per key, in FIFO order
    assert len(known.list_keys()) == n
    assert fifo.list_keys() == []


def test_requeue_error_returned_re_adds_and_raises_inner_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    inner = ValueError("handler failed")
    with pytest.raises(ValueError) as info:
        fifo.pop(lambda d, i: RequeueError(inner))
    assert info.value is inner
    # Re-added at the back, deltas intact.
    assert fifo.list_keys() == ["ns/b", "ns/a"]
    assert entries(fifo, "ns/a") == [(ADDED, pod("a"))]


def test_requeue_error_raised_also_re_adds_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))

    def process(deltas: Deltas, initial: bool) -> None:
        raise RequeueError(RuntimeError("again"))

    with pytest.raises(RuntimeError, match="again"):
        fifo.pop(process)
    assert fifo.list_keys() == ["ns/a"]


def test_requeue_error_without_inner_returns_normally_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    deltas = fifo.pop(lambda d, i: RequeueError())
    assert deltas.newest().object == pod("a")
    assert fifo.list_keys() == ["ns/a"]


def test_requeue_does_not_override_newer_deltas_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a", "1"))

    def process(deltas: Deltas, initial: bool) -> RequeueError:
        fifo.update(pod("a", "2"))  # a newer event arrives while processing
        return RequeueError(None)

    fifo.pop(process)
    assert entries(fifo, "ns/a") == [(UPDATED, pod("a", "2"))]


def test_other_process_errors_propagate_without_requeue_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))

    def process(deltas: Deltas, initial: bool) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        fifo.pop(process)
    assert fifo.list_keys() == []


# -- read methods and add_if_not_present -------------------------------------------


def test_read_methods_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("b"))
    fifo.add(pod("a"))
    fifo.update(pod("b", "2"))
    assert fifo.list_keys() == ["ns/b", "ns/a"]
    assert sorted(o["metadata"]["resourceVersion"] for o in fifo.list()) == ["1", "2"]
    deltas, exists = fifo.get(pod("b"))
    assert exists and isinstance(deltas, Deltas) and len(deltas) == 2
    assert fifo.get_by_key("ns/zzz") == (None, False)


def test_get_by_key_returns_a_copy_unit() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    copy, _ = fifo.get_by_key("ns/a")
    copy.append(Delta(DELETED, pod("a")))
    fifo.update(pod("a", "2"))
    assert len(copy) == 2
    assert [t for t, _ in entries(fifo, "ns/a")] == [ADDED, UPDATED]


def test_add_if_not_present_unit() -> None:
    fifo = DeltaFIFO()
    popped = Deltas([Delta(ADDED, pod("a"))])
    fifo.add_if_not_present(popped)
    assert fifo.has_synced()  # marks populated
    assert fifo.list_keys() == ["ns/a"]
    fifo.add_if_not_present(Deltas([Delta(UPDATED, pod("a", "9"))]))  # key present: ignored
    assert entries(fifo, "ns/a") == [(ADDED, pod("a"))]
    with pytest.raises(TypeError, match="Deltas"):
        fifo.add_if_not_present(pod("b"))


def test_popped_items_feed_known_objects_for_next_replace_unit() -> None:
    """End to end: pop into the indexer, then a relist detects the missed delete."""
    known = new_known()
    fifo = informer_fifo(known)
    fifo.replace([pod("a"), pod("b")], "1")
    pop_all(fifo, apply_to(known))
    assert fifo.has_synced()
    assert sorted(known.list_keys()) == ["ns/a", "ns/b"]
    fifo.replace([pod("a", "2")], "2")
    popped = pop_all(fifo, apply_to(known))
    assert [(d.newest().type, fifo.key_of(d)) for d in popped] == [
        (REPLACED, "ns/a"),
        (DELETED, "ns/b"),
    ]
    assert popped[1].newest().object == DeletedFinalStateUnknown("ns/b", pod("b"))
    assert known.list_keys() == ["ns/a"]

"""Unit tests for SharedIndexInformer, its processor and the handler adapters
(client-go tools/cache/shared_informer.go, controller.go; classic semantics).

The informers run against a scripted ListerWatcher whose watches are
``FakeWatcher``s driven by the test; time is a ``FakeClock``.  No sleeps:
every wait is a condition with a deadline.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections import deque
from typing import Any

import pytest
from waiting import wait_until

from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.apimachinery.watch import FakeWatcher
from bitcoin_controller.clientgo.kubernetes import scheme
from bitcoin_controller.clientgo.tools.cache.controller import (
    FilteringResourceEventHandler,
    ResourceEventHandlerDetailedFuncs,
    ResourceEventHandlerFuncs,
    new_informer,
)
from bitcoin_controller.clientgo.tools.cache.index import NAMESPACE_INDEX, meta_namespace_index_func
from bitcoin_controller.clientgo.tools.cache.keys import DeletedFinalStateUnknown
from bitcoin_controller.clientgo.tools.cache.shared_informer import (
    InformerAlreadyStartedError,
    SharedIndexInformer,
    wait_for_cache_sync,
)
from bitcoin_controller.utils.clock import FakeClock

DEADLINE = 5.0



def pod(name: str, rv: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": rv}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta}


def pod_list(rv: str, *items: dict) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": rv},
            "items": [dict(i) for i in items]}


EXPIRED = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
           "reason": "Expired", "message": "too old resource version"}


class ScriptedListerWatcher:
    def __init__(self) -> None:
        self.list_results: deque[Any] = deque()
        self.watchers: list[FakeWatcher] = []
        self.verbs: list[str] = []
        self.lock = threading.Lock()

    def list(self, opts: ListOptions) -> dict[str, Any]:
        with self.lock:
            self.verbs.append("list")
            return self.list_results.popleft() if self.list_results else pod_list("1")

    def watch(self, opts: ListOptions) -> FakeWatcher:
        with self.lock:
            self.verbs.append("watch")
            w = FakeWatcher()
            self.watchers.append(w)
            return w


class Recorder:
    """A handler recording (event, name, rv[, flag]) tuples."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    @staticmethod
    def _name(obj: Any) -> str:
        if isinstance(obj, DeletedFinalStateUnknown):
            return f"tombstone:{obj.key}"
        return obj["metadata"]["name"]

    def on_add(self, obj, is_in_initial_list):
        self.events.append(("add", self._name(obj), obj["metadata"]["resourceVersion"],
                            is_in_initial_list))

    def on_update(self, old, new):
        self.events.append(("update", self._name(new), old["metadata"]["resourceVersion"],
                            new["metadata"]["resourceVersion"]))

    def on_delete(self, obj):
        self.events.append(("delete", self._name(obj)))
        self.last_deleted = obj


class Fixture:
    def __init__(self, resync: float = 0.0) -> None:
        self.clock = FakeClock()
        self.lw = ScriptedListerWatcher()
        self.informer = SharedIndexInformer(
            self.lw, scheme.PODS, resync, {NAMESPACE_INDEX: meta_namespace_index_func},
            clock=self.clock, name="test-pods",
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.informer.run, args=(self.stop,), daemon=True)

    def start(self) -> Fixture:
        self.thread.start()
        return self

    def watcher(self, n: int) -> FakeWatcher:
        assert wait_until(lambda: len(self.lw.watchers) >= n), f"watch #{n} never opened"
        return self.lw.watchers[n - 1]

    def relist_after_410(self, n: int) -> None:
        """Make watch #n fail with 410 and let the backoff pass, so the informer relists.

        Time moves in 0.1 s steps until the next watch opens, so a resync
        timer further away is not fired by accident.
        """
        self.watcher(n).error(EXPIRED)
        deadline = time.monotonic() + DEADLINE
        tick = threading.Event()
        while len(self.lw.watchers) <= n:
            assert time.monotonic() < deadline, f"watch #{n + 1} never opened"
            self.clock.step(0.1)
            tick.wait(0.001)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "informer did not stop"


@pytest.fixture
def fixture():
    made: list[Fixture] = []

    def make(**kw: Any) -> Fixture:
        f = Fixture(**kw)
        made.append(f)
        return f

    yield make
    for f in made:
        if f.thread.is_alive():
            f.close()


@pytest.mark.timeout(10)
def test_initial_list_then_watch_events_reach_handler_unit(fixture):
    f = fixture()
    f.lw.list_results.append(pod_list("10", pod("a", "5"), pod("b", "6")))
    rec = Recorder()
    reg = f.informer.add_event_handler(rec)
    assert not f.informer.has_synced()
    f.start()
    assert wait_for_cache_sync(f.stop, f.informer.has_synced, reg.has_synced)
    w = f.watcher(1)
    w.add(pod("c", "11"))
    w.modify(pod("a", "12"))
    w.delete(pod("b", "13"))
    assert wait_until(lambda: len(rec.events) == 5)
    assert sorted(rec.events[:2]) == [("add", "a", "5", True), ("add", "b", "6", True)]
    assert rec.events[2:] == [
        ("add", "c", "11", False),
        ("update", "a", "5", "12"),
        ("delete", "b"),
    ]
    store = f.informer.get_store()
    assert sorted(store.list_keys()) == ["default/a", "default/c"]
    assert f.informer.last_sync_resource_version() == "13"
    f.close()
    assert f.informer.is_stopped()


@pytest.mark.timeout(10)
def test_added_of_existing_key_becomes_update_unit(fixture):
    f = fixture()
    f.lw.list_results.append(pod_list("10", pod("a", "5")))
    rec = Recorder()
    f.informer.add_event_handler(rec)
    f.start()
    f.watcher(1).add(pod("a", "11"))  # e.g. a re-watch from "0" replays current state
    assert wait_until(lambda: len(rec.events) == 2)
    assert rec.events[1] == ("update", "a", "5", "11")


@pytest.mark.timeout(10)
def test_relist_missing_object_delivers_tombstone_unit(fixture):
    f = fixture()
    f.lw.list_results.extend([pod_list("10", pod("a", "5"), pod("b", "6")),
                              pod_list("20", pod("a", "5"))])
    rec = Recorder()
    f.informer.add_event_handler(rec)
    f.start()
    assert wait_until(f.informer.has_synced)
    f.relist_after_410(1)
    assert wait_until(lambda: ("delete", "tombstone:default/b") in rec.events)
    assert isinstance(rec.last_deleted, DeletedFinalStateUnknown)
    assert rec.last_deleted.obj["metadata"]["name"] == "b"  # the last known state
    assert f.informer.get_store().list_keys() == ["default/a"]


@pytest.mark.timeout(10)
def test_sync_and_unchanged_replaced_reach_only_resyncing_handlers_unit(fixture):
    f = fixture(resync=10.0)
    f.lw.list_results.extend([
        pod_list("10", pod("a", "5"), pod("b", "6")),
        pod_list("20", pod("a", "5"), pod("b", "7")),  # a unchanged, b changed
    ])
    resyncing, quiet = Recorder(), Recorder()
    f.informer.add_event_handler_with_resync_period(resyncing, 10.0)
    f.informer.add_event_handler_with_resync_period(quiet, 0.0)
    f.start()
    f.watcher(1)
    assert wait_until(lambda: len(resyncing.events) == 2 and len(quiet.events) == 2)
    # Periodic resync: Sync deltas with unchanged RVs -> only the resyncing handler.
    assert wait_until(f.clock.has_waiters)
    f.clock.step(10.0)
    assert wait_until(lambda: len(resyncing.events) == 4)
    assert sorted(resyncing.events[2:]) == [("update", "a", "5", "5"), ("update", "b", "6", "6")]
    # Relist: Replaced deltas. Unchanged a -> still only the resyncing handler
    # (its syncing flag stays set until the next resync check); changed b -> both.
    f.relist_after_410(1)
    assert wait_until(lambda: len(resyncing.events) == 6 and len(quiet.events) == 3)
    assert sorted(resyncing.events[4:]) == [("update", "a", "5", "5"), ("update", "b", "6", "7")]
    assert quiet.events[2] == ("update", "b", "6", "7")


@pytest.mark.timeout(10)
def test_late_handler_replays_cache_and_has_synced_waits_unit(fixture):
    f = fixture()
    f.lw.list_results.append(pod_list("10", pod("a", "5"), pod("b", "6")))
    f.informer.add_event_handler(Recorder())
    f.start()
    assert wait_until(f.informer.has_synced)
    release = threading.Event()
    late_events: list[tuple] = []

    def slow_add(obj, is_in_initial_list):
        release.wait(DEADLINE)
        late_events.append((obj["metadata"]["name"], is_in_initial_list))

    reg = f.informer.add_event_handler(ResourceEventHandlerDetailedFuncs(on_add=slow_add))
    assert f.informer.has_synced()
    assert not reg.has_synced()  # its replayed adds are not processed yet
    release.set()
    assert wait_until(reg.has_synced)
    assert sorted(late_events) == [("a", True), ("b", True)]
    f.watcher(1).add(pod("c", "11"))
    assert wait_until(lambda: ("c", False) in late_events)


@pytest.mark.timeout(10)
def test_slow_handler_does_not_block_others_unit(fixture):
    f = fixture()
    f.lw.list_results.append(pod_list("10", pod("a", "5")))
    blocked = threading.Event()
    stuck_in = threading.Event()

    def stuck(obj):
        stuck_in.set()
        blocked.wait(DEADLINE)

    f.informer.add_event_handler(ResourceEventHandlerFuncs(on_add=stuck))
    fast = Recorder()
    f.informer.add_event_handler(fast)
    f.start()
    assert stuck_in.wait(DEADLINE)
    w = f.watcher(1)
    for i in range(50):
        w.add(pod(f"p{i}", str(100 + i)))
    assert wait_until(lambda: len(fast.events) == 51)
    assert wait_until(lambda: len(f.informer.get_store().list_keys()) == 51)
    blocked.set()


@pytest.mark.timeout(10)
def test_handler_exception_skips_notification_and_continues_unit(fixture):
    f = fixture()
    seen: list[str] = []

    def on_add(obj):
        seen.append(obj["metadata"]["name"])
        if obj["metadata"]["name"] == "bad":
            raise RuntimeError("handler bug")

    reg = f.informer.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add))
    f.lw.list_results.append(pod_list("10", pod("bad", "5")))
    f.start()
    assert wait_until(lambda: seen == ["bad"])
    assert wait_until(reg.has_synced)  # the failed initial add still counts as delivered
    f.watcher(1).add(pod("good", "11"))
    assert wait_until(f.clock.has_waiters)  # the 1 s pause after a failure
    f.clock.step(1.0)
    assert wait_until(lambda: seen == ["bad", "good"])


@pytest.mark.timeout(10)
def test_remove_event_handler_stops_delivery_unit(fixture):
    f = fixture()
    keep, gone = Recorder(), Recorder()
    f.informer.add_event_handler(keep)
    reg = f.informer.add_event_handler(gone)
    f.start()
    w = f.watcher(1)
    w.add(pod("a", "2"))
    assert wait_until(lambda: len(gone.events) == 1)
    f.informer.remove_event_handler(reg)
    f.informer.remove_event_handler(reg)  # unknown handles are ignored
    w.add(pod("b", "3"))
    assert wait_until(lambda: len(keep.events) == 2)
    assert len(gone.events) == 1


@pytest.mark.timeout(20)
@pytest.mark.parametrize("started", [False, True], ids=["before-start", "running"])
def test_removed_handlers_are_not_kept_unit(fixture, started):
    # client-go's RemoveEventHandler forgets the listener; ours kept every
    # listener ever added (200 add/remove cycles -> 200 handlers held).
    f = fixture()
    f.informer.add_event_handler(Recorder())
    if started:
        f.start()
        f.watcher(1)
    refs = []
    for _ in range(200):
        handler = Recorder()
        refs.append(weakref.ref(handler))
        f.informer.remove_event_handler(f.informer.add_event_handler(handler))
        del handler
    processor = f.informer._processor
    assert len(processor.listeners()) == 1

    def held() -> int:
        gc.collect()
        return sum(ref() is not None for ref in refs)

    # A removed handler's thread ends on its own; then nothing refers to it.
    assert wait_until(lambda: held() == 0), f"{held()} removed handlers still held"
    assert processor.running() == (1 if started else 0)


def _informer(resync: float) -> SharedIndexInformer:
    return SharedIndexInformer(ScriptedListerWatcher(), scheme.PODS, resync, clock=FakeClock())


def test_resync_period_rules_before_start_unit():
    inf = _informer(10.0)
    assert inf.add_event_handler_with_resync_period(Recorder(), 0.0).resync_period == 0
    h30 = inf.add_event_handler_with_resync_period(Recorder(), 30.0)
    assert h30.resync_period == 30.0
    # Shorter than the check period before start: the check period follows it.
    h5 = inf.add_event_handler_with_resync_period(Recorder(), 5.0)
    assert h5.resync_period == 5.0
    assert inf._resync_check_period == 5.0
    assert h30.resync_period == 30.0
    # Below the 1 s minimum: raised to 1 s (and the check period follows).
    tiny = inf.add_event_handler_with_resync_period(Recorder(), 0.2)
    assert tiny.resync_period == 1.0
    assert inf._resync_check_period == 1.0
    # Default handler period is the informer's construction-time period.
    assert inf.add_event_handler(Recorder()).resync_period == 10.0


def test_resync_unsupported_when_informer_resync_is_zero_unit():
    inf = _informer(0.0)
    assert inf.add_event_handler_with_resync_period(Recorder(), 30.0).resync_period == 0


@pytest.mark.timeout(10)
def test_resync_period_raised_to_check_period_after_start_unit(fixture):
    f = fixture(resync=10.0)
    f.start()
    f.watcher(1)
    reg = f.informer.add_event_handler_with_resync_period(Recorder(), 5.0)
    assert reg.resync_period == 10.0
    assert f.informer._resync_check_period == 10.0


@pytest.mark.timeout(10)
def test_settings_rejected_after_start_and_run_twice_returns_unit(fixture):
    f = fixture()
    f.start()
    f.watcher(1)
    with pytest.raises(InformerAlreadyStartedError, match="informer has already started"):
        f.informer.set_transform(lambda o: o)
    with pytest.raises(InformerAlreadyStartedError):
        f.informer.set_watch_error_handler(lambda r, e: None)
    f.informer.run(threading.Event())  # returns at once
    f.close()
    with pytest.raises(RuntimeError, match="stopped already"):
        f.informer.add_event_handler(Recorder())


@pytest.mark.timeout(10)
def test_transform_applied_before_caching_unit(fixture):
    f = fixture()

    def strip(obj):
        obj["metadata"].pop("managedFields", None)
        return obj

    f.informer.set_transform(strip)
    item = pod("a", "5")
    item["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    f.lw.list_results.append(pod_list("10", item))
    f.start()
    assert wait_until(f.informer.has_synced)
    obj, exists = f.informer.get_store().get_by_key("default/a")
    assert exists and "managedFields" not in obj["metadata"]


@pytest.mark.timeout(10)
def test_add_indexers_backfills_and_namespace_index_unit(fixture):
    f = fixture()
    f.lw.list_results.append(
        pod_list("10", pod("a", "5", ns="x", app="btc"), pod("b", "6", ns="y"))
    )
    f.start()
    assert wait_until(f.informer.has_synced)
    idx = f.informer.get_indexer()
    assert [o["metadata"]["name"] for o in idx.by_index(NAMESPACE_INDEX, "x")] == ["a"]
    f.informer.add_indexers({"app": lambda o: [o["metadata"].get("labels", {}).get("app", "")]})
    assert [o["metadata"]["name"] for o in idx.by_index("app", "btc")] == ["a"]


def test_wait_for_cache_sync_false_when_stopped_unit():
    stop = threading.Event()
    stop.set()
    assert wait_for_cache_sync(stop, lambda: False, clock=FakeClock()) is False
    assert wait_for_cache_sync(threading.Event(), lambda: True, clock=FakeClock()) is True


@pytest.mark.timeout(10)
def test_wait_for_cache_sync_polls_every_100ms_unit():
    clock = FakeClock()
    calls: list[float] = []
    ready = threading.Event()

    def synced() -> bool:
        calls.append(clock.now())
        return ready.is_set()

    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(
        wait_for_cache_sync(threading.Event(), synced, clock=clock)))
    t.start()
    assert wait_until(lambda: len(calls) == 1 and clock.has_waiters())
    ready.set()
    clock.step(0.1)
    t.join(DEADLINE)
    assert result == [True]
    assert calls == [pytest.approx(1000.0), pytest.approx(1000.1)]


def test_filtering_handler_translates_updates_unit():
    inner = Recorder()
    h = FilteringResourceEventHandler(lambda o: o["metadata"].get("labels", {}).get("x") == "1",
                                      inner)
    yes, no = pod("a", "1", x="1"), pod("a", "2", x="0")
    h.on_add(no, False)
    h.on_add(yes, True)
    h.on_update(no, yes)   # starts passing -> add
    h.on_update(yes, no)   # stops passing -> delete
    h.on_update(yes, yes)  # both pass -> update
    h.on_update(no, no)    # neither -> nothing
    h.on_delete(no)
    assert inner.events == [
        ("add", "a", "1", True),
        ("add", "a", "1", False),
        ("delete", "a"),
        ("update", "a", "1", "1"),
    ]


def test_handler_funcs_adapters_unit():
    got: list[tuple] = []
    plain = ResourceEventHandlerFuncs(on_add=lambda o: got.append(("add", o)))
    plain.on_add("x", True)
    plain.on_update("o", "n")  # missing functions are ignored
    plain.on_delete("d")
    detailed = ResourceEventHandlerDetailedFuncs(on_add=lambda o, i: got.append(("dadd", o, i)))
    detailed.on_add("y", True)
    assert got == [("add", "x"), ("dadd", "y", True)]


@pytest.mark.timeout(10)
def test_new_informer_single_handler_unit():
    lw = ScriptedListerWatcher()
    lw.list_results.append(pod_list("3", pod("a", "1")))
    rec = Recorder()
    store, controller = new_informer(lw, scheme.PODS, 0.0, rec, clock=FakeClock())
    stop = threading.Event()
    t = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    t.start()
    assert wait_until(controller.has_synced)
    assert wait_until(lambda: len(lw.watchers) == 1)
    lw.watchers[0].delete(pod("a", "4"))
    assert wait_until(lambda: rec.events == [("add", "a", "1", True), ("delete", "a")])
    assert store.list_keys() == []
    assert controller.last_sync_resource_version() == "4"
    stop.set()
    t.join(DEADLINE)
    assert not t.is_alive()

"""Unit tests for the reflector (client-go tools/cache/reflector.go, classic semantics).

The ListerWatcher is a small scripted double: each LIST answer is queued by
the test (a list dict or an exception), and each WATCH hands out a fresh
``FakeWatcher`` that the test drives.  Time is a ``FakeClock``; the tests
wait for conditions with deadlines and never sleep.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

import pytest
from waiting import wait_until

from bitcoin_controller.apimachinery import errors, wait
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.apimachinery.watch import FakeWatcher
from bitcoin_controller.clientgo.kubernetes import scheme
from bitcoin_controller.clientgo.tools.cache import metrics
from bitcoin_controller.clientgo.tools.cache.reflector import (
    ListError,
    Reflector,
    VeryShortWatchError,
    is_watch_error_retriable,
)
from bitcoin_controller.utils.clock import FakeClock

DEADLINE = 5.0
_names = itertools.count()



def pod(name: str, rv: str, ns: str = "default", **extra: Any) -> dict[str, Any]:
    obj = {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv}}
    obj.update(extra)
    return obj


def pod_list(rv: str, *items: dict, cont: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return {"apiVersion": "v1", "kind": "PodList", "metadata": meta, "items": list(items)}


def status(code: int, reason: str, message: str = "") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message or reason}


class ScriptedListerWatcher:
    """LIST answers come from ``list_results`` (default: an empty list at RV "1");
    WATCH opens a new FakeWatcher, or raises the next queued ``watch_errors`` item."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ListOptions]] = []
        self.list_results: deque[Any] = deque()
        self.watch_errors: deque[BaseException] = deque()
        self.watchers: list[FakeWatcher] = []
        self.lock = threading.Lock()

    def list(self, opts: ListOptions) -> dict[str, Any]:
        with self.lock:
            self.calls.append(("list", opts))
            result = self.list_results.popleft() if self.list_results else pod_list("1")
        if isinstance(result, BaseException):
            raise result
        return result

    def watch(self, opts: ListOptions) -> FakeWatcher:
        with self.lock:
            self.calls.append(("watch", opts))
            if self.watch_errors:
                raise self.watch_errors.popleft()
            w = FakeWatcher()
            self.watchers.append(w)
            return w

    def lists(self) -> list[ListOptions]:
        with self.lock:
            return [o for verb, o in self.calls if verb == "list"]

    def watches(self) -> list[ListOptions]:
        with self.lock:
            return [o for verb, o in self.calls if verb == "watch"]

    def verbs(self) -> list[str]:
        with self.lock:
            return [verb for verb, _ in self.calls]


class RecordingStore:
    """A ReflectorStore that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.resync_error: BaseException | None = None

    def add(self, obj):
        self.calls.append(("add", obj["metadata"]["name"]))

    def update(self, obj):
        self.calls.append(("update", obj["metadata"]["name"]))

    def delete(self, obj):
        self.calls.append(("delete", obj["metadata"]["name"]))

    def replace(self, objs, resource_version):
        self.calls.append(("replace", [o["metadata"]["name"] for o in objs], resource_version))

    def resync(self):
        self.calls.append(("resync",))
        if self.resync_error is not None:
            raise self.resync_error


class Harness:
    """A reflector running in a thread, with its double, store and clock."""

    def __init__(self, resync_period: float = 0.0, **options: Any) -> None:
        self.clock = FakeClock()
        self.lw = ScriptedListerWatcher()
        self.store = RecordingStore()
        self.stop = threading.Event()
        self.handled: list[BaseException] = []
        self.name = f"test-reflector-{next(_names)}"
        options.setdefault(
            "backoff_manager", wait.ExponentialBackoffManager(clock=self.clock, rand=lambda: 0.0)
        )
        self.reflector = Reflector(
            self.name, self.lw, scheme.PODS, self.store, resync_period, clock=self.clock,
            watch_error_handler=lambda r, err: self.handled.append(err), **options,
        )
        self.thread = threading.Thread(target=self.reflector.run, args=(self.stop,), daemon=True)

    def start(self) -> Harness:
        self.thread.start()
        return self

    def watcher(self, n: int) -> FakeWatcher:
        """The n-th watch opened (1-based), once it is open."""
        assert wait_until(lambda: len(self.lw.watchers) >= n), f"watch #{n} never opened"
        return self.lw.watchers[n - 1]

    def step_backoff(self) -> None:
        """Let one backoff wait elapse (the longest possible with this manager is < 60 s)."""
        assert wait_until(self.clock.has_waiters), "reflector never waited on the clock"
        self.clock.step(61.0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "reflector did not stop"

    def metric(self, counter: str) -> float:
        value = metrics.REGISTRY.get_sample_value(f"reflector_{counter}_total", {"name": self.name})
        return value or 0.0


@pytest.fixture
def harness():
    created: list[Harness] = []

    def make(**kw: Any) -> Harness:
        h = Harness(**kw)
        created.append(h)
        return h

    yield make
    for h in created:
        if h.thread.is_alive():
            h.close()


@pytest.mark.timeout(10)
def test_first_list_rv0_limit500_then_watch_options_unit(harness):
    h = harness()
    h.lw.list_results.append(pod_list("10", pod("a", "5"), pod("b", "9")))
    h.start()
    h.watcher(1)
    first = h.lw.lists()[0]
    assert first.resource_version == "0"
    assert first.limit == 500
    assert first.continue_ is None
    assert h.store.calls[0] == ("replace", ["a", "b"], "10")
    w_opts = h.lw.watches()[0]
    assert w_opts.resource_version == "10"
    assert w_opts.allow_watch_bookmarks is True
    assert 300 <= w_opts.timeout_seconds < 600
    assert h.reflector.last_sync_resource_version() == "10"
    h.close()


def test_watch_timeout_uniform_in_5_to_10_minutes_unit():
    lw = ScriptedListerWatcher()
    low = Reflector("t-low", lw, None, RecordingStore(), rand=lambda: 0.0)
    high = Reflector("t-high", lw, None, RecordingStore(), rand=lambda: 0.999999)
    assert low._watch_options().timeout_seconds == 300
    assert high._watch_options().timeout_seconds == 599
    # A larger minimum is honoured (and doubles for the maximum); a smaller one is not.
    longer = Reflector("t-long", lw, None, RecordingStore(), min_watch_timeout=400,
                       rand=lambda: 0.5)
    assert longer._watch_options().timeout_seconds == 600
    shorter = Reflector("t-short", lw, None, RecordingStore(), min_watch_timeout=10,
                        rand=lambda: 0.0)
    assert shorter._watch_options().timeout_seconds == 300


@pytest.mark.timeout(10)
def test_pagination_follows_continue_and_clears_rv_unit(harness):
    h = harness()
    h.lw.list_results.extend([
        pod_list("100", pod("a", "1"), cont="tok1"),
        pod_list("101", pod("b", "2"), cont="tok2"),
        pod_list("102", pod("c", "3")),
    ])
    h.start()
    h.watcher(1)
    lists = h.lw.lists()
    assert [(o.resource_version, o.limit, o.continue_) for o in lists] == [
        ("0", 500, None),
        (None, 500, "tok1"),
        (None, 500, "tok2"),
    ]
    # The merged result carries the first page's resourceVersion.
    assert h.store.calls[0] == ("replace", ["a", "b", "c"], "100")
    assert h.reflector._paginated_result is True
    h.close()


@pytest.mark.timeout(10)
def test_paginated_result_keeps_relists_paginated_unit(harness):
    h = harness()
    h.lw.list_results.extend([pod_list("100", pod("a", "1"), cont="t"), pod_list("100")])
    h.start()
    h.watcher(1).error(status(410, "Expired"))
    h.step_backoff()
    h.watcher(2)
    relist = h.lw.lists()[2]
    assert relist.resource_version == "100"
    assert relist.limit == 500  # without the flag a concrete RV would be unpaginated
    h.close()


@pytest.mark.timeout(10)
def test_expired_continuation_page_falls_back_to_full_list_unit(harness):
    h = harness()
    h.lw.list_results.extend([
        pod_list("100", pod("a", "1"), cont="tok1"),
        errors.new_gone("continue token expired"),
        pod_list("120", pod("a", "1"), pod("b", "2")),
    ])
    h.start()
    h.watcher(1)
    lists = h.lw.lists()
    assert len(lists) == 3
    full = lists[2]
    assert (full.resource_version, full.limit, full.continue_) == ("0", None, None)
    assert h.store.calls[0] == ("replace", ["a", "b"], "120")
    assert h.handled == []
    h.close()


@pytest.mark.timeout(10)
def test_clean_close_rewatches_without_list_unit(harness):
    h = harness()
    h.lw.list_results.append(pod_list("10"))
    h.start()
    w1 = h.watcher(1)
    w1.add(pod("a", "11"))
    w1.modify(pod("a", "12"))
    w1.delete(pod("a", "13"))
    w1.stop()  # the server closes the stream (its timeoutSeconds elapsed)
    h.watcher(2)
    assert h.lw.verbs() == ["list", "watch", "watch"]
    assert h.lw.watches()[1].resource_version == "13"
    assert h.store.calls[1:] == [("add", "a"), ("update", "a"), ("delete", "a")]
    assert not h.clock.has_waiters()  # no backoff on a clean close
    assert h.metric("events") == 3
    assert h.metric("watches") == 2
    h.close()


@pytest.mark.timeout(10)
def test_watch_410_relists_at_last_rv_after_backoff_unit(harness):
    h = harness()
    h.lw.list_results.extend([pod_list("10"), pod_list("30")])
    h.start()
    w1 = h.watcher(1)
    w1.add(pod("a", "20"))
    w1.error(status(410, "Expired", "too old resource version: 20 (25)"))
    assert wait_until(h.clock.has_waiters)
    assert len(h.lw.lists()) == 1  # relist waits for the backoff
    h.step_backoff()
    h.watcher(2)
    relist = h.lw.lists()[1]
    assert relist.resource_version == "20"  # last seen, not "" (the watch cache may serve it)
    assert relist.limit is None  # concrete RV -> unpaginated so the watch cache can serve it
    assert h.lw.watches()[1].resource_version == "30"
    assert h.handled == []  # the watch phase returns nil; the handler is not called
    assert h.metric("relists") == 1
    h.close()


@pytest.mark.timeout(10)
def test_list_410_retries_immediately_with_empty_rv_then_clears_flag_unit(harness):
    h = harness()
    h.lw.list_results.extend([
        pod_list("10"),
        errors.new_gone("too old resource version"),  # relist at "20" fails
        pod_list("40", pod("x", "40")),  # immediate consistent list
        pod_list("50"),
    ])
    h.start()
    w1 = h.watcher(1)
    w1.add(pod("a", "20"))
    w1.error(status(410, "Expired"))
    h.step_backoff()
    w2 = h.watcher(2)
    lists = h.lw.lists()
    assert [o.resource_version for o in lists] == ["0", "20", ""]
    assert h.handled == []
    assert h.lw.watches()[1].resource_version == "40"
    # The flag was cleared by the successful list: the next relist uses the last RV again.
    assert h.reflector._last_sync_resource_version_unavailable is False
    w2.add(pod("b", "45"))
    w2.error(status(410, "Gone"))
    h.step_backoff()
    h.watcher(3)
    assert h.lw.lists()[3].resource_version == "45"
    h.close()


# -- errors on the watch path ------------------------------------------------------
#
# A table, as client-go's reflector_test.go writes its error cases: how the
# watch fails (an error opening it, or what the stream does), then what the
# reflector did after one backoff: its calls, the errors its handler saw, and
# the resourceVersion it watches from again.  Retriable failures re-watch from
# the last RV without a LIST; the others relist.

def _stream_429(w: FakeWatcher) -> None:
    w.error(status(429, "TooManyRequests"))


def _close_at_once(w: FakeWatcher) -> None:
    w.stop()  # closed at once with no event: a very short watch


WATCH_ERRORS = [
    pytest.param(ConnectionRefusedError(111, "Connection refused"), None,
                 ["list", "watch", "watch"], [], "10", id="open-conn-refused-rewatches"),
    pytest.param(errors.new_too_many_requests(), None,
                 ["list", "watch", "watch"], [], "10", id="open-429-rewatches"),
    pytest.param(errors.ForbiddenError("forbidden"), None,
                 ["list", "watch", "list", "watch"], [errors.ForbiddenError], "11",
                 id="open-other-error-goes-to-handler-then-relists"),
    pytest.param(None, _stream_429,
                 ["list", "watch", "watch"], [], "10", id="429-in-stream-rewatches"),
    # Logged by the watch loop, not given to the handler.
    pytest.param(None, _close_at_once,
                 ["list", "watch", "list", "watch"], [], "11", id="very-short-watch-relists"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("open_error", "stream", "calls", "handled", "rewatch_rv"), WATCH_ERRORS)
def test_watch_errors_back_off_then_rewatch_or_relist_unit(
    harness, open_error, stream, calls, handled, rewatch_rv
):
    h = harness()
    h.lw.list_results.extend([pod_list("10"), pod_list("11")])
    if open_error is not None:
        h.lw.watch_errors.append(open_error)
    h.start()
    if stream is not None:
        stream(h.watcher(1))
    assert wait_until(lambda: len(h.handled) == len(handled))
    assert wait_until(h.clock.has_waiters)
    assert h.lw.verbs() == calls[:2]  # nothing more before the backoff
    h.step_backoff()
    h.watcher(1 if open_error is not None else 2)
    assert h.lw.verbs() == calls
    assert [type(err) for err in h.handled] == handled
    assert h.lw.watches()[-1].resource_version == rewatch_rv
    if open_error is not None:
        assert h.metric("watch_errors") == 1
    h.close()


def test_connection_refused_detected_through_wrapping_unit():
    class Wrapper(Exception):
        pass

    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as inner:
            raise Wrapper("failed to connect") from inner
    except Wrapper as outer:
        assert is_watch_error_retriable(outer)
    assert not is_watch_error_retriable(RuntimeError("other"))


def test_very_short_watch_error_returned_by_handler_unit():
    clock = FakeClock()
    r = Reflector("t-short-watch", ScriptedListerWatcher(), None, RecordingStore(), clock=clock)
    w = FakeWatcher()
    w.stop()
    from bitcoin_controller.clientgo.tools.cache.reflector import _Cycle

    err = r._handle_watch(clock.now(), w, threading.Event(), _Cycle())
    assert isinstance(err, VeryShortWatchError)
    assert "very short watch" in str(err)


# -- errors of the first LIST -------------------------------------------------------
#
# A table: the error the first LIST (at RV "0") gets, whether the reflector
# backs off before listing again (a "too large resource version" retries at
# once, with RV "" for a consistent read; anything else goes to the handler
# as a ListError and waits), and the RVs of the LISTs made.

TOO_LARGE_RV = errors.from_status({
    "code": 504, "reason": "Timeout", "message": "Too large resource version",
    "details": {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large"}]},
})

LIST_ERRORS = [
    pytest.param(TOO_LARGE_RV, False, ["0", ""], id="too-large-rv-retries-with-empty-rv"),
    pytest.param(errors.InternalError("etcd down"), True, ["0", "0"],
                 id="other-error-goes-to-handler-and-retries-after-backoff"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("err", "backs_off", "list_rvs"), LIST_ERRORS)
def test_first_list_errors_unit(harness, err, backs_off, list_rvs):
    h = harness()
    h.lw.list_results.extend([err, pod_list("5")])
    h.start()
    if backs_off:
        assert wait_until(lambda: len(h.handled) == 1)
        handled = h.handled[0]
        assert isinstance(handled, ListError)
        assert str(handled).startswith("failed to list v1, Kind=Pod: ")
        assert handled.err is err
        h.step_backoff()
    h.watcher(1)
    assert [o.resource_version for o in h.lw.lists()] == list_rvs
    if not backs_off:
        assert h.handled == []
    h.close()


@pytest.mark.timeout(10)
def test_bookmark_advances_rv_without_store_call_unit(harness):
    h = harness()
    h.lw.list_results.append(pod_list("10"))
    h.start()
    w1 = h.watcher(1)
    w1.bookmark({"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "77"}})
    assert wait_until(lambda: h.reflector.last_sync_resource_version() == "77")
    assert h.store.calls == [("replace", [], "10")]
    w1.stop()
    h.watcher(2)
    assert h.lw.watches()[1].resource_version == "77"
    h.close()


@pytest.mark.timeout(10)
def test_unexpected_type_and_metadata_less_objects_are_skipped_unit(harness):
    h = harness()
    h.start()
    w = h.watcher(1)
    w.add({"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "s", "resourceVersion": "5"}})
    w.add({"kind": "Pod"})  # no metadata
    w.add(pod("ok", "6", kind="Pod", apiVersion="v1"))
    assert wait_until(lambda: ("add", "ok") in h.store.calls)
    assert [c for c in h.store.calls if c[0] == "add"] == [("add", "ok")]
    assert h.reflector.last_sync_resource_version() == "6"
    h.close()


@pytest.mark.timeout(10)
def test_resync_only_when_should_resync_unit(harness):
    allow = threading.Event()
    asked: list[float] = []

    def should_resync() -> bool:
        asked.append(h.clock.now())
        return allow.is_set()

    h = harness(resync_period=10.0)
    h.reflector.should_resync = should_resync
    h.start()
    h.watcher(1)
    assert wait_until(h.clock.has_waiters)
    h.clock.step(9.0)
    assert asked == []
    h.clock.step(1.0)
    # The timer fired but should_resync said no: it re-arms without resyncing.
    assert wait_until(lambda: len(asked) == 1)
    assert wait_until(h.clock.has_waiters)
    assert ("resync",) not in h.store.calls
    allow.set()
    h.clock.step(10.0)
    assert wait_until(lambda: ("resync",) in h.store.calls)
    assert asked == [1010.0, 1020.0]
    h.close()


@pytest.mark.timeout(10)
def test_resync_error_ends_watch_and_relists_unit(harness):
    h = harness(resync_period=10.0)
    h.store.resync_error = RuntimeError("resync failed")
    h.start()
    h.watcher(1).add(pod("a", "3"))  # an event, so the watch is not "very short"
    assert wait_until(lambda: ("add", "a") in h.store.calls)
    h.clock.step(10.0)
    assert wait_until(lambda: h.lw.watchers[0].is_stopped)
    h.step_backoff()
    h.watcher(2)
    assert h.lw.verbs() == ["list", "watch", "list", "watch"]
    h.close()


@pytest.mark.timeout(10)
def test_stop_ends_blocked_watch_promptly_unit(harness):
    h = harness()
    h.start()
    w = h.watcher(1)
    h.close()
    assert w.is_stopped


@pytest.mark.timeout(10)
def test_stop_abandons_hanging_list_unit():
    release = threading.Event()

    class HangingLW(ScriptedListerWatcher):
        def list(self, opts):
            release.wait(DEADLINE)
            return super().list(opts)

    stop = threading.Event()
    r = Reflector("t-hang", HangingLW(), None, RecordingStore(), clock=FakeClock())
    t = threading.Thread(target=r.run, args=(stop,))
    t.start()
    stop.set()
    t.join(DEADLINE)
    assert not t.is_alive()
    release.set()


@pytest.mark.timeout(10)
def test_list_items_get_kind_from_list_unit(harness):
    seen: list[dict] = []

    class KeepingStore(RecordingStore):
        def replace(self, objs, resource_version):
            seen.extend(objs)
            super().replace(objs, resource_version)

    h = harness()
    h.store = KeepingStore()
    h.reflector._store = h.store
    h.lw.list_results.append(pod_list("3", pod("a", "1")))
    h.start()
    h.watcher(1)
    assert seen[0]["kind"] == "Pod" and seen[0]["apiVersion"] == "v1"
    h.close()


@pytest.mark.timeout(10)
def test_internal_error_retry_with_deadline_unit(harness):
    h = harness(max_internal_error_retry_duration=30.0)
    h.start()
    h.watcher(1).error(status(500, "InternalError"))
    h.watcher(2)  # re-watched immediately, no backoff, no relist
    assert h.lw.verbs() == ["list", "watch", "watch"]
    h.close()


def test_backoff_shared_progression_unit():
    clock = FakeClock()
    mgr = wait.ExponentialBackoffManager(clock=clock)
    waits = [mgr.backoff() for _ in range(10)]
    assert 0.8 <= waits[0] < 1.6
    assert 1.6 <= waits[1] < 3.2
    assert all(30.0 <= w < 60.0 for w in waits[6:])
    clock.step(121.0)
    assert 0.8 <= mgr.backoff() < 1.6

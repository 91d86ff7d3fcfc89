"""Unit tests of the base work queue (client-go ``util/workqueue/queue.go``)."""

from __future__ import annotations

import collections
import sys
import threading

import pytest
from waiting import wait_for

from bitcoin_controller.clientgo.util.workqueue import Interface, Queue
from bitcoin_controller.utils.clock import FakeClock

JOIN_TIMEOUT = 5.0



def start(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def queue():
    q = Queue()
    yield q
    q.shut_down()


def test_queue_implements_interface_unit():
    q = Queue()
    assert isinstance(q, Interface)
    with pytest.raises(TypeError):
        Interface()  # abstract


def test_get_returns_items_in_fifo_order_unit(queue):
    for item in ("a", "b", "c"):
        queue.add(item)
    assert queue.len() == 3
    assert [queue.get() for _ in range(3)] == [("a", False), ("b", False), ("c", False)]
    assert queue.len() == 0


def test_duplicates_collapse_before_get_unit(queue):
    queue.add("a")
    queue.add("b")
    queue.add("a")
    queue.add("a")
    assert queue.len() == 2
    assert queue.get() == ("a", False)
    assert queue.get() == ("b", False)
    assert queue.len() == 0


def test_add_while_processing_is_requeued_after_done_unit(queue):
    queue.add("a")
    item, _ = queue.get()
    queue.add("a")
    queue.add("a")
    # Not handed out while a worker holds it, and the two adds collapse.
    assert queue.len() == 0
    queue.done(item)
    assert queue.len() == 1
    assert queue.get() == ("a", False)


def test_done_without_readd_does_not_requeue_unit(queue):
    queue.add("a")
    item, _ = queue.get()
    queue.done(item)
    assert queue.len() == 0
    queue.add("a")  # a fresh add after done is queued normally
    assert queue.len() == 1


def test_done_of_unknown_item_is_harmless_unit(queue):
    queue.done("never-added")
    queue.add("a")
    assert queue.get() == ("a", False)


def test_get_blocks_until_an_item_is_added_unit(queue):
    received = []
    worker = start(lambda: received.append(queue.get()))
    queue.add("late")
    worker.join(JOIN_TIMEOUT)
    assert received == [("late", False)]


def test_get_after_shutdown_drains_then_reports_shutdown_unit(queue):
    queue.add("a")
    queue.add("b")
    queue.shut_down()
    assert queue.shutting_down()
    queue.add("c")  # ignored once shutting down
    assert queue.get() == ("a", False)
    assert queue.get() == ("b", False)
    assert queue.get() == (None, True)
    assert queue.get() == (None, True)


def test_shutdown_releases_blocked_workers_unit(queue):
    results = []
    lock = threading.Lock()

    def worker():
        outcome = queue.get()
        with lock:
            results.append(outcome)

    workers = [start(worker) for _ in range(3)]
    queue.shut_down()
    for w in workers:
        w.join(JOIN_TIMEOUT)
        assert not w.is_alive()
    assert results == [(None, True)] * 3


def test_shutdown_is_idempotent_unit(queue):
    queue.shut_down()
    queue.shut_down()
    assert queue.get() == (None, True)


def test_shut_down_with_drain_waits_for_in_flight_items_only_unit(queue):
    queue.add("a")
    queue.add("b")
    item, _ = queue.get()
    drainer = start(queue.shut_down_with_drain)
    wait_for(queue.shutting_down)
    # "a" is still being processed, so the drain cannot have finished.
    assert drainer.is_alive()
    queue.add("c")  # ignored while draining
    queue.done(item)
    drainer.join(JOIN_TIMEOUT)
    assert not drainer.is_alive()
    # "b" was still queued, not in flight: the drain did not wait for it,
    # and workers still receive it before being told to stop.
    assert queue.get() == ("b", False)
    assert queue.get() == (None, True)


def test_shut_down_with_drain_waits_for_every_in_flight_item_unit(queue):
    for item in ("a", "b"):
        queue.add(item)
    first, _ = queue.get()
    second, _ = queue.get()
    drainer = start(queue.shut_down_with_drain)
    wait_for(queue.shutting_down)
    queue.done(first)
    assert drainer.is_alive()  # "b" is still in flight
    queue.done(second)
    drainer.join(JOIN_TIMEOUT)
    assert not drainer.is_alive()


def test_shut_down_with_drain_returns_at_once_when_nothing_is_in_flight_unit(queue):
    queue.add("queued")
    queue.shut_down_with_drain()
    assert queue.shutting_down()
    assert queue.get() == ("queued", False)


def test_shut_down_cancels_a_pending_drain_unit(queue):
    queue.add("stuck")
    item, _ = queue.get()
    drainer = start(queue.shut_down_with_drain)
    wait_for(queue.shutting_down)
    assert drainer.is_alive()
    queue.shut_down()
    drainer.join(JOIN_TIMEOUT)
    assert not drainer.is_alive()
    queue.done(item)  # a late done after the cancelled drain is still fine
    assert queue.get() == (None, True)


def test_drain_then_done_readd_is_ignored_unit(queue):
    queue.add("a")
    item, _ = queue.get()
    drainer = start(queue.shut_down_with_drain)
    wait_for(queue.shutting_down)
    queue.add("a")  # ignored: shutting down
    queue.done(item)
    drainer.join(JOIN_TIMEOUT)
    assert queue.get() == (None, True)


@pytest.mark.timeout(60)
def test_workers_never_hold_the_same_item_concurrently_unit():
    q = Queue(name="")
    keys = [f"ns/key-{i}" for i in range(8)]
    lock = threading.Lock()
    in_flight = collections.Counter()
    processed = collections.Counter()
    violations = []

    def worker():
        while True:
            item, shutdown = q.get()
            if shutdown:
                return
            with lock:
                in_flight[item] += 1
                if in_flight[item] > 1:
                    violations.append(item)
                processed[item] += 1
            with lock:
                in_flight[item] -= 1
            q.done(item)

    def producer(offset: int):
        for i in range(3000):
            q.add(keys[(i + offset) % len(keys)])

    # A tiny GIL switch interval makes threads interleave inside the queue's
    # operations far more often than the default 5 ms would.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        workers = [start(worker) for _ in range(4)]
        producers = [start(producer, n) for n in range(2)]
        for p in producers:
            p.join(30)
            assert not p.is_alive()
        q.shut_down_with_drain()
        for w in workers:
            w.join(30)
            assert not w.is_alive()
    finally:
        sys.setswitchinterval(old_interval)

    assert violations == []
    assert set(processed) == set(keys)
    # Duplicates collapsed: far fewer syncs than the 6000 adds.
    assert sum(processed.values()) <= 6000


@pytest.mark.timeout(60)
def test_item_added_during_processing_is_processed_again_unit():
    """Every add that lands while a worker holds the key leads to one more sync."""
    q = Queue()
    started = threading.Event()
    release = threading.Event()
    seen = []

    def worker():
        while True:
            item, shutdown = q.get()
            if shutdown:
                return
            seen.append(item)
            if len(seen) == 1:
                started.set()
                release.wait(JOIN_TIMEOUT)
            q.done(item)

    q.add("key")
    w = start(worker)
    assert started.wait(JOIN_TIMEOUT)
    q.add("key")  # arrives mid-sync
    release.set()
    wait_for(lambda: len(seen) == 2)
    q.shut_down()
    w.join(JOIN_TIMEOUT)
    assert seen == ["key", "key"]


def test_unnamed_queue_runs_no_clock_driven_thread_unit():
    clock = FakeClock()
    q = Queue(clock=clock)
    q.add("a")
    q.get()
    assert not clock.has_waiters()
    q.shut_down()

"""Unit tests of ``watch.Broadcaster`` (apimachinery ``pkg/watch/mux.go``)."""

from __future__ import annotations

import threading

import pytest

from bitcoin_controller.apimachinery.watch.mux import (
    DROP_IF_CHANNEL_FULL,
    INCOMING_QUEUE_LENGTH,
    WAIT_IF_CHANNEL_FULL,
    Broadcaster,
    BroadcasterStoppedError,
    new_broadcaster,
    new_long_queue_broadcaster,
)

DEADLINE = 5.0  # seconds of real time a condition may take before the test fails

pytestmark = pytest.mark.timeout(30)


class Reader:
    """Drains a watcher on its own thread, so a test can wait for what it received."""

    def __init__(self, watcher) -> None:
        self.watcher = watcher
        self.received: list[dict] = []
        self.finished = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self.watcher:
            with self._cond:
                self.received.append(event)
                self._cond.notify_all()
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def wait_for(self, count: int) -> list[dict]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.received) >= count, DEADLINE), (
                f"received {len(self.received)} of {count} events"
            )
            return list(self.received)

    def wait_finished(self) -> list[dict]:
        with self._cond:
            assert self._cond.wait_for(lambda: self.finished, DEADLINE), "watch did not end"
            return list(self.received)


def objects(events: list[dict]) -> list:
    return [e["object"] for e in events]


def test_every_watcher_gets_every_event_in_order_unit() -> None:
    b = new_broadcaster(10, WAIT_IF_CHANNEL_FULL)
    r1, r2 = Reader(b.watch()), Reader(b.watch())
    for i in range(50):
        b.action("ADDED", {"n": i})
    assert objects(r1.wait_for(50)) == [{"n": i} for i in range(50)]
    assert objects(r2.wait_for(50)) == [{"n": i} for i in range(50)]
    assert r1.received[0]["type"] == "ADDED"
    b.shutdown()


def test_new_watcher_sees_exactly_the_events_after_it_unit() -> None:
    b = new_broadcaster(100)
    first = b.watch()
    b.action("ADDED", "a")
    second = b.watch()
    b.action("MODIFIED", "b")
    b.shutdown()
    assert [(e["type"], e["object"]) for e in first] == [("ADDED", "a"), ("MODIFIED", "b")]
    assert [(e["type"], e["object"]) for e in second] == [("MODIFIED", "b")]


def test_watch_with_prefix_delivers_prefix_first_unit() -> None:
    b = new_broadcaster(1)
    prefix = [{"type": "ADDED", "object": i} for i in range(5)]  # more than queue_length
    w = b.watch_with_prefix(prefix)
    b.action("DELETED", "later")
    b.shutdown()
    assert [e["object"] for e in w] == [0, 1, 2, 3, 4, "later"]


def test_shutdown_delivers_queued_events_then_closes_watchers_unit() -> None:
    b = new_broadcaster(1000)
    w = b.watch()
    for i in range(200):
        b.action("ADDED", i)
    b.shutdown()
    # Iteration drains the buffer and then ends: the watcher was closed.
    assert [e["object"] for e in w] == list(range(200))


def test_after_shutdown_sending_and_watching_raise_unit() -> None:
    b = new_broadcaster(1)
    b.shutdown()
    b.shutdown()  # idempotent
    assert b.stopped
    with pytest.raises(BroadcasterStoppedError, match="broadcaster already stopped"):
        b.action("ADDED", 1)
    with pytest.raises(BroadcasterStoppedError):
        b.action_or_drop("ADDED", 1)
    with pytest.raises(BroadcasterStoppedError):
        b.watch()
    with pytest.raises(BroadcasterStoppedError):
        b.watch_with_prefix([])


def test_drop_if_channel_full_drops_only_for_the_full_watcher_unit() -> None:
    b = new_broadcaster(1, DROP_IF_CHANNEL_FULL)
    slow = b.watch()  # never read until the end: its buffer of 1 fills at once
    fast = Reader(b.watch())
    for i in range(5):
        b.action("ADDED", i)
        # Wait until the fast watcher has the event before sending the next one,
        # so its own buffer of 1 never overflows.
        fast.wait_for(i + 1)
    b.shutdown()
    assert objects(fast.wait_finished()) == [0, 1, 2, 3, 4]
    assert [e["object"] for e in slow] == [0]  # 1..4 were dropped for it alone


def test_wait_if_channel_full_loses_nothing_for_a_slow_watcher_unit() -> None:
    b = new_broadcaster(1, WAIT_IF_CHANNEL_FULL)
    slow_watcher = b.watch()
    fast = Reader(b.watch())
    for i in range(20):
        b.action("ADDED", i)
    # The distribution thread is blocked on the slow watcher; reading it releases
    # every event, in order, to both watchers.
    slow = Reader(slow_watcher)
    assert objects(slow.wait_for(20)) == list(range(20))
    assert objects(fast.wait_for(20)) == list(range(20))
    b.shutdown()


def test_stopping_a_full_watcher_unblocks_distribution_unit() -> None:
    b = new_broadcaster(1, WAIT_IF_CHANNEL_FULL)
    stuck = b.watch()
    fast = Reader(b.watch())
    b.action("ADDED", 0)
    b.action("ADDED", 1)  # the distribution thread blocks on `stuck` with this one
    fast.wait_for(1)
    stuck.stop()
    b.action("ADDED", 2)
    assert objects(fast.wait_for(3)) == [0, 1, 2]
    assert [e["object"] for e in stuck] == [0]  # buffered before stop, then the watch ended
    b.shutdown()


def test_action_or_drop_never_blocks_and_accepted_events_arrive_unit() -> None:
    b = new_broadcaster(1, WAIT_IF_CHANNEL_FULL)
    w = b.watch()  # not read: the distribution thread soon blocks on it
    accepted = 0
    for i in range(100):
        if not b.action_or_drop("ADDED", i):
            break
        accepted += 1
    # 1 in the watcher's buffer + 1 held by the blocked distribution thread
    # + the incoming queue of 25, give or take the distribution thread's progress.
    assert INCOMING_QUEUE_LENGTH <= accepted <= INCOMING_QUEUE_LENGTH + 2
    reader = Reader(w)
    assert objects(reader.wait_for(accepted)) == list(range(accepted))
    b.shutdown()
    assert len(reader.wait_finished()) == accepted


def test_long_queue_broadcaster_incoming_queue_has_queue_length_unit() -> None:
    b = new_long_queue_broadcaster(1, WAIT_IF_CHANNEL_FULL)
    w = b.watch()
    accepted = 0
    for i in range(10):
        if not b.action_or_drop("ADDED", i):
            break
        accepted += 1
    assert accepted <= 3  # incoming queue of 1, not 25
    reader = Reader(w)
    assert objects(reader.wait_for(accepted)) == list(range(accepted))
    b.shutdown()


def test_watcher_stop_is_idempotent_and_ends_a_blocked_iteration_unit() -> None:
    b = new_broadcaster(10)
    w = b.watch()
    reader = Reader(w)
    w.stop()
    w.stop()
    assert reader.wait_finished() == []
    b.action("ADDED", "after stop")  # a stopped watcher no longer receives anything
    b.shutdown()
    assert reader.received == []


def test_stop_after_shutdown_is_harmless_unit() -> None:
    b = new_broadcaster(10)
    w = b.watch()
    b.shutdown()
    w.stop()
    assert list(w) == []


def test_unbuffered_watcher_hands_events_to_a_waiting_reader_unit() -> None:
    b = Broadcaster(0, WAIT_IF_CHANNEL_FULL)
    reader = Reader(b.watch())
    for i in range(10):
        b.action("ADDED", i)
    assert objects(reader.wait_for(10)) == list(range(10))
    b.shutdown()
    assert len(reader.wait_finished()) == 10


def test_many_senders_all_events_delivered_unit() -> None:
    b = new_broadcaster(1000, WAIT_IF_CHANNEL_FULL)
    reader = Reader(b.watch())

    def send(base: int) -> None:
        for i in range(100):
            b.action("ADDED", base + i)

    senders = [threading.Thread(target=send, args=(k * 1000,)) for k in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(DEADLINE)
    got = objects(reader.wait_for(400))
    assert sorted(got) == sorted(k * 1000 + i for k in range(4) for i in range(100))
    # Each sender's own events keep their order.
    for k in range(4):
        mine = [x for x in got if x // 1000 == k]
        assert mine == sorted(mine)
    b.shutdown()

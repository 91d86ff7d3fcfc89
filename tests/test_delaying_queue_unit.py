"""Unit tests of the delaying queue (client-go ``util/workqueue/delaying_queue.go``).

Time is driven by a FakeClock.  The waiting thread is the only thing blocked
on the clock (the queues here are unnamed, so no metrics updater runs), and
:class:`RecordingClock` notes every timeout it asks for, so a test can wait
until the thread is parked on the clock before moving time.
"""

from __future__ import annotations

import pytest
from waiting import wait_for

from bitcoin_controller.clientgo.util.workqueue import (
    MAX_WAIT,
    DelayingInterface,
    DelayingQueue,
)
from bitcoin_controller.utils.clock import REAL_CLOCK, FakeClock

JOIN_TIMEOUT = 5.0



class RecordingClock(FakeClock):
    """A FakeClock that records the timeout of every ``wait`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, cond, timeout):
        self.timeouts.append(timeout)
        super().wait(cond, timeout)

    def parked_after(self, waits: int) -> None:
        """Wait until the loop has begun its ``waits``-th wait and is blocked in it.

        The previous waiter is unregistered before the loop records the next
        wait, so one registered waiter then means the latest wait is armed.
        """
        wait_for(lambda: len(self.timeouts) >= waits and self.waiter_count() == 1)

    def parked_with(self, timeout: float) -> None:
        """Wait until the loop is blocked in a wait of ``timeout`` seconds."""
        wait_for(
            lambda: bool(self.timeouts)
            and self.timeouts[-1] == pytest.approx(timeout)
            and self.waiter_count() == 1
        )


@pytest.fixture
def clock():
    return RecordingClock()


@pytest.fixture
def queue(clock):
    q = DelayingQueue(clock=clock)
    yield q
    q.shut_down()


def test_delaying_queue_implements_interface_unit(queue):
    assert isinstance(queue, DelayingInterface)


def test_add_after_adds_once_the_delay_has_passed_unit(clock, queue):
    clock.parked_after(1)
    queue.add_after("a", 5)
    clock.parked_after(2)
    assert clock.timeouts[-1] == pytest.approx(5)
    clock.step(4)
    # Not due yet: the clock does not wake the loop, nothing moves.
    assert queue.len() == 0
    clock.step(1)
    assert queue.get() == ("a", False)


def test_zero_or_negative_delay_adds_immediately_unit(queue):
    queue.add_after("now", 0)
    queue.add_after("past", -3)
    assert queue.len() == 2
    assert queue.get() == ("now", False)
    assert queue.get() == ("past", False)


@pytest.mark.parametrize("delay", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_delay_is_rejected_and_wedges_nothing_unit(clock, queue, delay):
    clock.parked_after(1)
    queue.add_after("early", 1)
    with pytest.raises(ValueError, match="finite"):
        queue.add_after("bad", delay)
    queue.add_after("late", 2)
    clock.parked_with(1)
    clock.step(2)
    # Both finite items are delivered in order; the rejected one never is.
    assert [queue.get()[0] for _ in range(2)] == ["early", "late"]
    assert queue.len() == 0


def test_items_become_ready_in_deadline_order_unit(clock, queue):
    clock.parked_after(1)
    queue.add_after("c", 3)
    queue.add_after("a", 1)
    queue.add_after("b", 2)
    clock.parked_with(1)
    clock.step(3)
    assert [queue.get()[0] for _ in range(3)] == ["a", "b", "c"]


def test_earlier_deadline_replaces_a_later_one_unit(clock, queue):
    clock.parked_after(1)
    queue.add_after("x", 10)
    clock.parked_after(2)
    queue.add_after("x", 2)
    clock.parked_after(3)
    assert clock.timeouts[-1] == pytest.approx(2)
    clock.step(2)
    item, _ = queue.get()
    assert item == "x"
    queue.done(item)
    # The superseded entry (due at t=10) is gone: the loop only waits for
    # the heartbeat, and passing t=10 adds nothing.
    clock.parked_after(4)
    assert clock.timeouts[-1] == pytest.approx(MAX_WAIT)
    clock.step(10)
    clock.parked_after(5)
    assert queue.len() == 0


def test_later_deadline_does_not_postpone_a_waiting_item_unit(clock, queue):
    clock.parked_after(1)
    queue.add_after("y", 2)
    queue.add_after("y", 10)  # later: ignored, the item already waits
    clock.parked_after(2)
    assert clock.timeouts[-1] == pytest.approx(2)
    clock.step(2)
    item, _ = queue.get()
    assert item == "y"
    queue.done(item)
    # The item waited once only: no second delivery at t=10.
    clock.parked_after(3)
    clock.step(10)
    clock.parked_after(4)
    assert queue.len() == 0


def test_waiting_item_already_queued_is_delivered_once_unit(clock, queue):
    clock.parked_after(1)
    queue.add("z")
    queue.add_after("z", 1)
    clock.parked_after(2)
    clock.step(1)
    clock.parked_after(3)
    # The delayed add collapsed with the queued one.
    assert queue.len() == 1


def test_heartbeat_caps_every_wait_at_ten_seconds_unit(clock, queue):
    clock.parked_after(1)
    assert MAX_WAIT == 10.0
    assert clock.timeouts[0] == pytest.approx(10)  # nothing waiting: heartbeat only
    queue.add_after("far", 25)
    clock.parked_after(2)
    assert clock.timeouts[-1] == pytest.approx(10)  # capped, not 25
    clock.step(10)
    clock.parked_after(3)
    assert clock.timeouts[-1] == pytest.approx(10)
    assert queue.len() == 0
    clock.step(10)
    clock.parked_after(4)
    assert clock.timeouts[-1] == pytest.approx(5)
    assert queue.len() == 0
    clock.step(5)
    assert queue.get() == ("far", False)


def test_shut_down_drops_pending_items_and_stops_the_loop_unit(clock, queue):
    clock.parked_after(1)
    queue.add_after("pending", 1)
    queue.shut_down()
    wait_for(lambda: clock.waiter_count() == 0)  # waiting thread has exited
    clock.step(5)
    assert queue.get() == (None, True)


def test_add_after_is_ignored_when_shutting_down_unit(queue):
    queue.shut_down()
    queue.add_after("late", 0)
    queue.add_after("later", 1)
    assert queue.len() == 0
    assert queue.get() == (None, True)


def test_shut_down_with_drain_also_stops_the_loop_unit(clock, queue):
    clock.parked_after(1)
    queue.add_after("pending", 1)
    queue.shut_down_with_drain()
    wait_for(lambda: clock.waiter_count() == 0)
    clock.step(5)
    assert queue.get() == (None, True)


def test_base_queue_semantics_still_apply_unit(queue):
    queue.add("a")
    item, _ = queue.get()
    queue.add_after("a", 0)  # re-added while processing
    assert queue.len() == 0
    queue.done(item)
    assert queue.get() == ("a", False)


@pytest.mark.timeout(30)
def test_add_after_with_the_real_clock_unit():
    q = DelayingQueue(clock=REAL_CLOCK)
    try:
        q.add_after("soon", 0.01)
        # get() blocks until the waiting thread moves the item over.
        assert q.get() == ("soon", False)
    finally:
        q.shut_down()

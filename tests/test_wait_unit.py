"""Unit tests for bitcoin_controller.apimachinery.wait (k8s.io/apimachinery/pkg/util/wait)."""

from __future__ import annotations

import threading

import pytest
from waiting import wait_until

from bitcoin_controller.apimachinery import wait
from bitcoin_controller.utils.clock import FakeClock

DEADLINE = 5.0



def test_jitter_range_unit():
    assert wait.jitter(2.0, 0.5, rand=lambda: 0.0) == 2.0
    assert wait.jitter(2.0, 0.5, rand=lambda: 0.999) == pytest.approx(2.999)
    # Non-positive factor means 1.0, as in Go.
    assert wait.jitter(2.0, 0.0, rand=lambda: 0.5) == 3.0


def test_backoff_step_caps_and_freezes_unit():
    b = wait.Backoff(duration=1.0, factor=3.0, steps=10, cap=5.0)
    assert [b.step() for _ in range(4)] == [1.0, 3.0, 5.0, 5.0]
    assert b.steps == 0


def test_exponential_backoff_manager_progression_unit():
    clock = FakeClock()
    low = wait.ExponentialBackoffManager(clock=clock, rand=lambda: 0.0)
    assert [low.backoff() for _ in range(8)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    high = wait.ExponentialBackoffManager(clock=clock, rand=lambda: 0.999999)
    waits = [high.backoff() for _ in range(8)]
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    for got, base in zip(waits, bases, strict=True):
        assert base <= got < 2 * base


def test_exponential_backoff_manager_random_waits_in_range_unit():
    clock = FakeClock()
    mgr = wait.ExponentialBackoffManager(clock=clock)
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6] + [30.0] * 5
    for base in bases:
        got = mgr.backoff()
        assert base <= got < 2 * base


def test_exponential_backoff_manager_resets_after_quiet_period_unit():
    clock = FakeClock()
    mgr = wait.ExponentialBackoffManager(clock=clock, rand=lambda: 0.0)
    for _ in range(5):
        mgr.backoff()
    assert mgr.backoff() == 25.6
    clock.step(120.0)  # exactly 2 min: not "more than" -> no reset
    assert mgr.backoff() == 30.0
    clock.step(120.001)
    assert mgr.backoff() == 0.8
    assert mgr.backoff() == 1.6


@pytest.mark.timeout(10)
def test_backoff_until_sliding_waits_on_clock_and_stops_unit():
    clock = FakeClock()
    stop = threading.Event()
    calls: list[float] = []
    mgr = wait.ExponentialBackoffManager(clock=clock, rand=lambda: 0.0)
    t = threading.Thread(
        target=wait.backoff_until,
        args=(lambda: calls.append(clock.now()), mgr, True, stop, clock),
    )
    t.start()
    assert wait_until(lambda: len(calls) == 1 and clock.has_waiters())
    clock.step(0.79)
    assert len(calls) == 1
    clock.step(0.01)
    assert wait_until(lambda: len(calls) == 2 and clock.has_waiters())
    clock.step(1.6)
    assert wait_until(lambda: len(calls) == 3)
    stop.set()
    t.join(DEADLINE)
    assert not t.is_alive()
    assert calls[1] - calls[0] == pytest.approx(0.8)
    assert calls[2] - calls[1] == pytest.approx(1.6)


@pytest.mark.timeout(10)
def test_until_survives_exceptions_unit():
    clock = FakeClock()
    stop = threading.Event()
    calls = []

    def fn():
        calls.append(1)
        raise RuntimeError("boom")

    t = threading.Thread(target=wait.until, args=(fn, 1.0, stop, clock))
    t.start()
    assert wait_until(lambda: len(calls) == 1 and clock.has_waiters())
    clock.step(1.0)
    assert wait_until(lambda: len(calls) == 2)
    stop.set()
    t.join(DEADLINE)
    assert not t.is_alive()


def test_poll_until_immediate_and_stop_unit():
    clock = FakeClock()
    assert wait.poll_until(lambda: True, 1.0, immediate=True, clock=clock)
    stop = threading.Event()
    stop.set()
    assert not wait.poll_until(lambda: False, 1.0, stop, clock=clock)


@pytest.mark.timeout(10)
def test_poll_until_timeout_and_interval_unit():
    clock = FakeClock()
    checks: list[float] = []
    result: list[bool] = []

    def cond():
        checks.append(clock.now())
        return False

    t = threading.Thread(
        target=lambda: result.append(wait.poll_until(cond, 1.0, timeout=2.5, clock=clock))
    )
    t.start()
    for expected_checks in (1, 2):
        assert wait_until(clock.has_waiters)
        clock.step(1.0)
        assert wait_until(lambda n=expected_checks: len(checks) == n)
    assert wait_until(clock.has_waiters)
    clock.step(1.0)  # passes the 2.5 s deadline before the third tick
    t.join(DEADLINE)
    assert result == [False]
    # Not immediate: first check one interval after the start; none after the deadline.
    assert checks == [pytest.approx(1001.0), pytest.approx(1002.0)]


def test_exponential_backoff_steps_unit():
    clock = FakeClock()
    attempts = []

    def cond():
        attempts.append(1)
        return len(attempts) == 3

    wait.exponential_backoff(wait.Backoff(duration=0.0, steps=5), cond, clock=clock)
    assert len(attempts) == 3
    attempts.clear()
    with pytest.raises(wait.WaitTimeoutError):
        wait.exponential_backoff(
            wait.Backoff(duration=0.0, steps=2), lambda: attempts.append(1) and False, clock=clock
        )
    assert len(attempts) == 2


@pytest.mark.timeout(10)
def test_after_func_runs_on_stop_and_cancel_prevents_unit():
    stop = threading.Event()
    fired = threading.Event()
    cancelled = []
    cancel = wait.after_func(stop, fired.set)
    cancel_other = wait.after_func(stop, lambda: cancelled.append(1))
    assert cancel_other() is True
    assert not fired.is_set()
    stop.set()
    assert fired.wait(DEADLINE)
    assert cancel() is False
    assert cancelled == []
    # Registering on an already-set event runs the callback at once.
    now = []
    wait.after_func(stop, lambda: now.append(1))
    assert now == [1]

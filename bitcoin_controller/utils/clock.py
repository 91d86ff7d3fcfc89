"""Clocks, mirroring ``k8s.io/utils/clock``.

Everything in the client-go mirror that depends on time (work queue delays,
reflector backoff, leader election, event aggregation) takes a :class:`Clock`
so that tests can drive time by hand with :class:`FakeClock` instead of
sleeping.  Go's ``time.Time`` carries both a wall reading and a monotonic
reading; Python keeps them apart, so a clock offers both:

* :meth:`Clock.now` -- monotonic seconds, for durations and deadlines;
* :meth:`Clock.wall` -- an aware UTC :class:`datetime.datetime`, for
  timestamps written to the API (events, leases, conditions).

Blocking helpers (:meth:`Clock.sleep`, :meth:`Clock.wait`,
:meth:`Clock.wait_event`) go through the clock too, so a fake clock can wake
them when a test calls :meth:`FakeClock.step`.
"""

from __future__ import annotations

import datetime
import threading
import time
from abc import ABC, abstractmethod

__all__ = ["Clock", "RealClock", "FakeClock", "REAL_CLOCK"]


class Clock(ABC):
    """The time source used by the machinery (``clock.Clock`` in Go)."""

    @abstractmethod
    def now(self) -> float:
        """Monotonic seconds; only differences between readings mean anything."""

    @abstractmethod
    def wall(self) -> datetime.datetime:
        """The current wall-clock time as an aware UTC datetime."""

    def since(self, start: float) -> float:
        """Seconds elapsed since ``start`` (a value returned by :meth:`now`)."""
        return self.now() - start

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""

    @abstractmethod
    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        """Wait on ``cond`` (whose lock the caller holds) for at most ``timeout``.

        Like :meth:`threading.Condition.wait`, the wake-up may be spurious:
        callers re-check their predicate in a loop.
        """

    @abstractmethod
    def wait_event(self, event: threading.Event, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` passes; return ``event.is_set()``."""


class RealClock(Clock):
    """The real clock: :func:`time.monotonic` and the standard blocking calls."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        if timeout is None or timeout > 0:
            cond.wait(timeout)

    def wait_event(self, event: threading.Event, timeout: float | None) -> bool:
        if timeout is not None and timeout <= 0:
            return event.is_set()
        return event.wait(timeout)


REAL_CLOCK = RealClock()

_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
# How long a fake-clock waiter blocks in real time before re-checking an
# external event it cannot be notified about (``wait_event``).  This is an
# implementation detail of the fake, not a synchronisation sleep in tests.
_EVENT_POLL_SECONDS = 0.005


class FakeClock(Clock):
    """A clock that only moves when a test calls :meth:`step` or :meth:`set_time`.

    Mirrors ``k8s.io/utils/clock/testing.FakeClock``: blocked callers of
    :meth:`sleep`, :meth:`wait` and :meth:`wait_event` are woken when fake
    time passes their deadline, and :meth:`has_waiters` lets a test wait
    until the code under test is actually blocked before it moves time.
    """

    def __init__(self, start: float = 1000.0, wall_start: datetime.datetime = _EPOCH) -> None:
        self._lock = threading.Condition()
        self._now = start
        self._start = start
        self._wall_start = wall_start
        # Each waiter: [deadline, condition-to-notify or None]
        self._waiters: list[list] = []

    # -- reading --------------------------------------------------------------
    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> datetime.datetime:
        with self._lock:
            return self._wall_start + datetime.timedelta(seconds=self._now - self._start)

    # -- moving time ----------------------------------------------------------
    def step(self, seconds: float) -> None:
        """Advance fake time by ``seconds`` and wake every waiter now due."""
        with self._lock:
            self._now += seconds
        self._fire()

    def set_time(self, now: float) -> None:
        """Jump to monotonic reading ``now`` and wake every waiter now due."""
        with self._lock:
            self._now = now
        self._fire()

    def has_waiters(self) -> bool:
        """True while some thread is blocked on this clock with a deadline."""
        with self._lock:
            return any(w[0] is not None for w in self._waiters)

    def waiter_count(self) -> int:
        with self._lock:
            return sum(1 for w in self._waiters if w[0] is not None)

    def _fire(self) -> None:
        with self._lock:
            due = [w for w in self._waiters if w[0] is not None and w[0] <= self._now]
            self._lock.notify_all()
        for waiter in due:
            cond = waiter[1]
            if cond is not None:
                with cond:
                    cond.notify_all()

    # -- blocking -------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        with self._lock:
            deadline = self._now + seconds
            waiter = [deadline, None]
            self._waiters.append(waiter)
            try:
                while self._now < deadline:
                    self._lock.wait()
            finally:
                self._waiters.remove(waiter)

    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        with self._lock:
            deadline = None if timeout is None else self._now + timeout
            if deadline is not None and deadline <= self._now:
                return
            waiter = [deadline, cond]
            self._waiters.append(waiter)
        try:
            # Woken by the code's own notify() or by _fire() once due.
            cond.wait()
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def wait_event(self, event: threading.Event, timeout: float | None) -> bool:
        with self._lock:
            deadline = None if timeout is None else self._now + timeout
            waiter = [deadline, None]
            self._waiters.append(waiter)
            try:
                while not event.is_set():
                    if deadline is not None and self._now >= deadline:
                        break
                    self._lock.wait(_EVENT_POLL_SECONDS)
            finally:
                self._waiters.remove(waiter)
        return event.is_set()

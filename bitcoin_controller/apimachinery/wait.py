"""Periodic loops and backoff, mirroring ``k8s.io/apimachinery/pkg/util/wait``.

Go controllers are built from a handful of loop shapes:

* :func:`until` / :func:`jitter_until` -- call ``fn`` every ``period`` until
  stopped (worker threads, the informer's process loop);
* :func:`backoff_until` -- call ``fn`` again after a delay chosen by a
  :class:`BackoffManager` (the reflector's list-and-watch loop);
* :func:`poll_until` -- call a condition until it is true, the deadline
  passes, or the stop signal fires (``WaitForCacheSync``, leader election);
* :func:`exponential_backoff` -- retry with a :class:`Backoff` a bounded
  number of times (``retry.RetryOnConflict``).

Go passes a ``stopCh``/``context``; here the stop signal is a
:class:`threading.Event`.  Every wait goes through an injected
:class:`~bitcoin_controller.utils.clock.Clock`, so tests drive time with a
``FakeClock`` rather than sleeping.

:func:`after_func` is the Python stand-in for ``context.AfterFunc``: it runs
a callback when a stop event is set.  It exists because a thread blocked in
something that is not a clock wait (reading a watch stream, an HTTP call)
can only be woken by someone *else* acting when the stop signal fires.
"""

from __future__ import annotations

import logging
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from ..utils.clock import REAL_CLOCK, Clock

__all__ = [
    "WaitTimeoutError",
    "jitter",
    "Backoff",
    "BackoffManager",
    "ExponentialBackoffManager",
    "JitteredBackoffManager",
    "until",
    "forever",
    "jitter_until",
    "backoff_until",
    "poll_until",
    "poll_immediate_until",
    "exponential_backoff",
    "after_func",
]

log = logging.getLogger(__name__)


class WaitTimeoutError(TimeoutError):
    """``wait.ErrWaitTimeout``: a poll or a bounded backoff gave up.

    Python code mostly learns about timeouts through return values
    (:func:`poll_until` returns ``False``); this is raised by
    :func:`exponential_backoff`, whose Go counterpart returns the error.
    """

    def __init__(self, message: str = "timed out waiting for the condition") -> None:
        super().__init__(message)


def jitter(duration: float, max_factor: float, rand: Callable[[], float] = random.random) -> float:
    """``wait.Jitter``: a duration uniformly in ``[duration, duration * (1 + max_factor))``.

    Jitter spreads out retries of many clients that failed at the same
    moment, so they do not hammer the API server in lock step.  A
    non-positive factor means 1.0, as in Go.
    """
    if max_factor <= 0.0:
        max_factor = 1.0
    return duration + rand() * max_factor * duration


@dataclass
class Backoff:
    """``wait.Backoff``: a stateful sequence of growing delays.

    Each :meth:`step` returns the current delay (jittered) and grows the
    next one by ``factor``, up to ``cap``.  Once ``steps`` are used up, or
    the cap has been reached, every further step returns the last delay:
    the sequence never errors, it just stops growing.
    """

    duration: float = 0.0
    factor: float = 0.0
    jitter: float = 0.0
    steps: int = 0
    cap: float = 0.0

    def step(self, rand: Callable[[], float] = random.random) -> float:
        """Return the next delay and advance (``Backoff.Step``)."""
        if self.steps < 1:
            return jitter(self.duration, self.jitter, rand) if self.jitter > 0 else self.duration
        self.steps -= 1
        current = self.duration
        if self.factor != 0:
            self.duration = self.duration * self.factor
            if self.cap > 0 and self.duration > self.cap:
                # Capped: freeze here.  Zero steps makes later calls return the cap.
                self.duration = self.cap
                self.steps = 0
        return jitter(current, self.jitter, rand) if self.jitter > 0 else current


class BackoffManager(ABC):
    """``wait.BackoffManager``: hands out the delay before the next attempt.

    Go returns a ``clock.Timer``; Python returns the delay in seconds and the
    caller waits on the clock with its stop event, which is what every Go
    caller does with the timer anyway.
    """

    @abstractmethod
    def backoff(self) -> float:
        """The delay, in seconds, before the next attempt."""


# The reflector's step count: so large that the sequence is only ever ended by the cap.
_UNLIMITED_STEPS = 2**31 - 1


class ExponentialBackoffManager(BackoffManager):
    """``wait.NewExponentialBackoffManager`` -- the classic reflector backoff.

    Base delays double from ``initial`` (0.8 s, 1.6 s, 3.2 s, ...) until
    ``max`` (30 s), then stay there.  Each returned delay is jittered to
    ``[d, d * (1 + jitter))``: with jitter 1.0, ``[0.8, 1.6)`` first and
    ``[30, 60)`` once capped.  If more than ``reset_after`` seconds (2 min)
    passed since the previous call, the sequence starts again at ``initial``:
    a reflector that has been healthy for a while should retry quickly after
    a fresh failure, while one failing continuously backs off to the cap.

    The reset window is measured between consecutive :meth:`backoff` calls
    (classic client-go); client-go v0.36+ (``Backoff.DelayWithReset``)
    measures it from the last reset instead.
    """

    def __init__(
        self,
        initial: float = 0.8,
        max: float = 30.0,  # noqa: A002 -- Go's parameter name, kept for recognisability
        reset_after: float = 120.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        clock: Clock = REAL_CLOCK,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._initial = initial
        self._max = max
        self._reset_after = reset_after
        self._factor = factor
        self._jitter = jitter
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()
        self._backoff = self._fresh()
        # Go starts the reset window at construction time.
        self._last_backoff_start = clock.now()

    def _fresh(self) -> Backoff:
        return Backoff(
            duration=self._initial,
            factor=self._factor,
            jitter=self._jitter,
            steps=_UNLIMITED_STEPS,
            cap=self._max,
        )

    def backoff(self) -> float:
        with self._lock:
            now = self._clock.now()
            if now - self._last_backoff_start > self._reset_after:
                self._backoff = self._fresh()
            self._last_backoff_start = now
            return self._backoff.step(self._rand)


class JitteredBackoffManager(BackoffManager):
    """``wait.NewJitteredBackoffManager``: a fixed period, optionally jittered.

    This is what turns :func:`jitter_until` into a :func:`backoff_until`.
    """

    def __init__(
        self, duration: float, jitter_factor: float, rand: Callable[[], float] = random.random
    ) -> None:
        self._duration = duration
        self._jitter_factor = jitter_factor
        self._rand = rand

    def backoff(self) -> float:
        if self._jitter_factor > 0.0:
            return jitter(self._duration, self._jitter_factor, self._rand)
        return self._duration


def _call_guarded(fn: Callable[[], object]) -> None:
    # Go wraps each call in runtime.HandleCrash, which by default re-panics and
    # kills the process.  A Python thread that dies silently is worse than
    # either, so we log the exception and let the loop carry on (the
    # behaviour Go has with ReallyCrash=false).
    try:
        fn()
    except Exception:
        log.exception("unhandled exception in a wait loop; continuing")


def backoff_until(
    fn: Callable[[], object],
    backoff_manager: BackoffManager,
    sliding: bool,
    stop_event: threading.Event,
    clock: Clock = REAL_CLOCK,
) -> None:
    """``wait.BackoffUntil``: call ``fn`` repeatedly, waiting a backoff delay between calls.

    With ``sliding=True`` the delay is taken *after* ``fn`` returns, so it
    separates the end of one call from the start of the next (the reflector
    uses this: a long watch must not eat its own retry delay).  With
    ``sliding=False`` the delay is taken before the call and so includes
    the call's own duration.  Returns once ``stop_event`` is set; a call in
    progress is never interrupted, only the wait is.
    """
    while not stop_event.is_set():
        delay = 0.0
        if not sliding:
            delay = backoff_manager.backoff()
        _call_guarded(fn)
        if sliding:
            delay = backoff_manager.backoff()
        if clock.wait_event(stop_event, delay):
            return


def jitter_until(
    fn: Callable[[], object],
    period: float,
    jitter_factor: float,
    sliding: bool,
    stop_event: threading.Event,
    clock: Clock = REAL_CLOCK,
) -> None:
    """``wait.JitterUntil``: call ``fn`` every ``period`` (jittered) until stopped."""
    backoff_until(fn, JitteredBackoffManager(period, jitter_factor), sliding, stop_event, clock)


def until(
    fn: Callable[[], object],
    period: float,
    stop_event: threading.Event,
    clock: Clock = REAL_CLOCK,
) -> None:
    """``wait.Until``: call ``fn`` every ``period`` seconds, measured from the end of each call.

    The canonical shape of a worker thread: if ``fn`` returns (or raises)
    it is restarted after ``period``, so a transient failure does not leave
    a controller without workers.
    """
    jitter_until(fn, period, 0.0, True, stop_event, clock)


def forever(fn: Callable[[], object], period: float, clock: Clock = REAL_CLOCK) -> None:
    """``wait.Forever``: :func:`until` with a stop signal that never fires."""
    until(fn, period, threading.Event(), clock)


def poll_until(
    condition: Callable[[], bool],
    interval: float,
    stop_event: threading.Event | None = None,
    *,
    timeout: float | None = None,
    immediate: bool = False,
    clock: Clock = REAL_CLOCK,
) -> bool:
    """``wait.PollUntilContextTimeout`` / ``PollUntil``: wait until ``condition()`` is true.

    Checks every ``interval`` seconds (first check at once when
    ``immediate``).  Returns ``True`` as soon as the condition holds, and
    ``False`` when ``stop_event`` fires or ``timeout`` seconds pass first --
    Go returns ``ErrWaitTimeout`` / the context's error there.  An exception
    raised by the condition propagates, as Go returns the condition's error.
    """
    stop_event = stop_event if stop_event is not None else threading.Event()
    deadline = None if timeout is None else clock.now() + timeout
    if immediate and condition():
        return True
    while True:
        if deadline is not None:
            remaining = deadline - clock.now()
            if remaining < interval:
                # The deadline comes before the next tick: give up when it does.
                clock.wait_event(stop_event, max(remaining, 0.0))
                return False
        if clock.wait_event(stop_event, interval):
            return False
        if condition():
            return True


def poll_immediate_until(
    condition: Callable[[], bool],
    interval: float,
    stop_event: threading.Event,
    clock: Clock = REAL_CLOCK,
) -> bool:
    """``wait.PollImmediateUntil``: :func:`poll_until` checking once before the first wait."""
    return poll_until(condition, interval, stop_event, immediate=True, clock=clock)


def exponential_backoff(
    backoff: Backoff,
    condition: Callable[[], bool],
    stop_event: threading.Event | None = None,
    clock: Clock = REAL_CLOCK,
) -> None:
    """``wait.ExponentialBackoff``: try ``condition`` up to ``backoff.steps`` times.

    Sleeps ``backoff.step()`` between attempts.  Returns when the condition
    is true; raises :class:`WaitTimeoutError` when the steps run out (or the
    stop event fires).  Exceptions from the condition propagate.
    """
    stop_event = stop_event if stop_event is not None else threading.Event()
    while backoff.steps > 0:
        if condition():
            return
        if backoff.steps == 1:
            break
        if clock.wait_event(stop_event, backoff.step()):
            break
    raise WaitTimeoutError()


class _StopWatcher:
    """One daemon thread per stop event that runs callbacks when the event is set."""

    def __init__(self, stop_event: threading.Event) -> None:
        self._stop_event = stop_event
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._next_id = 0
        self._fired = False
        thread = threading.Thread(target=self._run, name="stop-watcher", daemon=True)
        thread.start()

    def register(self, fn: Callable[[], object]) -> Callable[[], bool]:
        with self._lock:
            if not self._fired:
                ident = self._next_id
                self._next_id += 1
                self._callbacks[ident] = fn

                def cancel() -> bool:
                    with self._lock:
                        return self._callbacks.pop(ident, None) is not None

                return cancel
        # Already fired: run now, like context.AfterFunc on a done context.
        _call_guarded(fn)
        return lambda: False

    def _run(self) -> None:
        self._stop_event.wait()
        with self._lock:
            self._fired = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        with _watchers_lock:
            if _watchers.get(id(self._stop_event)) is self:
                del _watchers[id(self._stop_event)]
        for fn in callbacks:
            _call_guarded(fn)


_watchers_lock = threading.Lock()
_watchers: dict[int, _StopWatcher] = {}


def after_func(stop_event: threading.Event, fn: Callable[[], object]) -> Callable[[], bool]:
    """Run ``fn`` (in another thread) once ``stop_event`` is set -- Go's ``context.AfterFunc``.

    Returns a ``cancel()`` function; it returns ``True`` if it prevented
    ``fn`` from running.  If the event is already set, ``fn`` runs at once in
    the calling thread.

    This is how the machinery stops things that block outside a clock wait,
    e.g. a thread iterating a watch stream: the callback calls the watch's
    ``stop()``.  Each distinct stop event costs one daemon thread until it is
    set (Go spends a goroutine per context the same way), so share one
    stop event per component rather than creating one per call.
    """
    if stop_event.is_set():
        _call_guarded(fn)
        return lambda: False
    with _watchers_lock:
        watcher = _watchers.get(id(stop_event))
        if watcher is None or watcher._stop_event is not stop_event:
            watcher = _StopWatcher(stop_event)
            _watchers[id(stop_event)] = watcher
    return watcher.register(fn)

"""Leader election on a Lease (client-go ``tools/leaderelection/leaderelection.go``).

Several replicas of a controller run for availability, but only one may
act at a time.  They agree through one lock object in the API server (see
:mod:`.resourcelock`):

* **Acquire** -- a candidate reads the lock.  If nobody holds it, or the
  holder has not renewed it for a whole lease duration, the candidate
  writes itself in as holder.  The write carries the resourceVersion it
  read, so of two candidates racing only one write succeeds (the other
  gets 409 Conflict).  Attempts are spaced ``retry_period`` plus jitter
  apart, so candidates do not retry in lock-step.
* **Renew** -- the leader rewrites the lock about every ``retry_period``.
  If it cannot succeed for ``renew_deadline`` it stops leading: its stop
  event is set and its work must end.
* **Expiry is measured on the follower's own clock.**  A follower never
  compares the lock's ``renewTime`` with its clock (clocks of different
  machines disagree).  It notes *when it saw* the record change
  (``observed_time``) and considers the lease expired only once it has seen
  the same record for ``lease_duration``.  Because ``renew_deadline`` <
  ``lease_duration``, the old leader has given up before anyone may take
  over: never two leaders.

Baseline is classic client-go (v0.31/v0.32).  Later client-go adds
coordinated leader election (``strategy``/``preferredHolder``, alpha) and
makes ``release`` re-read the lease first; neither is mirrored.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ....apimachinery.errors import NotFoundError
from ....utils.clock import REAL_CLOCK, Clock
from . import metrics
from .healthzadaptor import HealthzAdaptor
from .resourcelock import Interface as LockInterface
from .resourcelock import LeaderElectionRecord

__all__ = [
    "JITTER_FACTOR",
    "LeaderCallbacks",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeaderWorkError",
    "LeaseNotRenewedError",
    "new_leader_elector",
    "run_or_die",
]

_log = logging.getLogger(__name__)

#: ``JitterFactor``: acquire attempts are spaced uniformly in [retry, (1 + 1.2) * retry).
JITTER_FACTOR = 1.2

# Durations below one nanosecond are "zero" in Go's time.Duration.
_NANOSECOND = 1e-9


@dataclass
class LeaderCallbacks:
    """``LeaderCallbacks``: what to do when leadership starts, ends or moves.

    * ``on_started_leading(stop_event)`` runs on a new thread once this
      candidate leads; ``stop_event`` is set when leadership ends, and the
      work must stop then.  If it raises, leadership is given up and
      :meth:`LeaderElector.run` raises :class:`LeaderWorkError` once it has
      cleaned up: a crash of the work is a crash, not a lost lease.
    * ``on_stopped_leading()`` runs when :meth:`LeaderElector.run` returns,
      always -- even if this candidate never led.
    * ``on_new_leader(identity)`` (optional) runs on a new thread whenever
      the observed holder changes, including the first one seen; identity
      ``""`` means the lease was released.
    """

    on_started_leading: Callable[[threading.Event], None] | None = None
    on_stopped_leading: Callable[[], None] | None = None
    on_new_leader: Callable[[str], None] | None = None


@dataclass
class LeaderElectionConfig:
    """``LeaderElectionConfig``: durations in seconds; checked by :class:`LeaderElector`.

    The defaults are component-base's recommended 15/10/2 s (client-go
    itself has none).  ``release_on_cancel`` releases the lease when
    :meth:`LeaderElector.run` ends so a successor need not wait for it to
    expire; it is done only after the leader's work has returned.
    ``name`` labels metrics and health errors; ``clock`` drives every wait.
    """

    lock: LockInterface | None
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    callbacks: LeaderCallbacks = field(default_factory=LeaderCallbacks)
    release_on_cancel: bool = False
    name: str = ""
    clock: Clock = REAL_CLOCK
    watch_dog: HealthzAdaptor | None = None


class LeaseNotRenewedError(RuntimeError):
    """:meth:`LeaderElector.check` failed: this leader has not renewed for too long."""


class LeaderWorkError(RuntimeError):
    """``on_started_leading`` raised; the original exception is ``__cause__`` and :attr:`err`.

    In Go a panic in ``OnStartedLeading`` (which runs on its own goroutine)
    kills the process.  Here the elector stops leading, releases the lease
    if configured, calls ``on_stopped_leading``, and then raises this from
    :meth:`LeaderElector.run`, so the caller can tell a crash from a lease
    that was lost (``run`` returning normally while not asked to stop).
    """

    def __init__(self, err: BaseException) -> None:
        super().__init__(f"the leader's work failed: {type(err).__name__}: {err}")
        self.err = err


def _validate(config: LeaderElectionConfig) -> None:
    """The checks of Go's ``NewLeaderElector``, in the same order."""
    if config.lease_duration <= config.renew_deadline:
        raise ValueError("lease_duration must be greater than renew_deadline")
    if config.renew_deadline <= JITTER_FACTOR * config.retry_period:
        raise ValueError("renew_deadline must be greater than retry_period*JITTER_FACTOR")
    if config.lease_duration < _NANOSECOND:
        raise ValueError("lease_duration must be greater than zero")
    if config.renew_deadline < _NANOSECOND:
        raise ValueError("renew_deadline must be greater than zero")
    if config.retry_period < _NANOSECOND:
        raise ValueError("retry_period must be greater than zero")
    if config.callbacks.on_started_leading is None:
        raise ValueError("on_started_leading callback must not be None")
    if config.callbacks.on_stopped_leading is None:
        raise ValueError("on_stopped_leading callback must not be None")
    if config.lock is None:
        raise ValueError("lock must not be None")
    if not config.lock.identity():
        raise ValueError("lock identity is empty")


class LeaderElector:
    """``LeaderElector``: one candidate in one election.

    Raises :class:`ValueError` for an invalid configuration.  Call
    :meth:`run` once, on a thread of its own; it returns when ``stop`` is
    set or leadership is lost.
    """

    def __init__(self, config: LeaderElectionConfig) -> None:
        _validate(config)
        self._config = config
        self._lock: LockInterface = config.lock  # type: ignore[assignment]  # checked above
        self._clock = config.clock
        #: Picks the acquire jitter; tests may pin it.
        self.rand: Callable[[], float] = random.random
        self._state = threading.Lock()
        # The record as last seen or written, and when (on our clock) it was
        # seen to change: the follower's side of "expiry on our own clock".
        self._observed_record = LeaderElectionRecord()
        self._observed_raw = b""
        self._observed_time = float("-inf")
        # When the last successful acquire/renew *started*: the lease we wrote
        # cannot have been seen by others before that instant.
        self._renewed_at = float("-inf")
        self._reported_leader = ""
        self._work_error: BaseException | None = None
        metrics.leader_off(config.name)

    @property
    def work_error(self) -> BaseException | None:
        """What ``on_started_leading`` raised in the last term, or ``None``.

        Already set when ``on_stopped_leading`` runs, so that callback can
        tell "my work crashed" from "I lost the lease".
        """
        with self._state:
            return self._work_error

    # -- observation ----------------------------------------------------------
    def get_leader(self) -> str:
        """``GetLeader``: the holder last observed ("" if none yet)."""
        with self._state:
            return self._observed_record.holder_identity

    def is_leader(self) -> bool:
        """``IsLeader``: the holder last observed is this candidate.

        This is what the lock said, not a promise: a leader that lost its
        lease still "is leader" until it reads the lock again.  Work must be
        guarded by the stop event of ``on_started_leading``, not by this.
        """
        return self.get_leader() == self._lock.identity()

    def get_observed_record(self) -> LeaderElectionRecord:
        """A copy of the record last observed."""
        with self._state:
            return LeaderElectionRecord(**vars(self._observed_record))

    def _set_observed_record(self, record: LeaderElectionRecord) -> None:
        with self._state:
            self._observed_record = record
            self._observed_time = self._clock.now()

    def _is_lease_valid(self, now: float) -> bool:
        # Valid while the record has been unchanged for less than the duration
        # its holder promised -- measured from when *we* saw it change.
        with self._state:
            return self._observed_time + self._observed_record.lease_duration_seconds > now

    # -- the decision ---------------------------------------------------------
    def try_acquire_or_renew(self) -> bool:
        """``tryAcquireOrRenew``: one attempt to become or stay leader; True on success.

        1. Fast path: if we lead and our lease is still valid, write the
           renewal straight over the cached lease.
        2. Otherwise read the lock; create it if it does not exist.
        3. Note the record (and the time) if it changed since last seen.
        4. Held by someone else and not expired: give up for now.
        5. Write ourselves in -- keeping ``acquire_time`` and the transition
           count if we already held it, else counting one more transition.
           A 409 Conflict means someone else won the race.
        """
        now = self._clock.now()
        wall = self._clock.wall()
        identity = self._lock.identity()
        desired = LeaderElectionRecord(
            holder_identity=identity,
            lease_duration_seconds=int(self._config.lease_duration),
            acquire_time=wall,
            renew_time=wall,
        )

        # 1. Fast path: optimistic renewal on the lease we last read or wrote.
        if self.is_leader() and self._is_lease_valid(now):
            old = self.get_observed_record()
            desired.acquire_time = old.acquire_time
            desired.leader_transitions = old.leader_transitions
            try:
                self._lock.update(desired)
            except Exception as err:  # any failure: read the lock and decide again
                _log.error("Failed to update lock optimistically: %s, falling back to slow path",
                           err)
            else:
                self._succeeded(desired, now)
                return True

        # 2. Read the lock, or create it.
        try:
            old_record, old_raw = self._lock.get()
        except NotFoundError:
            try:
                self._lock.create(desired)
            except Exception as err:
                _log.error("error initially creating leader election record: %s", err)
                return False
            self._succeeded(desired, now)
            return True
        except Exception as err:
            _log.error("error retrieving resource lock %s: %s", self._lock.describe(), err)
            return False

        # 3. Restart the expiry clock whenever the record changes.
        with self._state:
            changed = old_raw != self._observed_raw
            if changed:
                self._observed_raw = old_raw
        if changed:
            self._set_observed_record(old_record)

        # 4. Someone else holds a lease that has not expired.
        if old_record.holder_identity and self._is_lease_valid(now) and not self.is_leader():
            _log.debug("lock is held by %s and has not yet expired", old_record.holder_identity)
            return False

        # 5. Take or keep the lock.
        if self.is_leader():
            desired.acquire_time = old_record.acquire_time
            desired.leader_transitions = old_record.leader_transitions
            metrics.slowpath_exercised(self._config.name)
        else:
            desired.leader_transitions = old_record.leader_transitions + 1
        try:
            self._lock.update(desired)
        except Exception as err:
            _log.error("Failed to update lock: %s", err)
            return False
        self._succeeded(desired, now)
        return True

    def _succeeded(self, record: LeaderElectionRecord, started: float) -> None:
        self._set_observed_record(record)
        with self._state:
            self._renewed_at = started

    def _maybe_report_transition(self) -> None:
        with self._state:
            holder = self._observed_record.holder_identity
            if holder == self._reported_leader:
                return
            self._reported_leader = holder
        on_new_leader = self._config.callbacks.on_new_leader
        if on_new_leader is not None:
            threading.Thread(
                target=on_new_leader, args=(holder,), name="leader-election-new-leader", daemon=True
            ).start()

    # -- the loops ------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """``Run``: acquire, lead until ``stop`` is set or the lease is lost, then clean up.

        ``on_stopped_leading`` is called on the way out in every case.  If
        the leader's work raised, :class:`LeaderWorkError` is raised after
        that.
        """
        leader_stop = threading.Event()
        try:
            if not self._acquire(stop):
                return  # stopped before we ever led
            self._lead(stop, leader_stop)
        finally:
            leader_stop.set()
            on_stopped = self._config.callbacks.on_stopped_leading
            if on_stopped is not None:
                on_stopped()
        err = self.work_error
        if err is not None:
            raise LeaderWorkError(err) from err

    def _acquire(self, stop: threading.Event) -> bool:
        """``acquire``: try until we lead (True) or ``stop`` is set (False)."""
        description = self._lock.describe()
        _log.info("attempting to acquire leader lease %s...", description)
        retry = self._config.retry_period
        while not stop.is_set():
            succeeded = self.try_acquire_or_renew()
            self._maybe_report_transition()
            if succeeded:
                self._lock.record_event("became leader")
                metrics.leader_on(self._config.name)
                _log.info("successfully acquired lease %s", description)
                return True
            _log.debug("failed to acquire lease %s", description)
            # Uniform in [retry, (1 + JITTER_FACTOR) * retry): candidates drift apart.
            if self._clock.wait_event(stop, retry + self.rand() * JITTER_FACTOR * retry):
                break
        return False

    def _lead(self, stop: threading.Event, leader_stop: threading.Event) -> None:
        config = self._config
        worker = threading.Thread(
            target=self._run_leader_work, args=(leader_stop,),
            name="leader-election-work", daemon=True,
        )
        watchdog = threading.Thread(
            target=self._watch_lease, args=(leader_stop,),
            name="leader-election-watchdog", daemon=True,
        )
        worker.start()
        watchdog.start()
        try:
            self._renew(stop, leader_stop)
        finally:
            # Leadership is over: the work stops before the lease can pass on.
            leader_stop.set()
            metrics.leader_off(config.name)
        if config.release_on_cancel:
            # Releasing lets a successor start at once, so the work must be
            # finished first; if it does not finish, let the lease expire instead.
            worker.join(config.renew_deadline)
            if worker.is_alive():
                _log.error("leader work did not stop within %ss; not releasing lease %s",
                           config.renew_deadline, self._lock.describe())
            else:
                self.release()
        self._lock.record_event("stopped leading")

    def _run_leader_work(self, leader_stop: threading.Event) -> None:
        try:
            self._config.callbacks.on_started_leading(leader_stop)  # type: ignore[misc]
        except Exception as err:
            _log.exception("on_started_leading failed; giving up leadership")
            # Recorded before leader_stop is set: whoever sees leadership end
            # (the renew loop, then on_stopped_leading) also sees why.
            with self._state:
                self._work_error = err
            leader_stop.set()

    def _renew(self, stop: threading.Event, leader_stop: threading.Event) -> None:
        """``renew``: keep renewing every ``retry_period`` until a renewal round fails."""
        description = self._lock.describe()
        while not stop.is_set() and not leader_stop.is_set():
            renewed = self._renew_within_deadline(stop, leader_stop)
            self._maybe_report_transition()
            if not renewed:
                if not stop.is_set():
                    _log.info("failed to renew lease %s within %ss", description,
                              self._config.renew_deadline)
                return
            _log.debug("successfully renewed lease %s", description)
            if self._clock.wait_event(stop, self._config.retry_period):
                return

    def _renew_within_deadline(self, stop: threading.Event, leader_stop: threading.Event) -> bool:
        """One renewal round: retry every ``retry_period`` until success or ``renew_deadline``."""
        config = self._config
        deadline = self._clock.now() + config.renew_deadline
        while not stop.is_set() and not leader_stop.is_set():
            if self.try_acquire_or_renew():
                return True
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                return False
            self._clock.wait_event(stop, min(config.retry_period, remaining))
            if self._clock.now() >= deadline:
                return False
        return False

    def _watch_lease(self, leader_stop: threading.Event) -> None:
        """Set ``leader_stop`` once our last successful renewal is too old.

        The renew loop gives up after the same time, but it can be stuck in
        a slow API call; this thread cannot, so the work stops on time even
        then.  The budget counts from when the last successful attempt
        started, capped at the lease duration: others can only take over
        ``lease_duration`` after seeing that write, which is later still.
        """
        config = self._config
        budget = min(config.retry_period + config.renew_deadline, config.lease_duration)
        while not leader_stop.is_set():
            with self._state:
                deadline = self._renewed_at + budget
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                _log.error("lease %s not renewed in time; stopping the leader's work",
                           self._lock.describe())
                leader_stop.set()
                return
            self._clock.wait_event(leader_stop, remaining)

    def release(self) -> bool:
        """``release``: hand the lease back (holder "" and a 1 s duration) if we hold it.

        Followers see the empty holder and may acquire at once.  Written over
        the cached lease, so if someone else has taken it meanwhile the write
        fails with a Conflict instead of clobbering them.
        """
        if not self.is_leader():
            return True
        wall = self._clock.wall()
        record = LeaderElectionRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=wall,
            renew_time=wall,
            leader_transitions=self.get_observed_record().leader_transitions,
        )
        try:
            self._lock.update(record)
        except Exception as err:
            _log.error("Failed to release lock: %s", err)
            return False
        self._set_observed_record(record)
        return True

    # -- health ---------------------------------------------------------------
    def check(self, max_tolerable_expired_lease: float) -> None:
        """``Check``: raise :class:`LeaseNotRenewedError` if we lead but have not renewed
        for ``lease_duration + max_tolerable_expired_lease`` seconds.

        A healthy leader renews every ``retry_period`` or stops leading; one
        that does neither is stuck and should be restarted.  Followers pass.
        """
        if not self.is_leader():
            return
        with self._state:
            observed_time = self._observed_time
        tolerated = self._config.lease_duration + max_tolerable_expired_lease
        if self._clock.since(observed_time) > tolerated:
            raise LeaseNotRenewedError(
                f"failed election to renew leadership on lease {self._config.name}"
            )


def new_leader_elector(config: LeaderElectionConfig) -> LeaderElector:
    """``NewLeaderElector``: validate ``config`` (``ValueError``) and build the elector."""
    return LeaderElector(config)


def run_or_die(config: LeaderElectionConfig, stop: threading.Event) -> None:
    """``RunOrDie``: build the elector (an invalid config raises) and run it until ``stop``."""
    elector = LeaderElector(config)
    if config.watch_dog is not None:
        config.watch_dog.set_leader_election(elector)
    elector.run(stop)

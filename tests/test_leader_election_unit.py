"""Unit tests of leader election (client-go ``tools/leaderelection`` and ``resourcelock``),
on the fake clientset and a fake clock."""

from __future__ import annotations

import datetime
import json
import random
import threading
from typing import Any

import pytest
from waiting import wait_for

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.apimachinery.metav1 import format_micro_time
from bitcoin_controller.clientgo.kubernetes import fake
from bitcoin_controller.clientgo.kubernetes.scheme import SCHEME
from bitcoin_controller.clientgo.testing.fixture import ObjectTracker
from bitcoin_controller.clientgo.tools.leaderelection import (
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    LeaderWorkError,
    LeaseLock,
    LeaseNotRenewedError,
    new_leader_healthz_adaptor,
    resourcelock,
    run_or_die,
)
from bitcoin_controller.clientgo.tools.record import EventRecorder
from bitcoin_controller.componentbase.metrics.legacyregistry import REGISTRY
from bitcoin_controller.utils.clock import FakeClock

pytestmark = pytest.mark.timeout(60)

DEADLINE = 5.0  # real seconds a condition may take before the test fails
NS, NAME = "bitcoin-system", "bitcoin-controller"
WALL = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def micro(seconds_after_wall_start: float) -> str:
    return format_micro_time(WALL + datetime.timedelta(seconds=seconds_after_wall_start))



class ListRecorder(EventRecorder):
    """Remembers event messages in order, synchronously."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def event(self, obj: Any, event_type: str, reason: str, message: str) -> None:
        assert obj["kind"] == "Lease" and event_type == "Normal" and reason == "LeaderElection"
        with self._lock:
            self.messages.append(message)

    def annotated_eventf(self, obj, annotations, event_type, reason, message_fmt, *args) -> None:
        self.event(obj, event_type, reason, message_fmt % args if args else message_fmt)

    def count(self, message: str) -> int:
        with self._lock:
            return self.messages.count(message)


def lease(holder: str, *, rv: str = "5", transitions: int = 3, duration: int = 15) -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NAME, "namespace": NS, "resourceVersion": rv},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": "2000-01-01T00:00:00.000000Z",  # far in the past on purpose
            "renewTime": "2000-01-01T00:00:00.000000Z",
            "leaseTransitions": transitions,
        },
    }


def stored_spec(cs: fake.Clientset) -> dict:
    return cs.coordination_v1().leases(NS).get(NAME)["spec"]


def noop_callbacks(**kw: Any) -> LeaderCallbacks:
    return LeaderCallbacks(
        on_started_leading=kw.get("started", lambda stop: None),
        on_stopped_leading=kw.get("stopped", lambda: None),
        on_new_leader=kw.get("new_leader"),
    )


def elector_for(
    identity: str, cs: fake.Clientset, clock: FakeClock, **config: Any
) -> LeaderElector:
    recorder = config.pop("recorder", None)
    callbacks = config.pop("callbacks", None) or noop_callbacks()
    lock = LeaseLock(NS, NAME, cs, identity, event_recorder=recorder)
    return LeaderElector(LeaderElectionConfig(lock, callbacks=callbacks, clock=clock, **config))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0, wall_start=WALL)


# -- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lease_duration": 10.0}, "lease_duration must be greater than renew_deadline"),
        ({"renew_deadline": 2.4}, r"renew_deadline must be greater than retry_period\*JITTER"),
        ({"lease_duration": 0.0, "renew_deadline": -1.0, "retry_period": -1.0},
         "lease_duration must be greater than zero"),
        ({"renew_deadline": 0.0, "retry_period": -1.0}, "renew_deadline must be greater than zero"),
        ({"retry_period": 0.0}, "retry_period must be greater than zero"),
        ({"callbacks": LeaderCallbacks(on_stopped_leading=lambda: None)},
         "on_started_leading callback must not be None"),
        ({"callbacks": LeaderCallbacks(on_started_leading=lambda s: None)},
         "on_stopped_leading callback must not be None"),
    ],
)
def test_invalid_configuration_is_rejected_unit(clock, changes, message) -> None:
    lock = LeaseLock(NS, NAME, fake.Clientset(), "a")
    settings: dict[str, Any] = {"callbacks": noop_callbacks(), "clock": clock, **changes}
    with pytest.raises(ValueError, match=message):
        LeaderElector(LeaderElectionConfig(lock, **settings))
    with pytest.raises(ValueError, match=message):
        run_or_die(LeaderElectionConfig(lock, **settings), threading.Event())


def test_lock_and_identity_are_required_unit(clock) -> None:
    with pytest.raises(ValueError, match="lock must not be None"):
        LeaderElector(LeaderElectionConfig(None, callbacks=noop_callbacks(), clock=clock))
    with pytest.raises(ValueError, match="lock identity is empty"):
        LeaderElector(LeaderElectionConfig(LeaseLock(NS, NAME, fake.Clientset(), ""),
                                           callbacks=noop_callbacks(), clock=clock))


def test_recommended_defaults_are_valid_unit(clock) -> None:
    config = LeaderElectionConfig(LeaseLock(NS, NAME, fake.Clientset(), "a"),
                                  callbacks=noop_callbacks())
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15, 10, 2)
    LeaderElector(config)  # no error


# -- tryAcquireOrRenew decision table -----------------------------------------------


def test_acquire_creates_the_lease_when_not_found_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    le = elector_for("a", cs, clock)
    assert le.try_acquire_or_renew()
    assert [(a.verb, a.resource.resource) for a in cs.actions()] == [
        ("get", "leases"), ("create", "leases"),
    ]
    spec = stored_spec(cs)
    assert spec == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "leaseTransitions": 0,
        "acquireTime": micro(0),
        "renewTime": micro(0),
    }
    assert le.is_leader() and le.get_leader() == "a"


def test_held_and_valid_lease_is_not_taken_measured_on_our_clock_unit(clock) -> None:
    cs = fake.Clientset(lease("b"), clock=clock)
    le = elector_for("a", cs, clock)
    # renewTime is from the year 2000, yet the lease counts as fresh: expiry runs
    # from when *we* first saw this record, not from the holder's timestamps.
    assert not le.try_acquire_or_renew()
    clock.step(14.9)
    assert not le.try_acquire_or_renew()
    assert le.get_leader() == "b" and not le.is_leader()
    assert stored_spec(cs)["holderIdentity"] == "b"
    assert all(a.verb == "get" for a in cs.actions())


def test_expired_lease_is_taken_over_with_transitions_plus_one_unit(clock) -> None:
    cs = fake.Clientset(lease("b", transitions=3), clock=clock)
    le = elector_for("a", cs, clock)
    assert not le.try_acquire_or_renew()
    clock.step(15)  # b's promised 15 s have passed on our clock without a change
    assert le.try_acquire_or_renew()
    spec = stored_spec(cs)
    assert spec["holderIdentity"] == "a"
    assert spec["leaseTransitions"] == 4
    assert spec["acquireTime"] == spec["renewTime"] == micro(15)
    assert le.is_leader()


def test_a_renewal_by_the_holder_restarts_the_expiry_clock_unit(clock) -> None:
    cs = fake.Clientset(lease("b"), clock=clock)
    le = elector_for("a", cs, clock)
    assert not le.try_acquire_or_renew()
    clock.step(10)
    renewed = cs.coordination_v1().leases(NS).get(NAME)
    renewed["spec"]["renewTime"] = micro(10)
    cs.coordination_v1().leases(NS).update(renewed)
    assert not le.try_acquire_or_renew()  # sees the change at t=10
    clock.step(14.9)
    assert not le.try_acquire_or_renew()
    clock.step(0.1)
    assert le.try_acquire_or_renew()


def test_empty_holder_can_be_taken_at_once_unit(clock) -> None:
    cs = fake.Clientset(lease("", transitions=7), clock=clock)
    le = elector_for("a", cs, clock)
    assert le.try_acquire_or_renew()
    assert stored_spec(cs)["leaseTransitions"] == 8


def test_same_holder_keeps_acquire_time_and_transitions_unit(clock) -> None:
    cs = fake.Clientset(lease("b", transitions=2), clock=clock)
    le = elector_for("a", cs, clock)
    le.try_acquire_or_renew()
    clock.step(15)
    assert le.try_acquire_or_renew()  # acquired at t=15
    cs.clear_actions()
    clock.step(2)
    assert le.try_acquire_or_renew()  # fast path: a single update, no get
    assert [a.verb for a in cs.actions()] == ["update"]
    spec = stored_spec(cs)
    assert spec["acquireTime"] == micro(15)
    assert spec["renewTime"] == micro(17)
    assert spec["leaseTransitions"] == 3


def test_slow_path_after_a_failed_optimistic_update_keeps_acquire_time_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    le = elector_for("a", cs, clock, name="slowpath-test")
    assert le.try_acquire_or_renew()
    # Someone touches the lease (e.g. a label change): our cached resourceVersion is stale.
    current = cs.coordination_v1().leases(NS).get(NAME)
    current["metadata"]["labels"] = {"touched": "yes"}
    cs.coordination_v1().leases(NS).update(current)
    before = REGISTRY.get_sample_value("leader_election_slowpath_total",
                                       {"name": "slowpath-test"}) or 0.0
    cs.clear_actions()
    clock.step(2)
    assert le.try_acquire_or_renew()
    assert [a.verb for a in cs.actions()] == ["update", "get", "update"]  # conflict, re-read
    spec = stored_spec(cs)
    assert spec["acquireTime"] == micro(0) and spec["renewTime"] == micro(2)
    assert spec["leaseTransitions"] == 0
    after = REGISTRY.get_sample_value("leader_election_slowpath_total", {"name": "slowpath-test"})
    assert after == before + 1


def test_conflict_on_update_means_not_acquired_unit(clock) -> None:
    cs = fake.Clientset(lease("b"), clock=clock)
    cs.prepend_reactor(
        "update", "leases",
        lambda action: (True, None, errors.new_conflict("leases.coordination.k8s.io", NAME,
                                                        "the object has been modified")),
    )
    le = elector_for("a", cs, clock)
    le.try_acquire_or_renew()
    clock.step(16)
    assert not le.try_acquire_or_renew()
    assert not le.is_leader()
    assert stored_spec(cs)["holderIdentity"] == "b"


def test_get_errors_and_create_errors_mean_not_acquired_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    cs.prepend_reactor("create", "leases",
                       lambda action: (True, None, errors.new_already_exists("leases", NAME)))
    le = elector_for("a", cs, clock)
    assert not le.try_acquire_or_renew()
    broken = fake.Clientset(clock=clock)
    broken.prepend_reactor("get", "leases", lambda action: (True, None, ConnectionError("down")))
    assert not elector_for("a", broken, clock).try_acquire_or_renew()


def test_release_writes_an_empty_holder_with_duration_1_unit(clock) -> None:
    cs = fake.Clientset(lease("b", transitions=4), clock=clock)
    a = elector_for("a", cs, clock)
    a.try_acquire_or_renew()
    clock.step(15)
    assert a.try_acquire_or_renew()
    clock.step(3)
    assert a.release()
    spec = stored_spec(cs)
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 5  # unchanged by the release
    assert spec["acquireTime"] == spec["renewTime"] == micro(18)
    assert not a.is_leader()
    # A follower need not wait for expiry once the lease is released.
    b = elector_for("b", cs, clock)
    assert b.try_acquire_or_renew()
    assert stored_spec(cs)["leaseTransitions"] == 6


def test_release_by_a_non_leader_writes_nothing_unit(clock) -> None:
    cs = fake.Clientset(lease("b"), clock=clock)
    a = elector_for("a", cs, clock)
    a.try_acquire_or_renew()
    cs.clear_actions()
    assert a.release()
    assert cs.actions() == []


def test_check_reports_a_stuck_leader_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    le = elector_for("a", cs, clock, name="healthz")
    follower = elector_for("b", cs, clock)
    adaptor = new_leader_healthz_adaptor(20)
    adaptor.check()  # no elector bound yet: healthy
    adaptor.set_leader_election(le)
    le.try_acquire_or_renew()
    follower.try_acquire_or_renew()
    clock.step(35)
    le.check(20)  # exactly lease + tolerance: still tolerated
    adaptor.check()
    follower.check(0)  # followers are never unhealthy
    clock.step(0.5)
    with pytest.raises(LeaseNotRenewedError, match="healthz"):
        adaptor.check()
    assert adaptor.name() == "leaderElection"


# -- the Lease lock -------------------------------------------------------------------


def test_lease_lock_basics_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    recorder = ListRecorder()
    lock = LeaseLock(NS, NAME, cs, "a", event_recorder=recorder, labels={"app": "btc"})
    assert lock.describe() == f"{NS}/{NAME}" and lock.identity() == "a"
    with pytest.raises(RuntimeError, match="call get or create first"):
        lock.update(resourcelock.LeaderElectionRecord(holder_identity="a"))
    with pytest.raises(errors.NotFoundError):
        lock.get()
    record = resourcelock.LeaderElectionRecord(
        holder_identity="a", lease_duration_seconds=15, acquire_time=WALL, renew_time=WALL,
    )
    lock.create(record)
    got, raw = lock.get()
    assert got == record
    assert json.loads(raw) == {
        "holderIdentity": "a", "leaseDurationSeconds": 15,
        "acquireTime": "2026-01-01T00:00:00Z", "renewTime": "2026-01-01T00:00:00Z",
        "leaderTransitions": 0, "strategy": "", "preferredHolder": "",
    }
    assert lock.get()[1] == raw  # same record, same bytes
    lock.update(resourcelock.LeaderElectionRecord(holder_identity="a", leader_transitions=1))
    stored = cs.coordination_v1().leases(NS).get(NAME)
    assert stored["metadata"]["labels"] == {"app": "btc"}
    assert stored["spec"]["leaseTransitions"] == 1
    lock.record_event("became leader")
    assert recorder.messages == ["a became leader"]


def test_lease_lock_update_with_a_stale_version_conflicts_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    mine, theirs = LeaseLock(NS, NAME, cs, "a"), LeaseLock(NS, NAME, cs, "b")
    mine.create(resourcelock.LeaderElectionRecord(holder_identity="a"))
    theirs.get()
    theirs.update(resourcelock.LeaderElectionRecord(holder_identity="b"))
    with pytest.raises(errors.ConflictError):
        mine.update(resourcelock.LeaderElectionRecord(holder_identity="a"))


def test_resourcelock_new_supports_only_leases_unit() -> None:
    config = resourcelock.ResourceLockConfig(identity="a")
    lock = resourcelock.new("leases", NS, NAME, fake.Clientset(), config)
    assert isinstance(lock, LeaseLock)
    with pytest.raises(ValueError, match="endpoints lock is removed"):
        resourcelock.new("endpoints", NS, NAME, fake.Clientset(), config)
    with pytest.raises(ValueError, match="Invalid lock-type"):
        resourcelock.new("nope", NS, NAME, fake.Clientset(), config)


# -- run(): threads driven by a fake clock ----------------------------------------------


class SteppedClock(FakeClock):
    """A FakeClock that knows which threads wait on it and until when.

    ``settled()`` is true when every thread that has waited on this clock is
    either finished or blocked until a time still in the future: then
    nothing will happen until the test moves time.  Registering a wait and
    stepping share one lock, so a wait can never be computed from a time the
    test has already left behind.
    """

    def __init__(self) -> None:
        super().__init__(start=1000.0, wall_start=WALL)
        self._cv = threading.Condition()
        self._deadlines: dict[threading.Thread, float | None] = {}
        self.known: set[threading.Thread] = set()

    def wait_event(self, event: threading.Event, timeout: float | None) -> bool:
        me = threading.current_thread()
        with self._cv:
            deadline = None if timeout is None else self.now() + timeout
            self.known.add(me)
            self._deadlines[me] = deadline
            try:
                while not event.is_set() and (deadline is None or self.now() < deadline):
                    # Events cannot notify this condition, so poll them, as FakeClock does.
                    self._cv.wait(0.002)
            finally:
                del self._deadlines[me]
        return event.is_set()

    def step(self, seconds: float) -> None:
        with self._cv:
            super().step(seconds)
            self._cv.notify_all()

    def settled(self) -> bool:
        with self._cv:
            now = self.now()
            for thread in self.known:
                if not thread.is_alive():
                    continue
                if thread not in self._deadlines:
                    return False  # running
                deadline = self._deadlines[thread]
                if deadline is not None and deadline <= now:
                    return False  # due: about to wake
            # A brand-new elector thread must have reached its first wait.
            for thread in threading.enumerate():
                if thread.name.startswith("leader-election-watchdog") and thread not in self.known:
                    return False
            return True


class Candidate:
    """One elector on its own thread, with bookkeeping of its leadership terms."""

    def __init__(self, identity: str, tracker: ObjectTracker, clock: SteppedClock,
                 **config: Any) -> None:
        self.identity = identity
        # Each candidate has its own clientset (its own network path) on the shared store.
        self.clientset = fake.Clientset(tracker=tracker, clock=clock)
        self.partitioned = False
        self.hang: threading.Event | None = None  # set: requests block until the event is set
        self.clock = clock
        self.clientset.prepend_reactor("*", "leases", self._maybe_fail)
        self.recorder = ListRecorder()
        self.terms: list[threading.Event] = []
        self.stopped_leading = threading.Event()
        self.new_leaders: list[str] = []
        self._lock = threading.Lock()
        lock = LeaseLock(NS, NAME, self.clientset, identity, event_recorder=self.recorder)
        self.elector = LeaderElector(LeaderElectionConfig(
            lock,
            callbacks=LeaderCallbacks(self._started, self._stopped, self._new_leader),
            clock=clock,
            name=f"test-{identity}",
            **config,
        ))
        self.elector.rand = random.Random(identity).random
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.elector.run, args=(self.stop,),
                                       name=f"candidate-{identity}", daemon=True)

    def _maybe_fail(self, action) -> tuple[bool, Any, BaseException | None]:
        if self.hang is not None:
            # A request that never gets an answer; waiting on the clock tells the
            # test this thread is blocked, not busy.
            self.clock.wait_event(self.hang, None)
            return True, None, TimeoutError(f"{self.identity}: request timed out")
        if self.partitioned:
            return True, None, ConnectionError(f"{self.identity}: network unreachable")
        return False, None, None

    def _started(self, stop_event: threading.Event) -> None:
        with self._lock:
            self.terms.append(stop_event)

    def _stopped(self) -> None:
        self.stopped_leading.set()

    def _new_leader(self, identity: str) -> None:
        with self._lock:
            self.new_leaders.append(identity)

    @property
    def leading(self) -> bool:
        with self._lock:
            return bool(self.terms) and not self.terms[-1].is_set()

    def caught_up(self) -> bool:
        # Every "became leader" has started its work callback (it runs on a new thread).
        with self._lock:
            return len(self.terms) == self.recorder.count(f"{self.identity} became leader")


class Election:
    """Drives candidates with small steps of fake time, checking the invariant at every step."""

    STEP = 0.25

    def __init__(self, clock: SteppedClock, candidates: list[Candidate]) -> None:
        self.clock = clock
        self.candidates = candidates
        self.history: list[tuple[float, tuple[str, ...]]] = []

    def settle(self) -> None:
        wait_for(
            lambda: self.clock.settled()
            and all(c.caught_up() for c in self.candidates)
            and all(c.thread in self.clock.known or not c.thread.is_alive()
                    for c in self.candidates if c.thread.ident is not None),
            "the election to settle",
        )
        leaders = tuple(c.identity for c in self.candidates if c.leading)
        assert len(leaders) <= 1, f"two leaders at t={self.clock.now()}: {leaders}"
        self.history.append((self.clock.now(), leaders))

    def run_until(self, condition, max_seconds: float) -> None:
        for _ in range(int(max_seconds / self.STEP)):
            self.settle()
            if condition():
                return
            self.clock.step(self.STEP)
        self.settle()
        assert condition(), "condition not reached in time"

    def first_time(self, identity: str, leading: bool, after: float = 0.0) -> float:
        for when, leaders in self.history:
            if when >= after and (identity in leaders) == leading:
                return when
        raise AssertionError(f"{identity} never {'led' if leading else 'stopped'}")


def test_run_leads_renews_and_releases_on_stop_unit() -> None:
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    a = Candidate("a", tracker, clock, release_on_cancel=True)
    election = Election(clock, [a])
    a.thread.start()
    election.run_until(lambda: a.leading, 5)
    assert a.recorder.messages == ["a became leader"]
    assert REGISTRY.get_sample_value("leader_election_master_status", {"name": "test-a"}) == 1
    start = clock.now()
    election.run_until(lambda: clock.now() - start >= 20, 25)
    spec = a.clientset.coordination_v1().leases(NS).get(NAME)["spec"]
    assert spec["holderIdentity"] == "a"
    # Renewed about every retry period: the last renewal is at most 2 s old.
    assert micro(start - 1000 + 18) <= spec["renewTime"] <= micro(start - 1000 + 20)
    assert a.leading
    a.stop.set()
    a.thread.join(DEADLINE)
    assert not a.thread.is_alive()
    assert a.terms[-1].is_set() and a.stopped_leading.is_set()
    spec = a.clientset.coordination_v1().leases(NS).get(NAME)["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    assert a.recorder.messages == ["a became leader", "a stopped leading"]
    assert REGISTRY.get_sample_value("leader_election_master_status", {"name": "test-a"}) == 0
    wait_for(lambda: a.new_leaders == ["a"], "on_new_leader('a')")


def test_on_stopped_leading_is_called_even_without_leading_unit(clock) -> None:
    cs = fake.Clientset(lease("b"), clock=clock)
    started, stopped = threading.Event(), threading.Event()
    le = elector_for("a", cs, clock, callbacks=noop_callbacks(
        started=lambda s: started.set(), stopped=stopped.set))
    stop = threading.Event()
    stop.set()
    le.run(stop)  # stop already set: returns at once
    assert stopped.is_set() and not started.is_set()


def test_on_new_leader_reports_the_first_observed_holder_unit() -> None:
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    tracker.add(lease("b"))
    a = Candidate("a", tracker, clock)
    election = Election(clock, [a])
    a.thread.start()
    election.settle()
    wait_for(lambda: a.new_leaders == ["b"], "on_new_leader('b')")
    assert not a.leading
    a.stop.set()
    a.thread.join(DEADLINE)
    assert a.stopped_leading.is_set() and a.terms == []


def test_a_failing_leader_work_gives_up_leadership_unit() -> None:
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    a = Candidate("a", tracker, clock)

    def crash(stop_event: threading.Event) -> None:
        a._started(stop_event)
        raise RuntimeError("controller crashed")

    a.elector._config.callbacks.on_started_leading = crash
    seen_by_on_stopped: list[BaseException | None] = []
    stopped = a.elector._config.callbacks.on_stopped_leading

    def on_stopped() -> None:
        seen_by_on_stopped.append(a.elector.work_error)
        stopped()

    a.elector._config.callbacks.on_stopped_leading = on_stopped
    raised: list[BaseException] = []

    def run() -> None:
        try:
            a.elector.run(a.stop)
        except Exception as err:
            raised.append(err)

    a.thread = threading.Thread(target=run, name="candidate-a", daemon=True)
    election = Election(clock, [a])
    a.thread.start()
    election.run_until(lambda: a.stopped_leading.is_set(), 10)
    assert a.terms and a.terms[-1].is_set()
    a.thread.join(DEADLINE)
    # A crash of the work is reported as a crash (Go: the panic kills the
    # process), not as leadership that simply ended.
    assert len(raised) == 1 and isinstance(raised[0], LeaderWorkError)
    assert isinstance(raised[0].err, RuntimeError) and raised[0].__cause__ is raised[0].err
    assert "controller crashed" in str(raised[0])
    assert seen_by_on_stopped == [raised[0].err]


def test_partitioned_leader_stops_before_the_follower_takes_over_unit() -> None:
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    a, b = Candidate("a", tracker, clock), Candidate("b", tracker, clock)
    election = Election(clock, [a, b])
    a.thread.start()
    election.run_until(lambda: a.leading, 5)
    b.thread.start()
    election.run_until(lambda: clock.now() >= 1030, 40)  # b follows, a renews
    assert a.leading and not b.leading
    assert b.new_leaders == ["a"]

    partitioned_at = clock.now()
    a.partitioned = True  # a can no longer reach the API server
    election.run_until(lambda: b.leading, 40)

    a_stopped = election.first_time("a", leading=False, after=partitioned_at)
    b_started = election.first_time("b", leading=True)
    assert a_stopped < b_started
    # a gave up within retry + renew_deadline of its last renewal (plus one step).
    assert a_stopped - partitioned_at <= 2 + 10 + Election.STEP
    # b waited a full lease duration after a's last renewal it saw.
    assert b_started - partitioned_at >= 15 - 2 - Election.STEP
    election.run_until(lambda: a.stopped_leading.is_set(), 5)  # a's run() has returned
    spec = b.clientset.coordination_v1().leases(NS).get(NAME)["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    b.stop.set()
    b.thread.join(DEADLINE)


def test_two_candidates_never_both_lead_under_random_failures_unit() -> None:
    chaos = random.Random(1234)
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    candidates = [Candidate(name, tracker, clock, release_on_cancel=True) for name in "ab"]
    election = Election(clock, candidates)
    for c in candidates:
        c.thread.start()
    # Flip network partitions at random for 4 minutes of fake time; settle()
    # asserts at every step that at most one candidate leads.
    for _ in range(int(240 / Election.STEP)):
        election.settle()
        if chaos.random() < 0.03:
            victim = chaos.choice(candidates)
            victim.partitioned = not victim.partitioned
        clock.step(Election.STEP)
    for c in candidates:
        c.partitioned = False
    leaders_seen = {name for _, leaders in election.history for name in leaders}
    assert leaders_seen, "nobody ever led"
    # Candidates that lost the lease returned from run(); restart them for the ending.
    for c in candidates:
        c.stop.set()
    for c in candidates:
        c.thread.join(DEADLINE)
        assert c.stopped_leading.is_set()
        assert all(term.is_set() for term in c.terms)


def test_release_on_cancel_hands_over_without_waiting_for_expiry_unit() -> None:
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    a = Candidate("a", tracker, clock, release_on_cancel=True)
    b = Candidate("b", tracker, clock)
    election = Election(clock, [a, b])
    a.thread.start()
    election.run_until(lambda: a.leading, 5)
    b.thread.start()
    election.run_until(lambda: clock.now() >= 1010, 15)
    released_at = clock.now()
    a.stop.set()
    a.thread.join(DEADLINE)
    assert a.stopped_leading.is_set()
    election.run_until(lambda: b.leading, 10)
    # b needed at most one jittered retry (< 2.2 * 2 s), far less than the 15 s lease.
    assert election.first_time("b", leading=True) - released_at < 2.2 * 2 + Election.STEP
    wait_for(lambda: b.new_leaders[-1:] == ["b"], "on_new_leader('b')")
    assert b.new_leaders[0] == "a"
    b.stop.set()
    b.thread.join(DEADLINE)


def test_leader_stuck_in_a_hung_request_still_stops_in_time_unit() -> None:
    clock = SteppedClock()
    tracker = ObjectTracker(SCHEME, clock=clock)
    a, b = Candidate("a", tracker, clock), Candidate("b", tracker, clock)
    election = Election(clock, [a, b])
    a.thread.start()
    election.run_until(lambda: a.leading, 5)
    b.thread.start()
    election.run_until(lambda: clock.now() >= 1020, 25)
    hung_at = clock.now()
    a.hang = threading.Event()  # a's next renewal never returns
    election.run_until(lambda: b.leading, 40)
    a_stopped = election.first_time("a", leading=False, after=hung_at)
    assert a_stopped < election.first_time("b", leading=True)
    assert a_stopped - hung_at <= 2 + 10 + Election.STEP
    assert a.thread.is_alive()  # still stuck in the request, yet no longer leading
    a.hang.set()
    a.thread.join(DEADLINE)
    assert a.stopped_leading.is_set()
    b.stop.set()
    b.thread.join(DEADLINE)

"""Unit tests of event recording: recorder, broadcaster, sink writes, EventSinkImpl, FakeRecorder
(client-go ``tools/record``)."""

from __future__ import annotations

import datetime
import json
import queue
import threading
from typing import Any

import pytest
from waiting import wait_for

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.apimachinery.types import STRATEGIC_MERGE_PATCH
from bitcoin_controller.apimachinery.watch.mux import WAIT_IF_CHANNEL_FULL, Broadcaster
from bitcoin_controller.clientgo.kubernetes import fake
from bitcoin_controller.clientgo.kubernetes.clientset import Interface, ResourceClient
from bitcoin_controller.clientgo.rest import RequestConstructionError, encode_json
from bitcoin_controller.clientgo.tools import record
from bitcoin_controller.componentbase.metrics.legacyregistry import REGISTRY
from bitcoin_controller.utils.clock import FakeClock

pytestmark = pytest.mark.timeout(30)

DEADLINE = 5.0  # real seconds a condition may take before the test fails
SOURCE = record.EventSource(component="bitcoin-controller", host="node-1")
WALL = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
WALL_NANOS_HEX = "18867251edfa0000"  # 2026-01-01T00:00:00Z in Unix nanoseconds, hex



def pod(name: str = "btc-0", namespace: str = "regtest") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": "u-1", "resourceVersion": "7"},
        "spec": {},
    }


class Collector:
    """An event handler that remembers every event, with a condition to wait on."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.events) >= count, DEADLINE)
            return list(self.events)


class FakeSink(record.EventSink):
    """Records every call; ``failures`` maps (verb, reason) to exceptions raised in turn."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], bytes | None]] = []
        self.failures: dict[tuple[str, str], list[Exception]] = {}
        self.always_fail: dict[tuple[str, str], Exception] = {}
        self._cond = threading.Condition()
        self._rv = 0

    def _call(self, verb: str, event: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
        with self._cond:
            self.calls.append((verb, json.loads(json.dumps(event)), data))
            self._cond.notify_all()
            key = (verb, event.get("reason", ""))
            if key in self.always_fail:
                raise self.always_fail[key]
            if self.failures.get(key):
                raise self.failures[key].pop(0)
            self._rv += 1
            stored = json.loads(json.dumps(event))
            stored["metadata"]["resourceVersion"] = str(self._rv)
            if data is not None:
                stored.update(json.loads(data))
            return stored

    def create(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._call("create", event)

    def update(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._call("update", event)

    def patch(self, event: dict[str, Any], data: bytes) -> dict[str, Any]:
        return self._call("patch", event, data)

    def wait_calls(self, count: int) -> list[tuple[str, dict[str, Any], bytes | None]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.calls) >= count, DEADLINE), self.calls
            return list(self.calls)

    def count(self, reason: str) -> int:
        with self._cond:
            return sum(1 for _, e, _ in self.calls if e.get("reason") == reason)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=WALL)


@pytest.fixture
def broadcaster(clock: FakeClock):
    b = record.EventBroadcaster(clock=clock, rand=lambda: 0.5)
    yield b
    b.shutdown(timeout=DEADLINE)


# -- event construction -----------------------------------------------------------


def test_event_fields_follow_client_go_unit(broadcaster, clock) -> None:
    seen = Collector()
    broadcaster.start_event_watcher(seen)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), record.EVENT_TYPE_WARNING, "Unhealthy", "rpc not ready")
    (event,) = seen.wait_for(1)
    assert event["apiVersion"] == "v1" and event["kind"] == "Event"
    assert event["metadata"]["name"] == f"btc-0.{WALL_NANOS_HEX}"
    assert event["metadata"]["namespace"] == "regtest"
    assert event["involvedObject"] == {
        "kind": "Pod",
        "namespace": "regtest",
        "name": "btc-0",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "7",
    }
    assert (event["type"], event["reason"], event["message"]) == (
        "Warning", "Unhealthy", "rpc not ready",
    )
    assert event["count"] == 1
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-01T00:00:00Z"
    assert event["source"] == {"component": "bitcoin-controller", "host": "node-1"}
    assert event["reportingComponent"] == "bitcoin-controller"
    assert event["reportingInstance"] == "node-1"


def test_name_hex_follows_the_clock_unit(broadcaster, clock) -> None:
    seen = Collector()
    broadcaster.start_event_watcher(seen)
    recorder = broadcaster.new_recorder(SOURCE)
    clock.step(1.5)
    recorder.event(pod(), "Normal", "Synced", "ok")
    (event,) = seen.wait_for(1)
    nanos = int(WALL_NANOS_HEX, 16) + 1_500_000_000
    assert event["metadata"]["name"] == f"btc-0.{nanos:x}"


def test_cluster_scoped_object_gets_default_namespace_unit(broadcaster) -> None:
    seen = Collector()
    broadcaster.start_event_watcher(seen)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}
    broadcaster.new_recorder(SOURCE).event(node, "Normal", "Seen", "hello")
    (event,) = seen.wait_for(1)
    assert event["metadata"]["namespace"] == "default"
    assert "namespace" not in event["involvedObject"]


def test_invalid_type_and_kindless_object_are_dropped_unit(broadcaster) -> None:
    seen = Collector()
    broadcaster.start_event_watcher(seen)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Info", "Bad", "unsupported type")
    recorder.event({"metadata": {"name": "x"}}, "Normal", "NoKind", "no kind")
    recorder.event("not an object", "Normal", "NoObject", "not a dict")
    recorder.event(pod(), "Normal", "Good", "kept")
    # Events are delivered in order, so the first one seen proves the others were dropped.
    assert [e["reason"] for e in seen.wait_for(1)] == ["Good"]


def test_reference_dict_eventf_and_annotations_unit(broadcaster) -> None:
    seen = Collector()
    broadcaster.start_event_watcher(seen)
    recorder = broadcaster.new_recorder(SOURCE)
    ref = {"kind": "BitcoinNetwork", "apiVersion": "bitcoincontroller.dev/v1",
           "name": "net", "namespace": "ns", "fieldPath": "spec.replicas"}
    recorder.eventf(ref, "Normal", "Scaled", "scaled to %d nodes (%s)", 3, "regtest")
    recorder.annotated_eventf(pod(), {"a": "b"}, "Normal", "Tagged", "100% literal")
    first, second = seen.wait_for(2)
    assert first["involvedObject"] == ref
    assert first["message"] == "scaled to 3 nodes (regtest)"
    assert first["metadata"]["namespace"] == "ns"
    assert second["metadata"]["annotations"] == {"a": "b"}
    assert second["message"] == "100% literal"  # no args: not %-formatted


def test_uppercase_object_name_gets_uuid_event_name_unit(broadcaster) -> None:
    seen = Collector()
    broadcaster.start_event_watcher(seen)
    ref = {"kind": "Thing", "apiVersion": "v1", "name": "Not_A_DNS_Name"}
    broadcaster.new_recorder(SOURCE).event(ref, "Normal", "R", "m")
    (event,) = seen.wait_for(1)
    name = event["metadata"]["name"]
    assert len(name) == 36 and name.count("-") == 4


def test_recording_never_blocks_when_the_queue_is_full_unit(clock) -> None:
    # A broadcaster whose distribution thread stalls on an unread watcher.
    stalled = Broadcaster(1, WAIT_IF_CHANNEL_FULL, incoming_queue_length=2)
    unread = stalled.watch()
    b = record.EventBroadcaster(clock=clock, broadcaster=stalled)
    recorder = b.new_recorder(SOURCE)
    before = REGISTRY.get_sample_value("events_dropped_total") or 0.0
    total = 50
    for i in range(total):
        recorder.eventf(pod(), "Normal", "Tick", "tick %d", i)  # returns at once, or the test hangs
    dropped = (REGISTRY.get_sample_value("events_dropped_total") or 0.0) - before
    assert dropped >= total - 4  # at most 1 buffered + 1 held + 2 queued were accepted
    unread.stop()
    b.shutdown(timeout=DEADLINE)


def test_recording_after_shutdown_is_ignored_unit(clock) -> None:
    b = record.EventBroadcaster(clock=clock)
    recorder = b.new_recorder(SOURCE)
    b.shutdown()
    recorder.event(pod(), "Normal", "Late", "after shutdown")  # logged, not raised
    with pytest.raises(Exception, match="already stopped"):
        b.start_event_watcher(lambda e: None)


def test_handler_exception_does_not_stop_the_watcher_unit(broadcaster) -> None:
    seen = Collector()

    def flaky(event: dict[str, Any]) -> None:
        if event["reason"] == "Boom":
            raise RuntimeError("handler bug")
        seen(event)

    broadcaster.start_event_watcher(flaky)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Normal", "Boom", "x")
    recorder.event(pod(), "Normal", "After", "y")
    assert [e["reason"] for e in seen.wait_for(1)] == ["After"]


# -- logging ----------------------------------------------------------------------


def test_start_logging_formats_like_client_go_unit(broadcaster) -> None:
    lines: queue.Queue[str] = queue.Queue()
    broadcaster.start_logging(lambda fmt, *args: lines.put(fmt % args))
    broadcaster.new_recorder(SOURCE).event(pod(), "Warning", "Down", "node down")
    line = lines.get(timeout=DEADLINE)
    assert line.startswith("Event({")
    assert line.endswith("type: 'Warning' reason: 'Down' node down")
    assert "'name': 'btc-0'" in line


def test_start_structured_logging_unit(broadcaster) -> None:
    entries: queue.Queue[tuple[str, dict]] = queue.Queue()

    class Logger:
        def info(self, msg: str, **kw: Any) -> None:
            entries.put((msg, kw))

        debug = info

    broadcaster.start_structured_logging(logger=Logger())
    broadcaster.new_recorder(SOURCE).event(pod(), "Normal", "Synced", "all good")
    msg, fields = entries.get(timeout=DEADLINE)
    assert msg == "Event occurred"
    assert fields == {
        "object": "regtest/btc-0", "fieldPath": "", "kind": "Pod", "apiVersion": "v1",
        "type": "Normal", "reason": "Synced", "message": "all good",
    }


# -- writing to the sink ----------------------------------------------------------


def test_first_event_is_created_second_identical_is_patched_with_count_2_unit(
    broadcaster, clock
) -> None:
    sink = FakeSink()
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Warning", "Unhealthy", "rpc down")
    sink.wait_calls(1)
    clock.step(30)
    recorder.event(pod(), "Warning", "Unhealthy", "rpc down")
    (verb1, created, _), (verb2, patched, patch) = sink.wait_calls(2)
    assert (verb1, verb2) == ("create", "patch")
    assert "resourceVersion" not in created["metadata"]
    assert patched["metadata"]["name"] == created["metadata"]["name"]  # the first event's name
    assert patched["count"] == 2
    assert patched["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert json.loads(patch) == {
        "count": 2, "lastTimestamp": "2026-01-01T00:00:30Z", "message": "rpc down",
    }


def test_patch_of_an_expired_event_falls_back_to_create_unit(broadcaster) -> None:
    sink = FakeSink()
    sink.failures[("patch", "Unhealthy")] = [errors.new_not_found("events", "gone")]
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Warning", "Unhealthy", "rpc down")
    sink.wait_calls(1)
    recorder.event(pod(), "Warning", "Unhealthy", "rpc down")
    calls = sink.wait_calls(3)
    assert [c[0] for c in calls] == ["create", "patch", "create"]
    assert "resourceVersion" not in calls[2][1]["metadata"]
    assert calls[2][1]["count"] == 2


def test_status_errors_are_not_retried_unit(broadcaster) -> None:
    sink = FakeSink()
    sink.failures[("create", "Rejected")] = [errors.new_invalid("events", "x", "bad")]
    sink.failures[("create", "Exists")] = [errors.new_already_exists("events", "x")]
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Normal", "Rejected", "a")
    recorder.event(pod(), "Normal", "Exists", "b")
    recorder.event(pod(), "Normal", "Next", "c")
    calls = sink.wait_calls(3)
    # The next event's write proves the rejected ones were abandoned after one try.
    assert [c[1]["reason"] for c in calls] == ["Rejected", "Exists", "Next"]


@pytest.mark.parametrize(
    "err", [ValueError("garbled answer"), TypeError("a bug deep in a library"), ConnectionError("reset")],
    ids=["ValueError", "TypeError", "ConnectionError"],
)
def test_errors_other_than_status_and_construction_are_retried_unit(broadcaster, clock, err) -> None:
    # client-go gives up only on StatusError and RequestConstructionError;
    # everything else may be transient and is retried after a sleep.
    sink = FakeSink()
    sink.failures[("create", "Flaky")] = [err]
    broadcaster.start_recording_to_sink(sink)
    broadcaster.new_recorder(SOURCE).event(pod(), "Normal", "Flaky", "x")
    sink.wait_calls(1)
    wait_for(clock.has_waiters, "the retry sleep")
    clock.step(10)
    calls = sink.wait_calls(2)
    assert [c[1]["reason"] for c in calls] == ["Flaky", "Flaky"]


def test_request_construction_errors_are_not_retried_unit(broadcaster) -> None:
    sink = FakeSink()
    sink.always_fail[("create", "Unbuildable")] = RequestConstructionError("cannot encode")
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Normal", "Unbuildable", "a")
    recorder.event(pod(), "Normal", "Next", "b")
    calls = sink.wait_calls(2)
    assert [c[1]["reason"] for c in calls] == ["Unbuildable", "Next"]  # one try, then the next event


def test_unencodable_body_is_a_request_construction_error_unit() -> None:
    with pytest.raises(RequestConstructionError):
        encode_json({"when": object()})
    with pytest.raises(RequestConstructionError):
        record.EventSinkImpl(_RecordingClientset(), namespace="mine").create(
            {"metadata": {"name": "e", "namespace": "theirs"}})


def test_transport_errors_are_retried_after_randomised_then_fixed_sleeps_unit(
    broadcaster, clock
) -> None:
    sink = FakeSink()
    sink.failures[("create", "Flaky")] = [ConnectionError("refused"), ConnectionError("reset")]
    broadcaster.start_recording_to_sink(sink)
    broadcaster.new_recorder(SOURCE).event(pod(), "Normal", "Flaky", "x")
    sink.wait_calls(1)
    wait_for(clock.has_waiters, "the first retry sleep")
    clock.step(4.9)  # first sleep is rand() * 10 s = 5 s
    assert sink.count("Flaky") == 1
    clock.step(0.1)
    sink.wait_calls(2)
    wait_for(clock.has_waiters, "the second retry sleep")
    clock.step(9.9)  # later sleeps are the full 10 s
    assert sink.count("Flaky") == 2
    clock.step(0.1)
    calls = sink.wait_calls(3)
    assert [c[0] for c in calls] == ["create"] * 3


def test_gives_up_after_12_tries_unit(broadcaster, clock) -> None:
    sink = FakeSink()
    sink.always_fail[("create", "Doomed")] = ConnectionError("no route to host")
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    recorder.event(pod(), "Normal", "Doomed", "x")
    recorder.event(pod(), "Normal", "Later", "y")
    while sink.count("Later") == 0:
        assert sink.count("Doomed") <= record.MAX_TRIES_PER_EVENT
        wait_for(lambda: clock.has_waiters() or sink.count("Later") > 0, "a retry sleep")
        clock.step(10)
    assert sink.count("Doomed") == record.MAX_TRIES_PER_EVENT == 12


def test_shutdown_aborts_the_retry_sleep_unit(clock) -> None:
    b = record.EventBroadcaster(clock=clock, rand=lambda: 0.5)
    sink = FakeSink()
    sink.always_fail[("create", "Doomed")] = ConnectionError("refused")
    b.start_recording_to_sink(sink)
    b.new_recorder(SOURCE).event(pod(), "Normal", "Doomed", "x")
    sink.wait_calls(1)
    wait_for(clock.has_waiters, "the retry sleep")
    b.shutdown(timeout=DEADLINE)  # returns without anyone moving the fake clock
    assert not clock.has_waiters()  # the sink thread left its retry sleep and ended
    assert sink.count("Doomed") == 1


def test_spam_filter_skips_the_26th_event_about_one_object_unit(broadcaster) -> None:
    sink = FakeSink()
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    for i in range(26):
        # Distinct reasons: neither de-duplicated nor aggregated, only rate-limited.
        recorder.event(pod(), "Normal", f"Reason{i}", "m")
    recorder.event(pod("other"), "Normal", "OtherObject", "m")
    calls = sink.wait_calls(26)
    assert [c[1]["reason"] for c in calls] == [f"Reason{i}" for i in range(25)] + ["OtherObject"]


# -- EventSinkImpl ------------------------------------------------------------------


class _RecordingEvents(ResourceClient):
    def __init__(self, log: list, info, namespace: str) -> None:
        super().__init__(info, namespace)
        self._log = log

    def create(self, obj):
        self._log.append(("create", self.namespace, obj))
        return obj

    def update(self, obj):
        self._log.append(("update", self.namespace, obj))
        return obj

    def patch(self, name, patch, patch_type=None, subresource=None):
        self._log.append(("patch", self.namespace, name, patch, patch_type))
        return {"metadata": {"name": name}}

    def get(self, name):
        raise NotImplementedError

    def list(self, opts=None):
        raise NotImplementedError

    def watch(self, opts=None):
        raise NotImplementedError

    def update_status(self, obj):
        raise NotImplementedError

    def delete(self, name, **kw):
        raise NotImplementedError


class _RecordingClientset(Interface):
    def __init__(self) -> None:
        self.log: list = []

    def resource(self, info, namespace=""):
        assert info.resource == "events"
        return _RecordingEvents(self.log, info, namespace)


def test_event_sink_impl_writes_to_the_events_namespace_unit() -> None:
    cs = _RecordingClientset()
    sink = record.EventSinkImpl(cs)
    event = {"metadata": {"name": "e.1", "namespace": "ns1"}, "reason": "R"}
    sink.create(event)
    sink.update(event)
    sink.patch(event, b'{"count":2}')
    assert cs.log[0] == ("create", "ns1", event)
    assert cs.log[1] == ("update", "ns1", event)
    assert cs.log[2] == ("patch", "ns1", "e.1", b'{"count":2}', STRATEGIC_MERGE_PATCH)


def test_namespaced_event_sink_impl_refuses_other_namespaces_unit() -> None:
    sink = record.EventSinkImpl(_RecordingClientset(), namespace="mine")
    with pytest.raises(ValueError, match="namespace 'theirs' in namespace 'mine'"):
        sink.create({"metadata": {"name": "e", "namespace": "theirs"}})


# -- FakeRecorder -------------------------------------------------------------------


def test_fake_recorder_strings_unit() -> None:
    fake = record.FakeRecorder(10)
    fake.event(pod(), "Normal", "Created", "pod created")
    fake.eventf(pod(), "Warning", "Failed", "attempt %d of %d", 2, 5)
    fake.annotated_eventf(pod(), {"z": "1", "a": "2"}, "Normal", "Note", "with %s", "notes")
    assert fake.events is not None
    assert fake.events.get_nowait() == "Normal Created pod created"
    assert fake.events.get_nowait() == "Warning Failed attempt 2 of 5"
    assert fake.events.get_nowait() == "Normal Note with notes map[a:2 z:1]"


def test_fake_recorder_include_object_and_discard_unit() -> None:
    fake = record.FakeRecorder(include_object=True)
    fake.event(pod(), "Normal", "Created", "x")
    assert fake.events.get_nowait() == "Normal Created x involvedObject{kind=Pod,apiVersion=v1}"
    discarding = record.FakeRecorder(None)
    discarding.event(pod(), "Normal", "Created", "x")  # nowhere to go: dropped
    assert discarding.events is None
    with pytest.raises(ValueError):
        record.FakeRecorder(0)


def test_fake_recorder_blocks_when_full_like_a_channel_unit() -> None:
    fake = record.FakeRecorder(1)
    fake.event(pod(), "Normal", "First", "1")
    sent = threading.Event()

    def second() -> None:
        fake.event(pod(), "Normal", "Second", "2")
        sent.set()

    t = threading.Thread(target=second, daemon=True)
    t.start()
    # The buffer of 1 is full and nobody has read it, so the second event cannot be in yet.
    assert not sent.is_set()
    assert fake.events.get(timeout=DEADLINE) == "Normal First 1"
    assert fake.events.get(timeout=DEADLINE) == "Normal Second 2"
    assert sent.wait(DEADLINE)


def test_recording_to_the_fake_clientset_creates_then_patches_unit(clock) -> None:
    cs = fake.Clientset(clock=clock)
    b = record.EventBroadcaster(clock=clock)
    b.start_recording_to_sink(record.EventSinkImpl(cs))
    recorder = b.new_recorder(SOURCE)
    recorder.event(pod(), "Warning", "Unhealthy", "rpc down")
    wait_for(lambda: len(cs.actions()) >= 1, "the create")
    clock.step(5)
    recorder.event(pod(), "Warning", "Unhealthy", "rpc down")
    wait_for(lambda: len(cs.actions()) >= 2, "the patch")
    b.shutdown(timeout=DEADLINE)
    create, patch = cs.actions()
    assert (create.verb, create.namespace) == ("create", "regtest")
    assert create.resource.resource == "events"
    assert (patch.verb, patch.namespace) == ("patch", "regtest")
    assert patch.get_patch_type() == STRATEGIC_MERGE_PATCH
    assert patch.get_name() == create.get_object()["metadata"]["name"]
    stored = cs.core_v1().events("regtest").get(patch.get_name())
    assert stored["count"] == 2
    assert stored["lastTimestamp"] == "2026-01-01T00:00:05Z"
    assert stored["firstTimestamp"] == "2026-01-01T00:00:00Z"

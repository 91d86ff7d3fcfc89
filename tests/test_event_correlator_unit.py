"""Unit tests of the EventCorrelator (client-go ``tools/record/events_cache.go``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bitcoin_controller.clientgo.tools import record
from bitcoin_controller.clientgo.tools.record import CorrelatorOptions, EventCorrelator
from bitcoin_controller.utils.clock import FakeClock


def make_event(
    message: str = "rpc down",
    reason: str = "Unhealthy",
    event_type: str = "Warning",
    obj_name: str = "btc-0",
    name: str | None = None,
    timestamp: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name or f"{obj_name}.1", "namespace": "regtest"},
        "involvedObject": {
            "kind": "Pod", "namespace": "regtest", "name": obj_name, "uid": f"uid-{obj_name}",
            "apiVersion": "v1",
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
        "source": {"component": "bitcoin-controller"},
        "reportingComponent": "bitcoin-controller",
        "reportingInstance": "",
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def correlator(clock: FakeClock) -> EventCorrelator:
    return record.new_event_correlator(clock)


def test_defaults_match_client_go_unit() -> None:
    assert record.MAX_LRU_CACHE_ENTRIES == 4096
    assert record.DEFAULT_AGGREGATE_MAX_EVENTS == 10
    assert record.DEFAULT_AGGREGATE_INTERVAL_IN_SECONDS == 600
    assert record.DEFAULT_SPAM_BURST == 25
    assert record.DEFAULT_SPAM_QPS == 1.0 / 300.0
    opts = CorrelatorOptions().with_defaults()
    assert (opts.lru_cache_size, opts.burst_size, opts.max_events) == (4096, 25, 10)
    assert opts.max_interval_in_seconds == 600
    assert opts.key_func is record.event_aggregator_by_reason_func
    assert opts.spam_key_func is record.get_spam_key


def test_first_event_passes_unchanged_without_patch_unit(correlator) -> None:
    event = make_event()
    result = correlator.event_correlate(event)
    assert not result.skip
    assert result.patch is None
    assert result.event == event
    assert result.event is not event  # the caller's dict is never modified


def test_repeat_becomes_a_patch_with_count_plus_one_unit(correlator) -> None:
    first = correlator.event_correlate(make_event(name="btc-0.a"))
    stored = dict(first.event, metadata={"name": "btc-0.a", "namespace": "regtest",
                                         "resourceVersion": "41"})
    correlator.update_state(stored)
    second = correlator.event_correlate(
        make_event(name="btc-0.b", timestamp="2026-01-01T00:05:00Z")
    )
    assert second.event["count"] == 2
    assert second.event["metadata"]["name"] == "btc-0.a"  # the existing event is updated
    assert second.event["metadata"]["resourceVersion"] == "41"
    assert second.event["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert second.event["lastTimestamp"] == "2026-01-01T00:05:00Z"
    assert json.loads(second.patch) == {
        "count": 2, "lastTimestamp": "2026-01-01T00:05:00Z", "message": "rpc down",
    }
    third = correlator.event_correlate(make_event(name="btc-0.c"))
    assert third.event["count"] == 3


def test_repeat_counts_even_before_the_server_answers_unit(correlator) -> None:
    correlator.event_correlate(make_event())
    again = correlator.event_correlate(make_event())
    assert again.event["count"] == 2
    assert again.patch is not None


def test_different_message_is_a_different_event_unit(correlator) -> None:
    correlator.event_correlate(make_event(message="a"))
    other = correlator.event_correlate(make_event(message="b"))
    assert other.event["count"] == 1
    assert other.patch is None


def test_ten_distinct_messages_within_ten_minutes_are_aggregated_unit(correlator, clock) -> None:
    for i in range(9):
        result = correlator.event_correlate(make_event(message=f"attempt {i} failed"))
        assert result.event["message"] == f"attempt {i} failed"
        clock.step(60)
    tenth = correlator.event_correlate(make_event(message="attempt 9 failed"))
    assert tenth.event["message"] == "(combined from similar events): attempt 9 failed"
    assert tenth.event["count"] == 1
    assert tenth.patch is None
    assert tenth.event["reason"] == "Unhealthy" and tenth.event["type"] == "Warning"
    assert tenth.event["involvedObject"]["name"] == "btc-0"
    assert tenth.event["metadata"]["namespace"] == "regtest"
    assert tenth.event["metadata"]["name"].startswith("btc-0.")
    aggregate_name = tenth.event["metadata"]["name"]

    # Every later similar event updates that one aggregate event.
    eleventh = correlator.event_correlate(make_event(message="attempt 10 failed"))
    assert eleventh.event["metadata"]["name"] == aggregate_name
    assert eleventh.event["count"] == 2
    assert json.loads(eleventh.patch)["message"] == (
        "(combined from similar events): attempt 10 failed"
    )


def test_aggregation_window_restarts_after_a_quiet_interval_unit(correlator, clock) -> None:
    for i in range(9):
        correlator.event_correlate(make_event(message=f"m{i}"))
    clock.step(601)  # more than 600 s since the last similar event
    result = correlator.event_correlate(make_event(message="m9"))
    assert result.event["message"] == "m9"


def test_aggregation_interval_is_measured_from_the_last_similar_event_unit(
    correlator, clock
) -> None:
    for i in range(9):
        correlator.event_correlate(make_event(message=f"m{i}"))
        clock.step(100)  # 900 s in all, but never 600 s of quiet
    result = correlator.event_correlate(make_event(message="m9"))
    assert result.event["message"].startswith("(combined from similar events): ")


def test_aggregation_groups_by_reason_unit(correlator) -> None:
    for i in range(9):
        correlator.event_correlate(make_event(message=f"m{i}", reason="A"))
    result = correlator.event_correlate(make_event(message="m9", reason="B"))
    assert result.event["message"] == "m9"


def test_26th_event_within_a_burst_is_skipped_then_refills_unit(correlator, clock) -> None:
    results = [
        correlator.event_correlate(make_event(reason=f"R{i}", message="m")) for i in range(26)
    ]
    assert [r.skip for r in results] == [False] * 25 + [True]
    assert results[-1].event is None
    # Other objects have their own budget.
    assert not correlator.event_correlate(make_event(obj_name="btc-1")).skip
    # Classic spam key has no event type: a Normal event shares the Warning budget.
    assert correlator.event_correlate(make_event(reason="N", event_type="Normal")).skip
    clock.step(299)
    assert correlator.event_correlate(make_event(reason="Later")).skip
    clock.step(1)  # one token per 300 s
    assert not correlator.event_correlate(make_event(reason="Later")).skip
    assert correlator.event_correlate(make_event(reason="Later2")).skip


def test_correlator_options_override_defaults_unit(clock) -> None:
    def spam_key_with_type(event: dict[str, Any]) -> str:
        return record.get_spam_key(event) + event["type"]  # what client-go v0.33+ does

    correlator = EventCorrelator(
        CorrelatorOptions(
            burst_size=2,
            max_events=3,
            message_func=lambda e: "many: " + e["message"],
            spam_key_func=spam_key_with_type,
            clock=clock,
        )
    )
    assert correlator.event_correlate(make_event(message="a")).event["message"] == "a"
    assert correlator.event_correlate(make_event(message="b")).event["message"] == "b"
    third = correlator.event_correlate(make_event(message="c"))
    assert third.skip  # burst of 2 used up
    # With the type in the spam key, Normal events have a budget of their own.
    normal = correlator.event_correlate(make_event(message="d", event_type="Normal"))
    assert not normal.skip and normal.event["message"] == "d"

    aggregating = EventCorrelator(
        CorrelatorOptions(max_events=3, message_func=lambda e: "many: " + e["message"], clock=clock)
    )
    aggregating.event_correlate(make_event(message="a"))
    aggregating.event_correlate(make_event(message="b"))
    assert aggregating.event_correlate(make_event(message="c")).event["message"] == "many: c"


def test_lru_cache_forgets_the_least_recently_used_event_unit(clock) -> None:
    correlator = EventCorrelator(CorrelatorOptions(lru_cache_size=2, clock=clock))
    correlator.event_correlate(make_event(obj_name="a"))
    correlator.event_correlate(make_event(obj_name="b"))
    correlator.event_correlate(make_event(obj_name="c"))  # evicts "a"
    forgotten = correlator.event_correlate(make_event(obj_name="a"))
    assert forgotten.event["count"] == 1 and forgotten.patch is None
    remembered = correlator.event_correlate(make_event(obj_name="c"))
    assert remembered.event["count"] == 2


def test_event_key_includes_field_path_and_message_unit() -> None:
    base = make_event()
    with_path = make_event()
    with_path["involvedObject"]["fieldPath"] = "spec.containers{btcd}"
    assert record.get_event_key(base) != record.get_event_key(with_path)
    assert record.get_spam_key(base) == record.get_spam_key(with_path)
    assert record.get_event_key(base) != record.get_event_key(make_event(message="x"))
    aggregate_key, local_key = record.event_aggregator_by_reason_func(base)
    assert local_key == "rpc down"
    assert aggregate_key == record.event_aggregator_by_reason_func(make_event(message="x"))[0]


def test_none_event_is_an_error_unit(correlator) -> None:
    with pytest.raises(ValueError):
        correlator.event_correlate(None)

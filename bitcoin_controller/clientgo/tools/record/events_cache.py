"""The event correlator: aggregation, de-duplication and spam filtering
(client-go ``tools/record/events_cache.go``).

A controller that reports "back-off restarting" every few seconds for
hours would, without care, write thousands of Event objects and drown the
API server (events live in etcd).  Before an event is written, the
:class:`EventCorrelator` runs three stages, in this order:

1. **Aggregation** (:class:`EventAggregator`): events that differ only in
   their message are grouped.  Once 10 distinct messages of one group have
   been seen within 10 minutes, the group is reported as one aggregate event
   ``"(combined from similar events): <latest message>"`` that is updated
   from then on, instead of one new event per message.
2. **De-duplication** (the event log): an event identical to one already
   written is not created again; it becomes a strategic-merge patch of the
   existing Event that raises ``count`` and moves ``lastTimestamp``.
3. **Spam filtering** (:class:`EventSourceObjectSpamFilter`): a token bucket
   per (source, involved object) -- burst 25, one more token every 5 minutes
   -- silently drops what exceeds it.

Each stage keeps its state in an LRU cache of 4096 entries, so memory stays
bounded however many objects the controller touches.

Baseline is classic client-go (v0.31/v0.32).  Note: client-go from v0.33
adds the event type to the spam key (``Normal`` and ``Warning`` events about
one object get separate budgets); pass ``spam_key_func`` to get that.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ....apimachinery import metav1
from ....utils.clock import REAL_CLOCK, Clock
from ...util.flowcontrol import TokenBucketRateLimiter
from .util import generate_event_name

__all__ = [
    "MAX_LRU_CACHE_ENTRIES",
    "DEFAULT_AGGREGATE_MAX_EVENTS",
    "DEFAULT_AGGREGATE_INTERVAL_IN_SECONDS",
    "DEFAULT_SPAM_BURST",
    "DEFAULT_SPAM_QPS",
    "get_event_key",
    "get_spam_key",
    "event_aggregator_by_reason_func",
    "event_aggregator_by_reason_message_func",
    "EventSourceObjectSpamFilter",
    "EventAggregator",
    "CorrelatorOptions",
    "EventCorrelateResult",
    "EventCorrelator",
    "new_event_correlator",
    "new_event_correlator_with_options",
]

#: ``maxLruCacheEntries``: size of each of the three LRU caches.
MAX_LRU_CACHE_ENTRIES = 4096
#: ``defaultAggregateMaxEvents``: distinct messages that trigger aggregation.
DEFAULT_AGGREGATE_MAX_EVENTS = 10
#: ``defaultAggregateIntervalInSeconds``: a quiet group older than this starts afresh.
DEFAULT_AGGREGATE_INTERVAL_IN_SECONDS = 600
#: ``defaultSpamBurst``: events one source may send about one object at once.
DEFAULT_SPAM_BURST = 25
#: ``defaultSpamQPS``: refill of the spam token bucket, one event per 5 minutes.
DEFAULT_SPAM_QPS = 1.0 / 300.0

# The lastTimestamp that the de-duplication patch is computed against (Go: time.Unix(0, 0)).
_EPOCH_TIMESTAMP = "1970-01-01T00:00:00Z"

Event = dict[str, Any]
EventAggregatorKeyFunc = Callable[[Event], tuple[str, str]]
EventAggregatorMessageFunc = Callable[[Event], str]
EventSpamKeyFunc = Callable[[Event], str]


def _source(event: Event) -> dict[str, Any]:
    return event.get("source") or {}


def _involved(event: Event) -> dict[str, Any]:
    return event.get("involvedObject") or {}


def _join(*parts: Any) -> str:
    # Go joins with an empty separator; the same fields in the same order give
    # the same keys as client-go.
    return "".join(str(p or "") for p in parts)


def get_event_key(event: Event) -> str:
    """``getEventKey``: identity of an event for de-duplication.

    Source, involved object (including ``fieldPath``), type, reason and
    message: two events with the same key are the same event seen twice.
    """
    src, obj = _source(event), _involved(event)
    return _join(
        src.get("component"), src.get("host"),
        obj.get("kind"), obj.get("namespace"), obj.get("name"), obj.get("fieldPath"),
        obj.get("uid"), obj.get("apiVersion"),
        event.get("type"), event.get("reason"), event.get("message"),
    )


def get_spam_key(event: Event) -> str:
    """``getSpamKey``: the spam budget is per source and involved object (classic: not per type)."""
    src, obj = _source(event), _involved(event)
    return _join(
        src.get("component"), src.get("host"),
        obj.get("kind"), obj.get("namespace"), obj.get("name"),
        obj.get("uid"), obj.get("apiVersion"),
    )


def event_aggregator_by_reason_func(event: Event) -> tuple[str, str]:
    """``EventAggregatorByReasonFunc``: group events that differ only in their message.

    Returns ``(aggregate_key, local_key)``: the group and the member's
    identity within it (the message).
    """
    src, obj = _source(event), _involved(event)
    aggregate_key = _join(
        src.get("component"), src.get("host"),
        obj.get("kind"), obj.get("namespace"), obj.get("name"),
        obj.get("uid"), obj.get("apiVersion"),
        event.get("type"), event.get("reason"),
        # JSON name of Go's ReportingController field.
        event.get("reportingComponent"), event.get("reportingInstance"),
    )
    return aggregate_key, str(event.get("message") or "")


def event_aggregator_by_reason_message_func(event: Event) -> str:
    """``EventAggregatorByReasonMessageFunc``: the message of an aggregate event."""
    return "(combined from similar events): " + str(event.get("message") or "")


class _LRUCache:
    """A bounded map that forgets the least recently used key (groupcache's ``lru.Cache``)."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def add(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._max_entries:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class EventSourceObjectSpamFilter:
    """``EventSourceObjectSpamFilter``: limit how many events one source sends about one object.

    Protects the API server from an object that is permanently unhealthy:
    after a burst of ``burst`` events, one more is let through every
    ``1/qps`` seconds and the rest are skipped.
    """

    def __init__(
        self,
        lru_cache_size: int,
        burst: int,
        qps: float,
        clock: Clock,
        spam_key_func: EventSpamKeyFunc = get_spam_key,
    ) -> None:
        self._cache = _LRUCache(lru_cache_size)
        self._burst = burst
        self._qps = qps
        self._clock = clock
        self._spam_key_func = spam_key_func
        self._lock = threading.Lock()

    def filter(self, event: Event) -> bool:
        """True if the event must be skipped (no token left for its source and object)."""
        key = self._spam_key_func(event)
        with self._lock:
            bucket = self._cache.get(key)
            if bucket is None:
                bucket = TokenBucketRateLimiter(self._qps, self._burst, self._clock)
            skip = not bucket.try_accept()
            self._cache.add(key, bucket)
            return skip


@dataclass
class _AggregateRecord:
    # Distinct local keys (messages) seen in the group, and when the group was last seen.
    local_keys: set[str] = field(default_factory=set)
    last_seen: float = 0.0


class EventAggregator:
    """``EventAggregator``: fold events that vary only in their message into one.

    A message that changes every time ("pod x failed: attempt 37") defeats
    de-duplication; aggregation catches it by counting distinct messages per
    group and, past ``max_events`` within ``max_interval_in_seconds``,
    replacing them by a single aggregate event.
    """

    def __init__(
        self,
        lru_cache_size: int,
        key_func: EventAggregatorKeyFunc,
        message_func: EventAggregatorMessageFunc,
        max_events: int,
        max_interval_in_seconds: int,
        clock: Clock,
    ) -> None:
        self._cache = _LRUCache(lru_cache_size)
        self._key_func = key_func
        self._message_func = message_func
        self._max_events = max_events
        self._max_interval = float(max_interval_in_seconds)
        self._clock = clock
        self._lock = threading.Lock()

    def event_aggregate(self, new_event: Event) -> tuple[Event, str]:
        """``EventAggregate``: the event to write and its cache key.

        Below the threshold: the event itself, keyed by its full
        :func:`get_event_key`.  At or above it: a new aggregate event, keyed
        by the group's aggregate key so every later member updates that one
        aggregate event.
        """
        now = self._clock.now()
        event_key = get_event_key(new_event)
        aggregate_key, local_key = self._key_func(new_event)
        with self._lock:
            record = self._cache.get(aggregate_key)
            # A group quiet for longer than the interval starts afresh.
            if record is None or now - record.last_seen > self._max_interval:
                record = _AggregateRecord()
            record.local_keys.add(local_key)
            record.last_seen = now
            self._cache.add(aggregate_key, record)
            if len(record.local_keys) < self._max_events:
                return new_event, event_key
            # Keep the set bounded: forget one arbitrary message (Go's PopAny).
            record.local_keys.pop()

        wall = self._clock.wall()
        timestamp = metav1.format_time(wall)
        involved = metav1.deep_copy(_involved(new_event))
        aggregate: Event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": generate_event_name(str(involved.get("name") or ""), wall),
                "namespace": (new_event.get("metadata") or {}).get("namespace") or "",
            },
            "involvedObject": involved,
            "count": 1,
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "message": self._message_func(new_event),
            "type": new_event.get("type"),
            "reason": new_event.get("reason"),
            "source": metav1.deep_copy(_source(new_event)),
        }
        return aggregate, aggregate_key


@dataclass
class _EventLog:
    # What the server last told us about an event we wrote (Go's ``eventLog``).
    count: int
    first_timestamp: Any
    name: str
    resource_version: str


class _EventLogger:
    """``eventLogger``: remembers written events so a repeat becomes a count bump."""

    def __init__(self, lru_cache_size: int) -> None:
        self._cache = _LRUCache(lru_cache_size)
        self._lock = threading.Lock()

    def event_observe(self, new_event: Event, key: str) -> tuple[Event, bytes | None]:
        """The event to send and, for a repeat, the patch that updates the existing one."""
        event = metav1.deep_copy(new_event)
        metadata = event.setdefault("metadata", {})
        patch: bytes | None = None
        with self._lock:
            last = self._cache.get(key)
            if last is not None and last.count > 0:
                metadata["name"] = last.name
                if last.resource_version:
                    metadata["resourceVersion"] = last.resource_version
                else:
                    metadata.pop("resourceVersion", None)
                event["firstTimestamp"] = last.first_timestamp
                event["count"] = last.count + 1
                patch = _dedup_patch(event)
            self._cache.add(key, _event_log_of(event))
        return event, patch

    def update_state(self, event: Event) -> None:
        """Store what the server returned (its name, resourceVersion and count)."""
        with self._lock:
            self._cache.add(get_event_key(event), _event_log_of(event))


def _event_log_of(event: Event) -> _EventLog:
    metadata = event.get("metadata") or {}
    return _EventLog(
        count=int(event.get("count") or 0),
        first_timestamp=event.get("firstTimestamp"),
        name=str(metadata.get("name") or ""),
        resource_version=str(metadata.get("resourceVersion") or ""),
    )


def _dedup_patch(event: Event) -> bytes:
    """The strategic-merge patch client-go sends for a repeated event.

    Go computes a two-way merge patch between the event and a copy with
    ``count`` 0, ``lastTimestamp`` at the Unix epoch and no message, which
    leaves exactly those three fields.  Only fields that carry a value are
    sent, as that diff would.
    """
    patch: dict[str, Any] = {}
    if event.get("count"):
        patch["count"] = event["count"]
    last_timestamp = event.get("lastTimestamp")
    if last_timestamp and last_timestamp != _EPOCH_TIMESTAMP:
        patch["lastTimestamp"] = last_timestamp
    if event.get("message"):
        patch["message"] = event["message"]
    return json.dumps(patch, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class CorrelatorOptions:
    """``CorrelatorOptions``: override the correlator's defaults; zero values mean "default"."""

    lru_cache_size: int = 0
    burst_size: int = 0
    qps: float = 0.0
    key_func: EventAggregatorKeyFunc | None = None
    message_func: EventAggregatorMessageFunc | None = None
    max_events: int = 0
    max_interval_in_seconds: int = 0
    clock: Clock | None = None
    spam_key_func: EventSpamKeyFunc | None = None

    def with_defaults(self) -> CorrelatorOptions:
        """``populateDefaults``: a copy with every zero field set to client-go's default."""
        return CorrelatorOptions(
            lru_cache_size=self.lru_cache_size or MAX_LRU_CACHE_ENTRIES,
            burst_size=self.burst_size or DEFAULT_SPAM_BURST,
            qps=self.qps or DEFAULT_SPAM_QPS,
            key_func=self.key_func or event_aggregator_by_reason_func,
            message_func=self.message_func or event_aggregator_by_reason_message_func,
            max_events=self.max_events or DEFAULT_AGGREGATE_MAX_EVENTS,
            max_interval_in_seconds=self.max_interval_in_seconds
            or DEFAULT_AGGREGATE_INTERVAL_IN_SECONDS,
            clock=self.clock or REAL_CLOCK,
            spam_key_func=self.spam_key_func or get_spam_key,
        )


@dataclass
class EventCorrelateResult:
    """``EventCorrelateResult``: what to write for one recorded event.

    ``skip``: drop it (spam).  Otherwise write ``event``: with ``patch``
    (strategic merge) when it repeats an existing event, else create it.
    """

    event: Event | None = None
    patch: bytes | None = None
    skip: bool = False


class EventCorrelator:
    """``EventCorrelator``: aggregate, de-duplicate and rate-limit events before they are written.

    One correlator per sink (``start_recording_to_sink`` makes one), so its
    caches describe what that sink has been sent.
    """

    def __init__(self, options: CorrelatorOptions | None = None) -> None:
        opts = (options or CorrelatorOptions()).with_defaults()
        self._filter = EventSourceObjectSpamFilter(
            opts.lru_cache_size, opts.burst_size, opts.qps, opts.clock, opts.spam_key_func
        )
        self._aggregator = EventAggregator(
            opts.lru_cache_size,
            opts.key_func,
            opts.message_func,
            opts.max_events,
            opts.max_interval_in_seconds,
            opts.clock,
        )
        self._logger = _EventLogger(opts.lru_cache_size)

    def event_correlate(self, new_event: Event) -> EventCorrelateResult:
        """``EventCorrelate``: run aggregation, de-duplication and the spam filter, in that order.

        The spam filter looks at the event after the other two stages, so
        an aggregate event is charged against the budget like any other.
        """
        if new_event is None:
            raise ValueError("event is nil")
        aggregate_event, cache_key = self._aggregator.event_aggregate(new_event)
        observed_event, patch = self._logger.event_observe(aggregate_event, cache_key)
        if self._filter.filter(observed_event):
            return EventCorrelateResult(skip=True)
        return EventCorrelateResult(event=observed_event, patch=patch)

    def update_state(self, event: Event) -> None:
        """``UpdateState``: remember the server's copy of an event just written."""
        self._logger.update_state(event)


def new_event_correlator(clock: Clock = REAL_CLOCK) -> EventCorrelator:
    """``NewEventCorrelator``: a correlator with every default, on ``clock``."""
    return EventCorrelator(CorrelatorOptions(clock=clock))


def new_event_correlator_with_options(options: CorrelatorOptions) -> EventCorrelator:
    """``NewEventCorrelatorWithOptions``."""
    return EventCorrelator(options)

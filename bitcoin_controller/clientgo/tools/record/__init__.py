"""Event recording, mirroring ``k8s.io/client-go/tools/record``.

==========================================  ==========================================
client-go                                   here
==========================================  ==========================================
``record.NewBroadcaster(opts...)``          :func:`new_broadcaster`
``EventBroadcaster.StartRecordingToSink``   :meth:`EventBroadcaster.start_recording_to_sink`
``EventBroadcaster.NewRecorder``            :meth:`EventBroadcaster.new_recorder`
``EventRecorder.Eventf``                    :meth:`EventRecorder.eventf`
``v1.EventSinkImpl``                        :class:`EventSinkImpl`
``EventCorrelator`` (events_cache.go)       :class:`EventCorrelator`
``record.FakeRecorder``                     :class:`FakeRecorder`
``watch.Broadcaster`` (apimachinery)        ``apimachinery.watch.mux.Broadcaster``
==========================================  ==========================================

Typical wiring in a controller::

    broadcaster = record.new_broadcaster()
    broadcaster.start_structured_logging()
    broadcaster.start_recording_to_sink(record.EventSinkImpl(clientset))
    recorder = broadcaster.new_recorder(record.EventSource(component="bitcoin-controller"))
    recorder.eventf(network, record.EVENT_TYPE_NORMAL, "Synced", "network %s synced", name)
"""

from .event import (
    DEFAULT_SLEEP_DURATION,
    MAX_QUEUED_EVENTS,
    MAX_TRIES_PER_EVENT,
    EventBroadcaster,
    EventRecorder,
    EventSink,
    EventSource,
    new_broadcaster,
)
from .events_cache import (
    DEFAULT_AGGREGATE_INTERVAL_IN_SECONDS,
    DEFAULT_AGGREGATE_MAX_EVENTS,
    DEFAULT_SPAM_BURST,
    DEFAULT_SPAM_QPS,
    MAX_LRU_CACHE_ENTRIES,
    CorrelatorOptions,
    EventAggregator,
    EventCorrelateResult,
    EventCorrelator,
    EventSourceObjectSpamFilter,
    event_aggregator_by_reason_func,
    event_aggregator_by_reason_message_func,
    get_event_key,
    get_spam_key,
    new_event_correlator,
    new_event_correlator_with_options,
)
from .fake import FakeRecorder
from .metrics import EVENTS_DROPPED
from .reference import get_reference
from .sink import EventSinkImpl
from .util import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING, generate_event_name, validate_event_type

__all__ = [
    "DEFAULT_AGGREGATE_INTERVAL_IN_SECONDS",
    "DEFAULT_AGGREGATE_MAX_EVENTS",
    "DEFAULT_SLEEP_DURATION",
    "DEFAULT_SPAM_BURST",
    "DEFAULT_SPAM_QPS",
    "EVENTS_DROPPED",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "MAX_LRU_CACHE_ENTRIES",
    "MAX_QUEUED_EVENTS",
    "MAX_TRIES_PER_EVENT",
    "CorrelatorOptions",
    "EventAggregator",
    "EventBroadcaster",
    "EventCorrelateResult",
    "EventCorrelator",
    "EventRecorder",
    "EventSink",
    "EventSinkImpl",
    "EventSource",
    "EventSourceObjectSpamFilter",
    "FakeRecorder",
    "event_aggregator_by_reason_func",
    "event_aggregator_by_reason_message_func",
    "generate_event_name",
    "get_event_key",
    "get_reference",
    "get_spam_key",
    "new_broadcaster",
    "new_event_correlator",
    "new_event_correlator_with_options",
    "validate_event_type",
]

"""Event recording: recorder, broadcaster and sink writes (client-go ``tools/record/event.go``).

The pieces and how an event travels::

    recorder.eventf(obj, "Warning", "NodeDown", "node %s is down", name)
        |  builds a core/v1 Event dict, then action_or_drop (never blocks)
        v
    watch.Broadcaster (1000 events, drop if full)  -- one distribution thread
        |                  |                    |
        v                  v                    v
    sink watcher      logging watcher      any start_event_watcher(fn)
        |  EventCorrelator: aggregate, de-duplicate, rate-limit
        v
    EventSink.create / patch   (retried on transport errors, up to 12 tries)

Recording must never slow the controller down or make it fail: the
recorder only enqueues, and a full queue drops the event (counted in
``events_dropped_total``).  Everything that can be slow -- talking to the
API server, retrying -- happens on the watchers' own threads.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ....apimachinery import metav1, watch
from ....apimachinery.errors import StatusError
from ....apimachinery.watch.mux import (
    DROP_IF_CHANNEL_FULL,
    Broadcaster,
    BroadcasterStoppedError,
    new_long_queue_broadcaster,
)
from ....utils.clock import REAL_CLOCK, Clock
from ...rest.body import RequestConstructionError
from .events_cache import CorrelatorOptions, EventCorrelator
from .metrics import EVENTS_DROPPED
from .reference import get_reference
from .util import generate_event_name, is_key_not_found_error, validate_event_type

__all__ = [
    "MAX_TRIES_PER_EVENT",
    "DEFAULT_SLEEP_DURATION",
    "MAX_QUEUED_EVENTS",
    "EventSource",
    "EventSink",
    "EventRecorder",
    "EventBroadcaster",
    "new_broadcaster",
]

_log = logging.getLogger(__name__)

#: ``maxTriesPerEvent``: attempts to write one event before giving up.
MAX_TRIES_PER_EVENT = 12
#: ``defaultSleepDuration``: seconds between attempts (the first is randomised).
DEFAULT_SLEEP_DURATION = 10.0
#: ``maxQueuedEvents``: capacity of the broadcaster's queues.
MAX_QUEUED_EVENTS = 1000

Event = dict[str, Any]


@dataclass(frozen=True)
class EventSource:
    """``v1.EventSource``: who reports (``component``: the controller) and where (``host``)."""

    component: str = ""
    host: str = ""

    def to_dict(self) -> dict[str, str]:
        """The JSON form, leaving out empty fields as Go's ``omitempty`` does."""
        source = {"component": self.component, "host": self.host}
        return {k: v for k, v in source.items() if v}


class EventSink(ABC):
    """``record.EventSink``: where events are stored.

    Must write each event into the event's own namespace.  Methods return
    the event as stored and raise
    :class:`~bitcoin_controller.apimachinery.errors.StatusError` for API
    failures and :class:`~bitcoin_controller.clientgo.rest.RequestConstructionError`
    for a request that cannot be built (neither is retried); any other
    exception is retried, as client-go's ``recordEvent`` does.
    """

    @abstractmethod
    def create(self, event: Event) -> Event:
        """Create the event."""

    @abstractmethod
    def update(self, event: Event) -> Event:
        """Replace the event."""

    @abstractmethod
    def patch(self, event: Event, data: bytes) -> Event:
        """Apply the strategic-merge patch ``data`` to the event named like ``event``."""


class EventRecorder(ABC):
    """``record.EventRecorder``: record events about objects.

    ``event_type`` is ``Normal`` or ``Warning``; ``reason`` a short
    UpperCamelCase word that tools can switch on; ``message`` is for humans.
    The event is created in the object's namespace (``default`` for
    cluster-scoped objects).  Recording never blocks and never raises.
    """

    @abstractmethod
    def event(self, obj: Any, event_type: str, reason: str, message: str) -> None:
        """Record an event about ``obj`` (a dict object or an ObjectReference dict)."""

    def eventf(self, obj: Any, event_type: str, reason: str, message_fmt: str, *args: Any) -> None:
        """Like :meth:`event`, formatting the message printf-style (``%s``, ``%d``)."""
        self.event(obj, event_type, reason, _sprintf(message_fmt, args))

    @abstractmethod
    def annotated_eventf(
        self,
        obj: Any,
        annotations: dict[str, str] | None,
        event_type: str,
        reason: str,
        message_fmt: str,
        *args: Any,
    ) -> None:
        """Like :meth:`eventf`, with ``annotations`` set on the Event's metadata."""


def _sprintf(message_fmt: str, args: tuple[Any, ...]) -> str:
    # Only format when there are arguments, so a literal "%" in a plain
    # message is left alone.
    return message_fmt % args if args else message_fmt


def _describe(event: Event) -> str:
    """An event for log lines: who and why, never the message (it may quote anything)."""
    meta = event.get("metadata") or {}
    ref = event.get("involvedObject") or {}
    return (
        f"{meta.get('namespace', '')}/{meta.get('name', '')} reason={event.get('reason', '')!r} "
        f"involvedObject={ref.get('kind', '')}/{ref.get('namespace', '')}/{ref.get('name', '')}"
    )


class _Recorder(EventRecorder):
    """``recorderImpl``: builds core/v1 Event dicts and hands them to the broadcaster."""

    def __init__(self, source: EventSource, broadcaster: Broadcaster, clock: Clock) -> None:
        self._source = source
        self._broadcaster = broadcaster
        self._clock = clock

    def event(self, obj: Any, event_type: str, reason: str, message: str) -> None:
        self._generate_event(obj, None, event_type, reason, message)

    def annotated_eventf(
        self,
        obj: Any,
        annotations: dict[str, str] | None,
        event_type: str,
        reason: str,
        message_fmt: str,
        *args: Any,
    ) -> None:
        self._generate_event(obj, annotations, event_type, reason, _sprintf(message_fmt, args))

    def _generate_event(
        self,
        obj: Any,
        annotations: dict[str, str] | None,
        event_type: str,
        reason: str,
        message: str,
    ) -> None:
        try:
            ref = get_reference(obj)
        except ValueError as err:
            _log.error("could not construct reference (%s); will not report event %s %s", err,
                       event_type, reason)
            return
        if not validate_event_type(event_type):
            _log.error("Unsupported event type: %r", event_type)
            return
        event = self._make_event(ref, annotations, event_type, reason, message)
        try:
            sent = self._broadcaster.action_or_drop(watch.ADDED, event)
        except BroadcasterStoppedError as err:
            _log.error("unable to record event: %s (will not retry!)", err)
            return
        if not sent:
            EVENTS_DROPPED.inc()
            _log.error("unable to record event: too many queued events, dropped event %s",
                       _describe(event))

    def _make_event(
        self,
        ref: dict[str, Any],
        annotations: dict[str, str] | None,
        event_type: str,
        reason: str,
        message: str,
    ) -> Event:
        wall = self._clock.wall()
        timestamp = metav1.format_time(wall)
        metadata: dict[str, Any] = {
            "name": generate_event_name(str(ref.get("name") or ""), wall),
            "namespace": ref.get("namespace") or "default",
        }
        if annotations:
            metadata["annotations"] = dict(annotations)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": metadata,
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": event_type,
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
            "source": self._source.to_dict(),
            # Go's ReportingController field is spelled reportingComponent in JSON.
            "reportingComponent": self._source.component,
            "reportingInstance": self._source.host,
        }


class EventBroadcaster:
    """``record.EventBroadcaster``: fan recorded events out to sinks, logs and watchers.

    Built on a long-queue :class:`~bitcoin_controller.apimachinery.watch.mux.Broadcaster`
    of 1000 events that drops when full, so neither recorders nor a slow sink
    can block the controller.

    ``clock`` times the events, the correlator (unless ``correlator_options``
    names its own clock) and the retry sleeps; ``rand`` picks the first retry
    delay.  ``broadcaster`` replaces the default watch broadcaster (Go's
    internal ``newEventBroadcaster``); both are for tests.
    """

    def __init__(
        self,
        sleep_duration: float = DEFAULT_SLEEP_DURATION,
        correlator_options: CorrelatorOptions | None = None,
        clock: Clock = REAL_CLOCK,
        *,
        rand: Callable[[], float] = random.random,
        broadcaster: Broadcaster | None = None,
    ) -> None:
        if broadcaster is None:
            broadcaster = new_long_queue_broadcaster(MAX_QUEUED_EVENTS, DROP_IF_CHANNEL_FULL)
        self._broadcaster = broadcaster
        self._sleep_duration = sleep_duration
        self._correlator_options = correlator_options or CorrelatorOptions()
        self._clock = clock
        self._rand = rand
        # Set by shutdown(): aborts retry sleeps (Go's cancelationCtx).
        self._cancelled = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def broadcaster(self) -> Broadcaster:
        """The underlying ``watch.Broadcaster`` (Go embeds it in the event broadcaster)."""
        return self._broadcaster

    # -- consumers ------------------------------------------------------------
    def start_event_watcher(self, event_handler: Callable[[Event], None]) -> watch.Interface:
        """Call ``event_handler(event)`` on a new thread for every event recorded from now on.

        Returns the watch; ``stop()`` it to end this consumer.  A handler
        that raises is logged and the consumer carries on (Go would crash
        the process).  Handlers share event dicts: copy before changing one.
        """
        watcher = self._broadcaster.watch()
        thread = threading.Thread(
            target=self._consume, args=(watcher, event_handler), name="event-watcher", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return watcher

    @staticmethod
    def _consume(watcher: watch.Interface, event_handler: Callable[[Event], None]) -> None:
        for watch_event in watcher:
            event = watch_event.get("object")
            if not isinstance(event, dict):
                continue  # everything sent here is local; nothing else is expected
            try:
                event_handler(event)
            except Exception:
                _log.exception("event handler failed for %s", _describe(event))

    def start_recording_to_sink(self, sink: EventSink) -> watch.Interface:
        """Write every event to ``sink``, through a correlator of its own (§ events_cache)."""
        options = self._correlator_options
        if options.clock is None:
            options = CorrelatorOptions(**{**vars(options), "clock": self._clock})
        correlator = EventCorrelator(options)
        return self.start_event_watcher(lambda event: self._record_to_sink(sink, event, correlator))

    def start_logging(self, logf: Callable[..., Any]) -> watch.Interface:
        """Log every event with ``logf(format, *args)``, e.g. ``logging.getLogger(...).info``."""

        def log_event(event: Event) -> None:
            logf("Event(%r): type: '%s' reason: '%s' %s", event.get("involvedObject"),
                 event.get("type"), event.get("reason"), event.get("message"))

        return self.start_event_watcher(log_event)

    def start_structured_logging(self, verbosity: int = 0, logger: Any = None) -> watch.Interface:
        """Log every event as a structlog ``"Event occurred"`` entry.

        ``verbosity`` stands in for klog's V-level: 0 logs at info, higher at
        debug.  Only the reference, type, reason and message are logged;
        events carry no other data, and a message is whatever the
        controller chose to say.
        """
        log = logger if logger is not None else structlog.get_logger("bitcoin_controller.events")
        emit = log.info if verbosity <= 0 else log.debug

        def log_event(event: Event) -> None:
            ref = event.get("involvedObject") or {}
            namespace, name = ref.get("namespace") or "", ref.get("name") or ""
            emit(
                "Event occurred",
                object=f"{namespace}/{name}" if namespace else name,
                fieldPath=ref.get("fieldPath", ""),
                kind=ref.get("kind", ""),
                apiVersion=ref.get("apiVersion", ""),
                type=event.get("type"),
                reason=event.get("reason"),
                message=event.get("message"),
            )

        return self.start_event_watcher(log_event)

    # -- producers ------------------------------------------------------------
    def new_recorder(self, source: EventSource) -> EventRecorder:
        """An :class:`EventRecorder` that reports as ``source`` through this broadcaster."""
        return _Recorder(source, self._broadcaster, self._clock)

    # -- lifecycle ------------------------------------------------------------
    def shutdown(self, timeout: float = 0.0) -> None:
        """Stop: deliver queued events to the watchers, abort retry sleeps, end the consumers.

        After shutdown each still-buffered event gets a single write
        attempt, on the consumers' threads.  Like Go, this does not wait for
        them -- unless ``timeout`` (real seconds, in total) is given: a
        process about to exit can flush its last events, but a dead API
        server cannot hold the exit up for longer than that.
        """
        self._broadcaster.shutdown()
        self._cancelled.set()
        if timeout <= 0:
            return
        with self._lock:
            threads = list(self._threads)
        give_up_at = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, give_up_at - time.monotonic()))

    # -- writing to a sink ----------------------------------------------------
    def _record_to_sink(self, sink: EventSink, event: Event, correlator: EventCorrelator) -> None:
        # Other watchers share this dict; the correlator works on its own copy.
        result = correlator.event_correlate(metav1.deep_copy(event))
        if result.skip or result.event is None:
            return
        tries = 0
        while True:
            update_existing = int(result.event.get("count") or 0) > 1
            if _record_event(sink, result.event, result.patch, update_existing, correlator):
                return
            tries += 1
            if tries >= MAX_TRIES_PER_EVENT:
                _log.error("Unable to write event %s (retry limit exceeded!)", _describe(event))
                return
            # Randomise the first sleep so that many clients do not retry in step
            # after an API server outage.
            delay = self._sleep_duration
            if tries == 1:
                delay *= self._rand()
            if self._clock.wait_event(self._cancelled, delay):
                _log.error("Unable to write event %s (broadcaster is shut down)", _describe(event))
                return


def _record_event(
    sink: EventSink,
    event: Event,
    patch: bytes | None,
    update_existing: bool,
    correlator: EventCorrelator,
) -> bool:
    """``recordEvent``: one write attempt.  True when done (written or given up), False to retry."""
    new_event: Event | None = None
    err: Exception | None = None
    if update_existing:
        try:
            new_event = sink.patch(event, patch or b"{}")
        except Exception as e:  # classified below
            err = e
    # The event may have expired on the server since we last wrote it: create it again.
    if not update_existing or is_key_not_found_error(err):
        event.get("metadata", {}).pop("resourceVersion", None)
        try:
            new_event, err = sink.create(event), None
        except Exception as e:  # classified below
            err = e
    if err is None:
        # Remember the server's name, resourceVersion and count for the next repeat.
        correlator.update_state(new_event if isinstance(new_event, dict) else event)
        return True
    if isinstance(err, StatusError):
        # The server understood and refused (already exists, namespace terminating,
        # invalid...): the same request would be refused again.
        expected = err.reason == "AlreadyExists" or _namespace_terminating(err)
        level = logging.DEBUG if expected else logging.ERROR
        _log.log(level, "Server rejected event %s: %s (will not retry!)", _describe(event), err)
        return True
    if isinstance(err, RequestConstructionError):
        # The request cannot be built, now or later.  Only this type: as in Go,
        # any other error (transport, a garbled answer, a ValueError from deep
        # in a library) may be transient and is retried.
        _log.error("Unable to construct event %s: %s (will not retry!)", _describe(event), err)
        return True
    _log.error("Unable to write event %s: %s (may retry after sleeping)", _describe(event), err)
    return False


def _namespace_terminating(err: StatusError) -> bool:
    causes = err.details.get("causes") or []
    return any(cause.get("type") == "NamespaceTerminating" for cause in causes)


def new_broadcaster(
    sleep_duration: float = DEFAULT_SLEEP_DURATION,
    correlator_options: CorrelatorOptions | None = None,
    clock: Clock = REAL_CLOCK,
) -> EventBroadcaster:
    """``record.NewBroadcaster`` with its options (sleep duration, correlator options)."""
    return EventBroadcaster(sleep_duration, correlator_options, clock)

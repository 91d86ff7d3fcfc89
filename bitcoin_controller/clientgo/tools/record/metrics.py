"""Prometheus metrics of event recording.

client-go only logs a dropped event; a counter makes the loss visible on
the controller's ``/metrics`` endpoint, where a steadily rising value means
the controller produces events faster than the API server takes them.
The counter lives on the process-wide registry
(:data:`bitcoin_controller.componentbase.metrics.legacyregistry.REGISTRY`).
"""

from __future__ import annotations

from prometheus_client import Counter

from ....componentbase.metrics.legacyregistry import REGISTRY

__all__ = ["EVENTS_DROPPED"]

#: ``events_dropped_total``: events a recorder discarded because the
#: broadcaster's incoming queue (1000 events) was full.
EVENTS_DROPPED = Counter(
    "events_dropped",
    "Events the recorder dropped because the event broadcaster's queue was full.",
    registry=REGISTRY,
)
